package daemon

import (
	"testing"

	"baton.dev/baton/worker"
)

// TestAllocatedFollowsLive: what a heartbeat reports as allocated (kept as
// sandboxes come and go) is the sum over the live sandboxes, through
// additions, a replacement of the same ID and removals, known or not.
func TestAllocatedFollowsLive(t *testing.T) {
	sb := func(id string, cpu, mem int64) worker.Sandbox {
		return worker.Sandbox{ID: id, CPUMilli: cpu, MemoryBytes: mem}
	}
	steps := []struct {
		name   string
		add    *worker.Sandbox
		forget string
	}{
		{name: "a first", add: new(sb("a", 250, 128))},
		{name: "b beside it", add: new(sb("b", 500, 256))},
		{name: "a again, larger", add: new(sb("a", 1000, 512))},
		{name: "an unknown one forgotten", forget: "zz"},
		{name: "b forgotten", forget: "b"},
		{name: "b forgotten twice", forget: "b"},
		{name: "a forgotten", forget: "a"},
	}
	d := &Daemon{live: map[string]worker.Sandbox{}}
	for _, st := range steps {
		if st.add != nil {
			d.trackLocked(*st.add)
		} else {
			d.untrackLocked(st.forget)
		}
		var cpu, mem int64
		for _, s := range d.live {
			cpu, mem = cpu+s.CPUMilli, mem+s.MemoryBytes
		}
		if d.allocatedCPUMilli != cpu || d.allocatedMemoryBytes != mem {
			t.Fatalf("after %s: allocated %dm, %d B; the live sandboxes hold %dm, %d B", st.name, d.allocatedCPUMilli, d.allocatedMemoryBytes, cpu, mem)
		}
	}
}
