package video

import (
	"math"
	"testing"
)

func TestDCTRoundTrip(t *testing.T) {
	var b Block
	for i := range b {
		b[i] = float64((i*37)%255) - 128
	}
	c := DCT(&b)
	back := IDCT(&c)
	for i := range b {
		if math.Abs(back[i]-b[i]) > 1e-9 {
			t.Fatalf("sample %d: %v after a round trip, want %v", i, back[i], b[i])
		}
	}
	var flat Block
	for i := range flat {
		flat[i] = 10
	}
	if c := DCT(&flat); math.Abs(c[0]-80) > 1e-9 || math.Abs(c[1]) > 1e-9 {
		t.Errorf("flat block: DC %v, AC %v; want 80, 0", c[0], c[1])
	}
}

func TestSegmentCheck(t *testing.T) {
	tests := []struct {
		name string
		s    Segment
		ok   bool
	}{
		{"good", Segment{Width: 8, Height: 8, Frames: [][]byte{make([]byte, 64)}}, true},
		{"not a multiple of 8", Segment{Width: 9, Height: 8, Frames: [][]byte{make([]byte, 72)}}, false},
		{"no frames", Segment{Width: 8, Height: 8}, false},
		{"short frame", Segment{Width: 8, Height: 8, Frames: [][]byte{make([]byte, 63)}}, false},
	}
	for _, tt := range tests {
		if err := tt.s.Check(); (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}
