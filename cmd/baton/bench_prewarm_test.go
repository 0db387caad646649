package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBenchPrewarmRefusesBadInput: bad flags are refused, naming the flag,
// before any sandbox is started.
func TestBenchPrewarmRefusesBadInput(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--policy", "oracle"}, `flag --policy: pre-warm policy "oracle" cannot run live`},
		{[]string{"--speedup", "0.5"}, "flag --speedup 0.5"},
		{[]string{"--minutes", "0"}, "--minutes 0"},
		{[]string{"--trace", "/nonexistent/trace"}, "flag --trace"},
		{[]string{"-o", "yaml"}, `flag -o "yaml"`},
	} {
		cmd := benchPrewarmCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}
