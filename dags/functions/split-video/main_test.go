package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleSplitsEveryFrameOnce(t *testing.T) {
	r := fnkittest.Output[response](t, handle, []byte(`{"seed": 3, "width": 64, "height": 48, "frames": 10, "segment_frames": 4, "scenes": 2}`))
	if len(r.Segments) != 3 || r.Frames != 10 {
		t.Fatalf("%d segments of %d frames", len(r.Segments), r.Frames)
	}
	next := 0
	for i, s := range r.Segments {
		if s.Index != i || s.FirstFrame != next {
			t.Errorf("segment %d: index %d, first frame %d, want %d", i, s.Index, s.FirstFrame, next)
		}
		if err := s.Check(); err != nil {
			t.Errorf("segment %d: %v", i, err)
		}
		next += len(s.Frames)
	}
	if next != 10 {
		t.Errorf("segments hold %d frames", next)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "odd width", Input: `{"seed": 1, "width": 50, "height": 48, "frames": 4, "segment_frames": 2, "scenes": 1}`, WantMention: "width"},
		{Name: "no frames", Input: `{"seed": 1, "width": 64, "height": 48, "frames": 0, "segment_frames": 2, "scenes": 1}`, WantMention: "frames"},
		{Name: "more scenes than frames", Input: `{"seed": 1, "width": 64, "height": 48, "frames": 4, "segment_frames": 2, "scenes": 5}`, WantMention: "scenes"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
