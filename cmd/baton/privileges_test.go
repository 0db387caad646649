package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/standalone"
)

// TestAllowFlags: `baton up` and `baton orchestrator` take the operator's
// allowances, --allow-capability repeated or comma-separated.
func TestAllowFlags(t *testing.T) {
	for _, cmd := range []*cobra.Command{upCmd(), orchestratorCmd()} {
		for _, name := range []string{"allow-capability", "allow-root", "allow-egress"} {
			if cmd.Flags().Lookup(name) == nil {
				t.Errorf("baton %s has no --%s", cmd.Name(), name)
			}
		}
	}
	cmd := &cobra.Command{}
	var o standalone.Orchestration
	orchestrationFlags(cmd.Flags(), &o)
	if err := cmd.ParseFlags([]string{"--allow-capability", "NET_BIND_SERVICE", "--allow-capability", "NET_RAW,SYS_TIME", "--allow-egress"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"NET_BIND_SERVICE", "NET_RAW", "SYS_TIME"}; !slices.Equal(o.Allow.Capabilities, want) || !o.Allow.Egress || o.Allow.Root {
		t.Errorf("allowances %+v, want capabilities %v and egress", o.Allow, want)
	}
}

// TestUpRefusesAnUnknownAllowedCapability before it starts anything.
func TestUpRefusesAnUnknownAllowedCapability(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"CAP_NET_RAW", `--allow-capability): write capability "CAP_NET_RAW" without the CAP_ prefix: "NET_RAW"`},
		{"NET_BIND", `--allow-capability): unknown capability "NET_BIND" (did you mean "NET_BIND_SERVICE"?)`},
	} {
		cmd := upCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"--data", t.TempDir(), "--samples=false", "--allow-capability", tc.flag})
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--allow-capability %s: %v, want refused with %q", tc.flag, err, tc.want)
		}
	}
}
