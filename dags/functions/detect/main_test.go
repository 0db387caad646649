package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/raster"
	"baton.dev/baton/dags/functions/raster/rastertest"
)

func TestHandleFindsEveryDrawnObject(t *testing.T) {
	in := fnkittest.Fixture(t)
	r := fnkittest.Output[response](t, handle, in)
	var req request
	if err := json.Unmarshal(in, &req); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Source, req.Source) || !bytes.Equal(r.Image.Pixels, req.Image.Pixels) {
		t.Error("source or image not passed on unchanged")
	}
	if r.Threshold < sweepFrom || r.Threshold > sweepTo {
		t.Errorf("threshold %d outside the sweep %d..%d", r.Threshold, sweepFrom, sweepTo)
	}
	src := rastertest.DecodeScene(t, r.Source)
	if len(r.Regions) != len(src.Truth) {
		t.Fatalf("%d regions for %d drawn objects", len(r.Regions), len(src.Truth))
	}
	for _, obj := range src.Truth {
		x, y := obj.X/src.Scale, obj.Y/src.Scale
		found := 0
		for _, g := range r.Regions {
			if x >= g.BBox[0] && x <= g.BBox[2] && y >= g.BBox[1] && y <= g.BBox[3] {
				found++
			}
		}
		if found != 1 {
			t.Errorf("object centred at (%d, %d) lies in %d region boxes, want 1", x, y, found)
		}
	}
	for i, g := range r.Regions {
		if g.ID != i+1 || g.Area <= 0 || g.Perimeter <= 0 || g.Perimeter > g.Area {
			t.Errorf("region %d: implausible %+v", i, g)
		}
	}
}

func TestLabelFindsKnownComponents(t *testing.T) {
	// Two squares (one touching the right border) and a lone pixel, at 200
	// on 10; a thin diagonal pair that 4-connectivity keeps apart.
	const w, h = 12, 8
	img := raster.Gray{Width: w, Height: h, Pixels: bytes.Repeat([]byte{10}, w*h)}
	set := func(x0, y0, x1, y1 int) {
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				img.Pixels[y*w+x] = 200
			}
		}
	}
	set(1, 1, 3, 3)  // 9 pixels
	set(9, 4, 11, 7) // 12 pixels, on the border
	set(6, 1, 6, 1)  // 1 pixel
	set(7, 2, 7, 2)  // diagonal neighbour: separate under 4-connectivity
	_, comps := label(img, 100)
	want := []component{
		{seed: 1*w + 1, area: 9, x0: 1, y0: 1, x1: 3, y1: 3},
		{seed: 1*w + 6, area: 1, x0: 6, y0: 1, x1: 6, y1: 1},
		{seed: 2*w + 7, area: 1, x0: 7, y0: 2, x1: 7, y1: 2},
		{seed: 4*w + 9, area: 12, x0: 9, y0: 4, x1: 11, y1: 7},
	}
	if len(comps) != len(want) {
		t.Fatalf("%d components, want %d: %+v", len(comps), len(want), comps)
	}
	for i, c := range comps {
		c.sumX, c.sumY = 0, 0
		if c != want[i] {
			t.Errorf("component %d = %+v, want %+v", i, c, want[i])
		}
	}
	if _, none := label(img, 201); len(none) != 0 {
		t.Errorf("threshold above every pixel found %d components", len(none))
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "not JSON", Input: `<xml/>`, WantMention: "decode input JSON (want preprocess's output with an \"image\")"},
		{Name: "trailing data", Input: `{"image": {"width": 8, "height": 8, "pixels": ""}} 1`, WantMention: "after the input"},
		{Name: "no image", Input: `{"source": {}}`, WantMention: "image is required"},
		{Name: "pixels not base64", Input: `{"image": {"width": 8, "height": 8, "pixels": "!!"}}`, WantMention: "decode input JSON"},
		{Name: "too small", Input: `{"image": {"width": 4, "height": 4, "pixels": "AAAAAAAAAAAAAAAAAAAAAA=="}}`, WantMention: "width and height must be in [8, 4096]"},
		{Name: "pixel count", Input: `{"image": {"width": 8, "height": 8, "pixels": "AAAA"}}`, WantMention: "image.pixels holds 3 bytes"},
	})
}

func TestHandleOnABlankImageFindsNoRegions(t *testing.T) {
	in, err := json.Marshal(request{Image: &raster.Gray{Width: 32, Height: 32, Pixels: make([]byte, 32*32)}})
	if err != nil {
		t.Fatal(err)
	}
	r := fnkittest.Output[response](t, handle, in)
	if r.Regions == nil || len(r.Regions) != 0 {
		t.Errorf("regions %v, want an empty list", r.Regions)
	}
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
