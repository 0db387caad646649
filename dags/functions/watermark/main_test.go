package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/video"
)

func TestHandleHidesADetectableMark(t *testing.T) {
	in := fnkittest.Fixture(t)
	r := fnkittest.Output[video.Segment](t, handle, in)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	// Correlate the mark coefficient with the key: the mark is there.
	corr := 0.0
	for i, f := range r.Frames {
		for by := range r.Height / 8 {
			for bx := range r.Width / 8 {
				b := video.Load(f, r.Width, bx, by)
				c := video.DCT(&b)
				corr += c[markCoefficient] * keyBit(r.FirstFrame+i, bx, by)
			}
		}
	}
	if mean := corr / float64(r.Stats.WatermarkedBlocks); mean < Strength/2 {
		t.Errorf("mean correlation with the key %.2f, want about %d", mean, Strength)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "odd size", Input: `{"width": 10, "height": 8, "frames": ["AAAA"]}`, WantMention: "multiples of 8"},
		{Name: "no frames", Input: `{"width": 8, "height": 8, "frames": []}`, WantMention: "no frames"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
