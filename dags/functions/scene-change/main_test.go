package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/video"
)

func TestHandleFindsACut(t *testing.T) {
	const w, h = 16, 16
	dark, light := bytes.Repeat([]byte{20}, w*h), bytes.Repeat([]byte{220}, w*h)
	checker := func(base byte) []byte {
		f := bytes.Repeat([]byte{base}, w*h)
		for i := range f {
			if (i/w/4+i%w/4)%2 == 0 {
				f[i] = 255 - base
			}
		}
		return f
	}
	seg := video.Segment{Index: 2, FirstFrame: 10, Width: w, Height: h, Frames: [][]byte{checker(0), checker(0), dark, light}}
	in, _ := json.Marshal(seg)
	r := fnkittest.Output[response](t, handle, in)
	if len(r.Cuts) != 1 || r.Cuts[0] != 12 {
		t.Errorf("cuts %v, want [12]", r.Cuts)
	}
	if r.Frames != 4 || len(r.FirstHist) != Bins {
		t.Errorf("got %+v", r)
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if r.Frames == 0 || r.MeanLuma <= 0 {
		t.Errorf("got %+v", r)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no frames", Input: `{"width": 8, "height": 8, "frames": []}`, WantMention: "no frames"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
