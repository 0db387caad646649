package prewarm

import "testing"

// TestSweeps checks that every sweep has at least four points, that their
// names are distinct and read back by New as the same policy, and that
// the coarse sweeps keep four or five of each.
func TestSweeps(t *testing.T) {
	for _, tt := range []struct {
		name          string
		sweeps        []Sweep
		min, max, all int
	}{
		{"full", Sweeps(), 4, 10, 28},
		{"coarse", CoarseSweeps(), 4, 5, 17},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]bool{}
			for _, s := range tt.sweeps {
				if n := len(s.Points); n < tt.min || n > tt.max {
					t.Errorf("%s: %d points, want %d-%d", s.Family, n, tt.min, tt.max)
				}
				for _, p := range s.Points {
					name := p.Policy.Name()
					if seen[name] {
						t.Errorf("%s twice", name)
					}
					seen[name] = true
					back, err := New(name)
					if err != nil || back.Name() != name {
						t.Errorf("New(%q) = %v, %v", name, back, err)
					}
				}
			}
			if len(seen) != tt.all {
				t.Errorf("%d policies, want %d", len(seen), tt.all)
			}
		})
	}
}
