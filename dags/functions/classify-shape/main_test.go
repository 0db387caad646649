package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/raster"
	"baton.dev/baton/dags/functions/raster/rastertest"
)

func TestHandleLabelsTheSampleShapes(t *testing.T) {
	rastertest.CheckSampleLabels(t, handle)
}

func TestClassifyDrawnShapes(t *testing.T) {
	tests := []struct {
		name   string
		inside func(x, y int) bool
		want   string
	}{
		{"disk", func(x, y int) bool { return (x-32)*(x-32)+(y-32)*(y-32) <= 20*20 }, "circle"},
		{"square", func(x, y int) bool { return x >= 18 && x <= 46 && y >= 18 && y <= 46 }, "rectangle"},
		{"bar", func(x, y int) bool { return x >= 10 && x <= 54 && y >= 22 && y <= 42 }, "rectangle"},
		{"triangle", func(x, y int) bool { return y >= 10 && y <= 50 && 2*abs(x-32) <= y-10 }, "triangle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, seed := rastertest.Draw(tt.inside, func(x, y int) byte { return 200 })
			v := classify(img, 100, raster.Region{ID: 7, Seed: seed})
			if v.Shape != tt.want || v.ID != 7 {
				t.Errorf("got %s for region %d (features %+v), want %s for region 7", v.Shape, v.ID, v.Features, tt.want)
			}
		})
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// TestHandleRejectsBadInput checks that handle rejects what
// raster.ParseDetection does; raster's tests cover every check.
func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "not JSON", Input: `[1, 2`, WantMention: "decode input JSON (want detect's output)"},
		{Name: "no threshold", Input: `{"image": {"width": 2, "height": 2, "pixels": "AAAAAA=="}}`, WantMention: "threshold is required"},
		{Name: "seed outside", Input: `{"image": {"width": 2, "height": 2, "pixels": "AAAAAA=="}, "threshold": 9, "regions": [{"id": 1, "seed": [2, 0]}]}`, WantMention: "regions[0].seed (2, 0) lies outside"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
