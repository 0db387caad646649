package main

import (
	"context"
	"encoding/json"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleRendersTheScene(t *testing.T) {
	tests := []struct {
		name                 string
		input                string
		wantW, wantH, wantSc int
		wantObjectsAtMost    int
	}{
		{"sample", `{"seed": 42, "width": 1024, "height": 1024, "objects": 20}`, 256, 256, 4, 20},
		{"smallest", `{"seed": 0, "width": 64, "height": 64, "objects": 1}`, 64, 64, 1, 1},
		{"wide", `{"seed": 7, "width": 600, "height": 200, "objects": 5}`, 200, 67, 3, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := handle(context.Background(), []byte(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			again, err := handle(context.Background(), []byte(tt.input))
			if err != nil || string(again) != string(out) {
				t.Fatalf("second run differs (err %v): output is not deterministic", err)
			}
			if len(out) > 256<<10 {
				t.Errorf("output is %d bytes, want < 256 KiB", len(out))
			}
			var r response
			if err := json.Unmarshal(out, &r); err != nil {
				t.Fatal(err)
			}
			if r.Image.Width != tt.wantW || r.Image.Height != tt.wantH || r.Source.Scale != tt.wantSc {
				t.Errorf("image %dx%d at scale %d, want %dx%d at scale %d",
					r.Image.Width, r.Image.Height, r.Source.Scale, tt.wantW, tt.wantH, tt.wantSc)
			}
			if len(r.Image.Pixels) != r.Image.Width*r.Image.Height {
				t.Errorf("%d pixels for a %dx%d image", len(r.Image.Pixels), r.Image.Width, r.Image.Height)
			}
			if n := len(r.Source.Truth); n < 1 || n > tt.wantObjectsAtMost {
				t.Errorf("%d objects drawn, want 1..%d", n, tt.wantObjectsAtMost)
			}
			total := 0
			for _, c := range r.Summary.Histogram {
				total += c
			}
			if total != len(r.Image.Pixels) || r.Summary.Min != 0 || r.Summary.Max != 255 {
				t.Errorf("summary %+v: histogram counts %d pixels of %d, want all; range want 0..255 after stretching",
					r.Summary, total, len(r.Image.Pixels))
			}
		})
	}
}

func TestHandleSampleFixtureIsTheSampleInput(t *testing.T) {
	if _, err := handle(context.Background(), fnkittest.Fixture(t)); err != nil {
		t.Fatalf("sample input rejected: %v", err)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "not JSON", Input: `seed=42`, WantMention: "decode input JSON"},
		{Name: "empty", Input: ``, WantMention: "decode input JSON"},
		{Name: "unknown field", Input: `{"seed": 1, "width": 64, "height": 64, "objects": 1, "colour": 3}`, WantMention: "colour"},
		{Name: "trailing data", Input: `{"seed": 1, "width": 64, "height": 64, "objects": 1} {}`, WantMention: "after the input"},
		{Name: "negative seed", Input: `{"seed": -1, "width": 64, "height": 64, "objects": 1}`, WantMention: "seed"},
		{Name: "missing seed", Input: `{"width": 64, "height": 64, "objects": 1}`, WantMention: "seed is required"},
		{Name: "width too small", Input: `{"seed": 1, "width": 63, "height": 64, "objects": 1}`, WantMention: "width"},
		{Name: "height too large", Input: `{"seed": 1, "width": 64, "height": 4096, "objects": 1}`, WantMention: "height"},
		{Name: "width a string", Input: `{"seed": 1, "width": "64", "height": 64, "objects": 1}`, WantMention: "width"},
		{Name: "no objects", Input: `{"seed": 1, "width": 64, "height": 64, "objects": 0}`, WantMention: "objects"},
		{Name: "missing objects", Input: `{"seed": 1, "width": 64, "height": 64}`, WantMention: "objects"},
	})
}

func TestBlurKeepsAFlatImageFlat(t *testing.T) {
	img := plane{width: 9, height: 5, pix: make([]int32, 45)}
	for i := range img.pix {
		img.pix[i] = 77
	}
	out, err := blur(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out.pix {
		if v != 77 {
			t.Fatalf("pixel %d is %d after blurring a flat image of 77", i, v)
		}
	}
}

func TestInsideConvex(t *testing.T) {
	square := []point{{0, 0}, {10, 0}, {10, 10}, {0, 10}}
	reversed := []point{{0, 10}, {10, 10}, {10, 0}, {0, 0}}
	tests := []struct {
		p    point
		want bool
	}{
		{point{5, 5}, true}, {point{0, 0}, true}, {point{10, 5}, true},
		{point{11, 5}, false}, {point{-1, -1}, false}, {point{5, 12}, false},
	}
	for _, tt := range tests {
		if got := insideConvex(square, tt.p); got != tt.want {
			t.Errorf("insideConvex(square, %v) = %v, want %v", tt.p, got, tt.want)
		}
		if got := insideConvex(reversed, tt.p); got != tt.want {
			t.Errorf("insideConvex(reversed square, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
