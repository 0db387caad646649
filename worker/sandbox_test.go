package worker

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSandboxSpecPrivileges(t *testing.T) {
	base := SandboxSpec{ID: "sb-1", Function: "t/w/f", Image: "baton.local/fn:v1"}
	tests := []struct {
		name    string
		p       Privileges
		wantErr string
	}{
		{"none", Privileges{}, ""},
		{"everything", Privileges{Egress: EgressInternet, Capabilities: []string{"NET_BIND_SERVICE", "NET_RAW"}, RunAsRoot: true}, ""},
		{"unknown egress", Privileges{Egress: "intranet"}, `sandbox sb-1: egress "intranet": want "internet" or nothing`},
		{"CAP_ prefix", Privileges{Capabilities: []string{"CAP_NET_RAW"}}, `sandbox sb-1: capability "CAP_NET_RAW": want a name like NET_BIND_SERVICE, without CAP_`},
		{"not a name", Privileges{Capabilities: []string{"net_raw"}}, `capability "net_raw": want a name`},
		{"empty name", Privileges{Capabilities: []string{""}}, `capability "": want a name`},
		{"twice", Privileges{Capabilities: []string{"NET_RAW", "NET_RAW"}}, `capability "NET_RAW" asked for twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			spec.Privileges = tt.p
			err := spec.Validate()
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}

	// On the wire the privileges are fields of the spec, left out when
	// none is granted.
	plain, _ := json.Marshal(base)
	if s := string(plain); strings.Contains(s, "egress") || strings.Contains(s, "capabilities") || strings.Contains(s, "runAsRoot") {
		t.Errorf("a spec without privileges: %s", s)
	}
	spec := base
	spec.Privileges = Privileges{Egress: EgressInternet, Capabilities: []string{"NET_RAW"}, RunAsRoot: true}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"egress":"internet","capabilities":["NET_RAW"],"runAsRoot":true`) {
		t.Errorf("on the wire: %s", b)
	}
	var back SandboxSpec
	if err := json.Unmarshal(b, &back); err != nil || !back.Privileges.Equal(spec.Privileges) {
		t.Errorf("decoded %+v, %v; want %+v", back.Privileges, err, spec.Privileges)
	}
}
