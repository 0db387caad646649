package house_test

import (
	"os/exec"
	"strings"
	"testing"

	"baton.dev/baton/internal/testenv"
)

const module = "baton.dev/baton/"

// TestDependencyDirection runs `go list -deps` on each group of packages
// and checks that none of them depends on what the house forbids it.
func TestDependencyDirection(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	io := []string{"github.com/nats-io/", "github.com/jackc/", "github.com/go-chi/", "github.com/prometheus/", "github.com/containerd/"}
	tests := []struct {
		patterns  []string
		forbidden []string // import path prefixes; one ending in $ is a whole path
	}{
		// The decisions and the simulators that replay them: no I/O.
		{[]string{"./scheduler/..."}, append([]string{module + "orchestrator", module + "worker", module + "cmd", module + "internal/"}, io...)},
		// A leaf: a sleep and a schedule.
		{[]string{"./backoff/..."}, append([]string{module + "orchestrator", module + "scheduler", module + "worker", module + "workflow", module + "bayes", module + "cmd", module + "internal/"}, io...)},
		{[]string{"./bayes/...", "./workflow/..."}, []string{module + "orchestrator", module + "scheduler", module + "worker", module + "cmd", module + "internal/"}},
		{[]string{"./worker/..."}, []string{module + "orchestrator", module + "scheduler", module + "cmd"}},
		// The API's types and its client: a client links none of the server.
		{[]string{"./orchestrator/api/...", "./orchestrator/client/..."}, append([]string{module + "orchestrator$", module + "orchestrator/history", module + "scheduler/tune", module + "scheduler/prewarm", module + "cmd", module + "internal/"}, io...)},
		{[]string{"./orchestrator/..."}, []string{module + "cmd", module + "internal/standalone", module + "internal/simcluster", module + "internal/bench"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.patterns, " "), func(t *testing.T) {
			cmd := exec.Command("go", append([]string{"list", "-deps", "-test=false", "-f", "{{.ImportPath}}"}, tt.patterns...)...)
			cmd.Dir = root
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			for _, dep := range strings.Fields(string(out)) {
				for _, f := range tt.forbidden {
					exact, ok := strings.CutSuffix(f, "$")
					if ok && dep == exact || !ok && strings.HasPrefix(dep, f) {
						t.Errorf("%v depends on %s", tt.patterns, dep)
					}
				}
			}
		})
	}
}
