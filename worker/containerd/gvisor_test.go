package containerd_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"baton.dev/baton/worker"
	"baton.dev/baton/worker/sandboxtest"
)

const gvisorSubnet = "10.179.14.0/24"

// TestIsolationIsRefusedClearly: gVisor cannot run under this runtime yet
// (see runtimeFor), so asking for it fails at once with the reason and
// leaves nothing behind; an unknown isolation is refused too.
func TestIsolationIsRefusedClearly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := openWith(t, testConfig(t, gvisorSubnet))
	_, err := rt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("gv"), Function: "t/w/gv", Image: sandboxtest.ImageOK, Isolation: worker.IsolationGVisor})
	if !errors.Is(err, worker.ErrUnsupported) || !strings.Contains(err.Error(), "runsc") {
		t.Errorf("gvisor: %v, want ErrUnsupported naming runsc", err)
	}
	if _, err := rt.Create(ctx, worker.SandboxSpec{ID: sandboxtest.NewID("bad"), Function: "t/w/x", Image: sandboxtest.ImageOK, Isolation: "kata"}); err == nil || !strings.Contains(err.Error(), "isolation") {
		t.Errorf("an unknown isolation: %v", err)
	}
	if left, err := rt.List(ctx); err != nil || len(left) != 0 {
		t.Errorf("left behind: %v, %v", left, err)
	}
}
