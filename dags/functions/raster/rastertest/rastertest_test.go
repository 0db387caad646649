package rastertest

import (
	"encoding/json"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/raster"
)

func TestDraw(t *testing.T) {
	img, seed := Draw(func(x, y int) bool { return x >= 10 && x < 13 && y >= 5 && y < 7 }, func(x, y int) byte { return byte(100 + x) })
	if img.Width != DrawnSide || img.Height != DrawnSide || len(img.Pixels) != DrawnSide*DrawnSide {
		t.Fatalf("image %dx%d with %d pixels", img.Width, img.Height, len(img.Pixels))
	}
	if seed != [2]int{10, 5} {
		t.Errorf("seed %v, want (10, 5)", seed)
	}
	for y := range DrawnSide {
		for x := range DrawnSide {
			want := byte(20)
			if x >= 10 && x < 13 && y >= 5 && y < 7 {
				want = byte(100 + x)
			}
			if got := img.Pixels[y*DrawnSide+x]; got != want {
				t.Fatalf("pixel (%d, %d) is %d, want %d", x, y, got, want)
			}
		}
	}
	if _, none := Draw(func(x, y int) bool { return false }, nil); none != [2]int{-1, -1} {
		t.Errorf("seed %v of an empty drawing, want (-1, -1)", none)
	}
}

func TestSceneNearest(t *testing.T) {
	s := DecodeScene(t, json.RawMessage(`{"seed": 1, "scale": 4, "truth": [{"shape": "circle", "x": 40, "y": 40}, {"shape": "triangle", "x": 80, "y": 8}]}`))
	tests := []struct {
		x, y float64
		want string
	}{
		{10, 10, "circle"}, {19, 3, "triangle"}, {14, 6, "circle"}, {16, 5, "triangle"},
	}
	for _, tt := range tests {
		if got := s.Nearest(tt.x, tt.y); got.Shape != tt.want {
			t.Errorf("Nearest(%v, %v) = %+v, want the %s", tt.x, tt.y, got, tt.want)
		}
	}
}

func TestVerdictProblems(t *testing.T) {
	// One region, a 2x1 block at the left of a 4x1 image (centroid (0.5, 0)),
	// drawn as a striped circle at (2, 0) full-resolution, scale 4.
	threshold := 100
	d := raster.Detection{
		Image:     &raster.Gray{Width: 4, Height: 1, Pixels: []byte{200, 200, 0, 0}},
		Threshold: &threshold,
		Regions:   []raster.Region{{ID: 5, Seed: [2]int{1, 0}}},
	}
	scene := Scene{Scale: 4, Truth: []Object{{Shape: "circle", Texture: "striped", X: 2, Y: 0}, {Shape: "triangle", Texture: "smooth", X: 40, Y: 0}}}
	tests := []struct {
		name        string
		verdicts    []string
		wantProblem string // "" for none, else a substring of the one problem
	}{
		{"right shape", []string{`{"id": 5, "centroid": [0.5, 0], "shape": "circle", "confidence": 0.9}`}, ""},
		{"right texture", []string{`{"id": 5, "texture": "striped", "confidence": 1}`}, ""},
		{"wrong shape", []string{`{"id": 5, "shape": "triangle", "confidence": 0.9}`}, "drawn as a striped circle"},
		{"wrong texture", []string{`{"id": 5, "texture": "smooth", "confidence": 0.9}`}, "drawn as a striped circle"},
		{"no label", []string{`{"id": 5, "confidence": 0.9}`}, "drawn as"},
		{"wrong id", []string{`{"id": 6, "shape": "circle", "confidence": 0.9}`}, "wrong id (want 5)"},
		{"confidence of a tie", []string{`{"id": 5, "shape": "circle", "confidence": 0.3333}`}, "impossible confidence"},
		{"confidence above 1", []string{`{"id": 5, "shape": "circle", "confidence": 1.5}`}, "impossible confidence"},
		{"centroid off", []string{`{"id": 5, "centroid": [0.5, 0.01], "shape": "circle", "confidence": 0.9}`}, "centroid [0.5 0.01], want (0.5, 0)"},
		{"not an object", []string{`[5]`}, "verdict 0: json"},
		{"missing verdict", nil, "0 verdicts for 1 regions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verdicts := make([]json.RawMessage, len(tt.verdicts))
			for i, v := range tt.verdicts {
				verdicts[i] = json.RawMessage(v)
			}
			problems := verdictProblems(d, scene, verdicts)
			switch {
			case tt.wantProblem == "" && len(problems) != 0:
				t.Errorf("problems %q, want none", problems)
			case tt.wantProblem != "" && (len(problems) != 1 || !strings.Contains(problems[0], tt.wantProblem)):
				t.Errorf("problems %q, want one mentioning %q", problems, tt.wantProblem)
			}
		})
	}
}
