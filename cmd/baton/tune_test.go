package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTuneRefusesBadWatchFlags before any tuning (which takes minutes).
func TestTuneRefusesBadWatchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"w", "--watch", "--watch-window", "0"},
		{"w", "--watch", "--watch-misses", "-1"},
		{"w", "--watch", "--watch-poll", "0s"},
	} {
		cmd := tuneCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "want them positive") {
			t.Errorf("%v: error %v, want the watch flags refused", args, err)
		}
	}
}
