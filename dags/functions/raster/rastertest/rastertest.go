// Package rastertest holds the test scaffolding that detect and the
// classifiers share: the scene preprocess drew, read back from the source the
// stages pass on; a check of a classifier's verdicts on its fixture against
// that scene; and small images drawn for a classifier.
package rastertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/raster"
)

// Object is one object preprocess drew, in full-resolution pixels.
type Object struct {
	Shape   string `json:"shape"`
	Texture string `json:"texture"`
	X       int    `json:"x"`
	Y       int    `json:"y"`
}

// Scene is the part of preprocess's source that the later stages' tests
// check against.
type Scene struct {
	Scale int      `json:"scale"` // full-resolution pixels per pixel of the image sent on
	Truth []Object `json:"truth"`
}

// DecodeScene decodes source, preprocess's source as the stages pass it on,
// failing t if it is not one.
func DecodeScene(t testing.TB, source json.RawMessage) Scene {
	t.Helper()
	var s Scene
	if err := json.Unmarshal(source, &s); err != nil {
		t.Fatalf("decode source %.200q: %v", source, err)
	}
	if s.Scale < 1 {
		t.Fatalf("source has scale %d, want >= 1", s.Scale)
	}
	return s
}

// Nearest returns the drawn object nearest to (x, y), a point of the image
// sent on; the zero Object if nothing was drawn.
func (s Scene) Nearest(x, y float64) Object {
	var nearest Object
	best := math.Inf(1)
	for _, obj := range s.Truth {
		d := math.Hypot(float64(obj.X)/float64(s.Scale)-x, float64(obj.Y)/float64(s.Scale)-y)
		if d < best {
			nearest, best = obj, d
		}
	}
	return nearest
}

// labelled is the part of a classifier's verdict CheckSampleLabels reads.
type labelled struct {
	ID         int         `json:"id"`
	Centroid   *[2]float64 `json:"centroid"`
	Shape      string      `json:"shape"`
	Texture    string      `json:"texture"`
	Confidence float64     `json:"confidence"`
}

// CheckSampleLabels runs handler, a classifier choosing among three labels,
// on its fixture and checks its verdicts: one per region of the fixture, in
// order, each with its region's id, a confidence in (1/3, 1], a centroid (if
// it reports one) within 1e-4 of its region's, and a shape or texture label
// equal to that of the object drawn nearest to its region's centroid.
func CheckSampleLabels(t *testing.T, handler fnkit.Handler) {
	t.Helper()
	in := fnkittest.Fixture(t)
	d, err := raster.ParseDetection(in)
	if err != nil {
		t.Fatal(err)
	}
	out := fnkittest.Output[raster.Verdicts[json.RawMessage]](t, handler, in)
	for _, problem := range verdictProblems(d, DecodeScene(t, out.Source), out.Regions) {
		t.Error(problem)
	}
}

// verdictProblems lists what is wrong with a classifier's verdicts on d, as
// CheckSampleLabels describes, against the scene preprocess drew.
func verdictProblems(d raster.Detection, scene Scene, verdicts []json.RawMessage) []string {
	if len(verdicts) != len(d.Regions) {
		return []string{fmt.Sprintf("%d verdicts for %d regions", len(verdicts), len(d.Regions))}
	}
	var problems []string
	for i, raw := range verdicts {
		var v labelled
		if err := json.Unmarshal(raw, &v); err != nil {
			problems = append(problems, fmt.Sprintf("verdict %d: %v", i, err))
			continue
		}
		r := d.Regions[i]
		if v.ID != r.ID || v.Confidence <= 1.0/3 || v.Confidence > 1 {
			problems = append(problems, fmt.Sprintf("verdict %d: %s has the wrong id (want %d) or an impossible confidence", i, raw, r.ID))
		}
		m := raster.FillRegion(*d.Image, *d.Threshold, r.Seed)
		if c := v.Centroid; c != nil && (math.Abs(c[0]-m.CX) > 1e-4 || math.Abs(c[1]-m.CY) > 1e-4) {
			problems = append(problems, fmt.Sprintf("region %d: centroid %v, want (%v, %v)", r.ID, *c, m.CX, m.CY))
		}
		drawn := scene.Nearest(m.CX, m.CY)
		if v.Shape == "" && v.Texture == "" ||
			v.Shape != "" && v.Shape != drawn.Shape ||
			v.Texture != "" && v.Texture != drawn.Texture {
			problems = append(problems, fmt.Sprintf("region %d: verdict %s, drawn as a %s %s", r.ID, raw, drawn.Texture, drawn.Shape))
		}
	}
	return problems
}

// DrawnSide is the width and height of the images Draw returns.
const DrawnSide = 64

// Draw returns a DrawnSide² image of 20s but where inside(x, y) holds, where
// the pixel is shade(x, y), and the seed of that object: its first pixel in
// raster order, or (-1, -1) if there is none.
func Draw(inside func(x, y int) bool, shade func(x, y int) byte) (raster.Gray, [2]int) {
	img := raster.Gray{Width: DrawnSide, Height: DrawnSide, Pixels: bytes.Repeat([]byte{20}, DrawnSide*DrawnSide)}
	seed := [2]int{-1, -1}
	for y := range DrawnSide {
		for x := range DrawnSide {
			if inside(x, y) {
				img.Pixels[y*DrawnSide+x] = shade(x, y)
				if seed[0] < 0 {
					seed = [2]int{x, y}
				}
			}
		}
	}
	return img, seed
}
