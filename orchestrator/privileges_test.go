package orchestrator

import (
	"slices"
	"strings"
	"testing"

	"baton.dev/baton/worker"
	"baton.dev/baton/workflow"
)

// privilegedYAML asks for egress, NET_BIND_SERVICE and SYS_ADMIN for
// function b, and root for function a.
const privilegedYAML = `apiVersion: baton.dev/v1
kind: Workflow
metadata: {name: p}
spec:
  network: {egress: internet}
  functions:
    a:
      image: baton.local/fn:v1
      resources: {cpu: 100m, memory: 64Mi}
      security: {runAsRoot: true}
    b:
      image: baton.local/fn:v1
      resources: {cpu: 100m, memory: 64Mi}
      security:
        capabilities: [NET_BIND_SERVICE, SYS_ADMIN]
  stages:
    - {name: one, function: a}
    - {name: two, function: b, needs: [one]}
`

func TestRefusedPrivileges(t *testing.T) {
	wf, err := workflow.Parse("p.yaml", []byte(privilegedYAML))
	if err != nil {
		t.Fatal(err)
	}
	egress := `p.yaml:5:21: spec.network.egress: egress "internet" is not allowed on this cluster: its sandboxes reach nothing but the orchestrator's calls (the operator allows egress with --allow-egress)`
	root := `p.yaml:10:29: spec.functions.a.security.runAsRoot: running as root is not allowed on this cluster: functions run as their image's user, never uid 0 (the operator allows root with --allow-root)`
	bind := func(allows string) string {
		return `p.yaml:15:24: spec.functions.b.security.capabilities[0]: capability NET_BIND_SERVICE is not allowed on this cluster (` + allows + `; the operator allows one with --allow-capability NET_BIND_SERVICE)`
	}
	admin := func(allows string) string {
		return `p.yaml:15:42: spec.functions.b.security.capabilities[1]: capability SYS_ADMIN is not allowed on this cluster (` + allows + `; the operator allows one with --allow-capability SYS_ADMIN)`
	}
	tests := []struct {
		name    string
		allowed Privileges
		want    []string
	}{
		{"nothing allowed", Privileges{}, []string{egress, root, bind("it allows none"), admin("it allows none")}},
		{"egress allowed", Privileges{Egress: true}, []string{root, bind("it allows none"), admin("it allows none")}},
		{"one capability allowed", Privileges{Capabilities: []string{"NET_BIND_SERVICE", "NET_RAW"}, Root: true},
			[]string{egress, admin("it allows NET_BIND_SERVICE, NET_RAW")}},
		{"everything allowed", Privileges{Capabilities: []string{"SYS_ADMIN", "NET_BIND_SERVICE"}, Root: true, Egress: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := refusedPrivileges(tt.allowed, "p.yaml", wf)
			lines := make([]string, len(got))
			for i, p := range got {
				lines[i] = p.Error()
			}
			if !slices.Equal(lines, tt.want) {
				t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}

	// Nothing asked, nothing refused, nothing granted.
	plain, err := workflow.Parse("q.yaml", []byte(strings.NewReplacer("  network: {egress: internet}\n", "",
		"      security: {runAsRoot: true}\n", "", "      security:\n        capabilities: [NET_BIND_SERVICE, SYS_ADMIN]\n", "").Replace(privilegedYAML)))
	if err != nil {
		t.Fatal(err)
	}
	if got := refusedPrivileges(Privileges{}, "q.yaml", plain); len(got) != 0 {
		t.Errorf("a workflow asking for nothing: refused %v", got)
	}
	for _, f := range plain.Spec.Functions {
		if p := sandboxPrivileges(plain, f); !p.IsZero() {
			t.Errorf("function %s: granted %+v, want nothing", f.Name, p)
		}
	}
	got := sandboxPrivileges(wf, wf.Spec.Functions["b"])
	want := worker.Privileges{Egress: worker.EgressInternet, Capabilities: []string{"NET_BIND_SERVICE", "SYS_ADMIN"}}
	if !got.Equal(want) {
		t.Errorf("function b: granted %+v, want %+v", got, want)
	}
	if got := sandboxPrivileges(wf, wf.Spec.Functions["a"]); !got.RunAsRoot || got.Egress != worker.EgressInternet || len(got.Capabilities) != 0 {
		t.Errorf("function a: granted %+v, want root and egress", got)
	}
}

func TestPrivilegesValidate(t *testing.T) {
	tests := []struct {
		caps    []string
		wantErr string
	}{
		{nil, ""},
		{[]string{"NET_BIND_SERVICE", "NET_RAW"}, ""},
		{[]string{"CAP_NET_RAW"}, `allowed capabilities (--allow-capability): write capability "CAP_NET_RAW" without the CAP_ prefix: "NET_RAW"`},
		{[]string{"NET_BIND"}, `allowed capabilities (--allow-capability): unknown capability "NET_BIND"`},
	}
	for _, tt := range tests {
		err := Privileges{Capabilities: tt.caps}.Validate()
		if (err == nil) != (tt.wantErr == "") || err != nil && !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("Validate(%v) = %v, want %q", tt.caps, err, tt.wantErr)
		}
	}
}

// TestFunctionConfigComparesPrivileges: a redeploy that changes only what
// the sandboxes are granted is a new configuration (its old sandboxes are
// retired).
func TestFunctionConfigComparesPrivileges(t *testing.T) {
	base := FunctionConfig{Key: "t/w/f", Image: "i", CPUMilli: 100, MemoryBytes: 64 << 20}
	for _, p := range []worker.Privileges{
		{Egress: worker.EgressInternet},
		{Capabilities: []string{"NET_RAW"}},
		{RunAsRoot: true},
	} {
		changed := base
		changed.Privileges = p
		if base.equal(changed) || changed.equal(base) {
			t.Errorf("%+v counts as the same configuration as none", p)
		}
		if !changed.equal(changed) {
			t.Errorf("%+v differs from itself", p)
		}
	}
}
