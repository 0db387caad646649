package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/raster"
	"baton.dev/baton/dags/functions/raster/rastertest"
)

func TestHandleLabelsTheSampleTextures(t *testing.T) {
	rastertest.CheckSampleLabels(t, handle)
}

// inDisk reports whether (x, y) lies in the disk of radius 22 at the centre
// of a drawing.
func inDisk(x, y int) bool {
	const c = rastertest.DrawnSide / 2
	return (x-c)*(x-c)+(y-c)*(y-c) <= 22*22
}

func TestClassifyDrawnTextures(t *testing.T) {
	tests := []struct {
		name  string
		shade func(x, y int) byte
		want  string
	}{
		{"flat", func(x, y int) byte { return 190 }, "smooth"},
		{"gentle gradient", func(x, y int) byte { return byte(170 + x/2) }, "smooth"},
		{"vertical stripes", func(x, y int) byte { return byte(160 + 60*((x/3)%2)) }, "striped"},
		{"diagonal stripes", func(x, y int) byte { return byte(160 + 60*(((x+y)/3)%2)) }, "striped"},
		{"checkerboard", func(x, y int) byte { return byte(160 + 60*((x/3+y/3)%2)) }, "checkered"},
	}
	bank := newGaborBank()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, seed := rastertest.Draw(inDisk, tt.shade)
			v := classify(img, 100, raster.Region{ID: 3, Seed: seed}, bank)
			if v.Texture != tt.want || v.ID != 3 {
				t.Errorf("got %s for region %d (features %+v), want %s for region 3", v.Texture, v.ID, v.Features, tt.want)
			}
		})
	}
}

// TestHandleRejectsBadInput checks that handle rejects what
// raster.ParseDetection does; raster's tests cover every check.
func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "trailing data", Input: `{} {}`, WantMention: "after the input"},
		{Name: "pixel count", Input: `{"image": {"width": 3, "height": 1, "pixels": "AAAAAA=="}, "threshold": 100}`, WantMention: "image.pixels holds 4 bytes"},
		{Name: "seed in background", Input: `{"image": {"width": 2, "height": 2, "pixels": "AAAAAA=="}, "threshold": 9, "regions": [{"id": 1, "seed": [0, 0]}]}`, WantMention: "below the threshold"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
