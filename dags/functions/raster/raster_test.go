package raster

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestGrayCheck(t *testing.T) {
	tests := []struct {
		name        string
		img         *Gray
		minSide     int
		wantMention string // "" for a valid image
	}{
		{"missing", nil, 1, "image is required"},
		{"smallest", &Gray{Width: 1, Height: 1, Pixels: []byte{0}}, 1, ""},
		{"below minSide", &Gray{Width: 4, Height: 4, Pixels: make([]byte, 16)}, 8, "image is 4x4; width and height must be in [8, 4096]"},
		{"at minSide", &Gray{Width: 8, Height: 8, Pixels: make([]byte, 64)}, 8, ""},
		{"zero width", &Gray{Width: 0, Height: 3}, 1, "width and height must be in [1, 4096]"},
		{"too tall", &Gray{Width: 1, Height: MaxSide + 1, Pixels: make([]byte, MaxSide+1)}, 1, "image is 1x4097"},
		{"short pixels", &Gray{Width: 3, Height: 1, Pixels: make([]byte, 4)}, 1, "image.pixels holds 4 bytes, want width*height = 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.img.Check(tt.minSide)
			if tt.wantMention == "" {
				if err != nil {
					t.Errorf("err %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, fnkit.ErrBadInput) || !strings.Contains(err.Error(), tt.wantMention) {
				t.Errorf("err %v, want one wrapping fnkit.ErrBadInput that mentions %q", err, tt.wantMention)
			}
		})
	}
}

func TestFillRegion(t *testing.T) {
	// A 3x2 block touching the right border, a pixel diagonal to it (apart
	// under 4-connectivity) and a pixel just below the threshold beside it.
	const w, h = 6, 4
	img := Gray{Width: w, Height: h, Pixels: bytes.Repeat([]byte{10}, w*h)}
	for _, p := range [][2]int{{3, 1}, {4, 1}, {5, 1}, {3, 2}, {4, 2}, {5, 2}, {2, 3}} {
		img.Pixels[p[1]*w+p[0]] = 200
	}
	img.Pixels[1*w+2] = 99
	m := FillRegion(img, 100, [2]int{5, 2})
	if m.Width != w || m.Height != h || m.Area != 6 || m.CX != 4 || m.CY != 1.5 {
		t.Errorf("mask %dx%d of area %d centred at (%v, %v), want 6x4 of area 6 at (4, 1.5)", m.Width, m.Height, m.Area, m.CX, m.CY)
	}
	for y := -1; y <= h; y++ {
		for x := -1; x <= w; x++ {
			want := x >= 3 && x <= 5 && y >= 1 && y <= 2
			if got := m.Contains(x, y); got != want {
				t.Errorf("Contains(%d, %d) = %v, want %v", x, y, got, want)
			}
		}
	}
	if lone := FillRegion(img, 100, [2]int{2, 3}); lone.Area != 1 || !lone.Contains(2, 3) || lone.Contains(3, 2) {
		t.Errorf("the diagonal pixel's region has area %d, want 1 apart from the block", lone.Area)
	}
}

func TestParseDetection(t *testing.T) {
	d, err := ParseDetection([]byte(`{"image": {"width": 2, "height": 2, "pixels": "AAAAyA=="}, "threshold": 9, "regions": [{"id": 4, "seed": [1, 1]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Source) != "null" || d.Image.Width != 2 || *d.Threshold != 9 || len(d.Regions) != 1 || d.Regions[0] != (Region{ID: 4, Seed: [2]int{1, 1}}) {
		t.Errorf("parsed %+v, want a null source and the one region", d)
	}
}

func TestParseDetectionRejectsBadInput(t *testing.T) {
	parse := func(_ context.Context, input []byte) ([]byte, error) {
		_, err := ParseDetection(input)
		return nil, err
	}
	const img = `"image": {"width": 2, "height": 2, "pixels": "AAAAAA=="}`
	fnkittest.CheckRejections(t, parse, []fnkittest.BadInput{
		{Name: "not JSON", Input: `nope`, WantMention: "decode input JSON (want detect's output)"},
		{Name: "unterminated", Input: `[1, 2`, WantMention: "decode input JSON"},
		{Name: "trailing object", Input: `{} {}`, WantMention: "after the input"},
		{Name: "trailing list", Input: `{} []`, WantMention: "after the input"},
		{Name: "no image", Input: `{"threshold": 100, "regions": []}`, WantMention: "image is required"},
		{Name: "empty image", Input: `{"image": {"width": 0, "height": 2, "pixels": ""}, "threshold": 100}`, WantMention: "width and height must be in [1, 4096]"},
		{Name: "pixel count short", Input: `{"image": {"width": 2, "height": 2, "pixels": "AAA="}, "threshold": 100}`, WantMention: "image.pixels holds 2 bytes"},
		{Name: "pixel count long", Input: `{"image": {"width": 3, "height": 1, "pixels": "AAAAAA=="}, "threshold": 100}`, WantMention: "image.pixels holds 4 bytes"},
		{Name: "no threshold", Input: `{` + img + `}`, WantMention: "threshold is required"},
		{Name: "threshold 0", Input: `{` + img + `, "threshold": 0}`, WantMention: "threshold"},
		{Name: "threshold too high", Input: `{` + img + `, "threshold": 256}`, WantMention: "threshold"},
		{Name: "seed right of the image", Input: `{` + img + `, "threshold": 9, "regions": [{"id": 1, "seed": [2, 0]}]}`, WantMention: "regions[0].seed (2, 0) lies outside"},
		{Name: "seed above the image", Input: `{` + img + `, "threshold": 9, "regions": [{"id": 1, "seed": [0, -1]}]}`, WantMention: "lies outside"},
		{Name: "seed in background", Input: `{` + img + `, "threshold": 9, "regions": [{"id": 1, "seed": [1, 1]}]}`, WantMention: "below the threshold"},
		{Name: "second seed in background", Input: `{"image": {"width": 2, "height": 1, "pixels": "yAA="}, "threshold": 9, "regions": [{"id": 1, "seed": [0, 0]}, {"id": 2, "seed": [1, 0]}]}`, WantMention: "regions[1].seed (1, 0) is below the threshold 9"},
	})
}

func TestClassifyRegions(t *testing.T) {
	const input = `{"source": {"seed": 3}, "image": {"width": 3, "height": 1, "pixels": "yADI"}, "threshold": 100, "regions": [{"id": 1, "seed": [0, 0]}, {"id": 2, "seed": [2, 0]}]}`
	type verdict struct {
		ID   int `json:"id"`
		Area int `json:"area"`
		X    int `json:"x"`
	}
	classify := func(img Gray, t int, r Region) verdict {
		return verdict{ID: r.ID, Area: FillRegion(img, t, r.Seed).Area, X: r.Seed[0]}
	}
	out, err := ClassifyRegions(context.Background(), []byte(input), classify)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"source":{"seed":3},"regions":[{"id":1,"area":1,"x":0},{"id":2,"area":1,"x":2}]}` + "\n"
	if string(out) != want {
		t.Errorf("output %s, want %s", out, want)
	}

	if _, err := ClassifyRegions(context.Background(), []byte(`{}`), classify); !errors.Is(err, fnkit.ErrBadInput) {
		t.Errorf("err %v for input without an image, want one wrapping fnkit.ErrBadInput", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ClassifyRegions(ctx, []byte(input), classify); !errors.Is(err, context.Canceled) || errors.Is(err, fnkit.ErrBadInput) {
		t.Errorf("err %v after cancellation, want context.Canceled", err)
	}
}
