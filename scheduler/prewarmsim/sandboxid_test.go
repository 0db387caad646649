package prewarmsim

import (
	"fmt"
	"testing"
)

// TestSandboxIDs: the IDs are the numbers zero-padded to twelve digits,
// in batches or out of order, and one of a batch made allocates nothing.
func TestSandboxIDs(t *testing.T) {
	var ids sandboxIDs
	for _, n := range []int{0, 1, 63, 64, 65, 200, 7, 999999999999} {
		if got, want := ids.id(n), fmt.Sprintf("%012d", n); got != want {
			t.Errorf("id(%d) = %q, want %q", n, got, want)
		}
	}
	for n := range 5000 { // every carry up to 5000, in batches
		if got, want := ids.id(n), fmt.Sprintf("%012d", n); got != want {
			t.Fatalf("id(%d) = %q, want %q", n, got, want)
		}
	}
	ids.id(1000)
	n := 1000
	if allocs := testing.AllocsPerRun(60, func() { n++; ids.id(n) }); allocs != 0 {
		t.Errorf("%v allocations an ID within a batch, want 0", allocs)
	}
}
