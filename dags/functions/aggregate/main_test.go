package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleAnswersTheSample(t *testing.T) {
	out, err := handle(context.Background(), fnkittest.Fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../ml-pipeline.output.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from dags/ml-pipeline.output.json\ngot:  %.300s\nwant: %.300s", out, want)
	}
	var r response
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.Counts.Total != len(r.Objects) || r.Accuracy.Truth != len(r.Objects) || r.Accuracy.Score < 0.9 {
		t.Errorf("counts %+v and accuracy %+v for %d objects", r.Counts, r.Accuracy, len(r.Objects))
	}
	for name, tally := range map[string]map[string]int{"shape": r.Counts.Shape, "texture": r.Counts.Texture, "label": r.Counts.Label} {
		sum := 0
		for _, n := range tally {
			sum += n
		}
		if sum != len(r.Objects) {
			t.Errorf("%s counts add up to %d, want %d", name, sum, len(r.Objects))
		}
	}
	for name, iv := range r.Intervals {
		share := float64(r.Counts.Shape[name]+r.Counts.Texture[name]) / float64(len(r.Objects))
		if iv[0] > share || share > iv[1] || iv[0] < 0 || iv[1] > 1 {
			t.Errorf("interval %v for %s does not hold its observed share %v", iv, name, share)
		}
	}
	if len(r.Intervals) != len(r.Counts.Shape)+len(r.Counts.Texture) {
		t.Errorf("intervals for %d categories, want one per shape and texture seen", len(r.Intervals))
	}
	if sum, err := checksumOf(r.Objects); err != nil || sum != r.Checksum {
		t.Errorf("checksum %s, recomputed %s (%v)", r.Checksum, sum, err)
	}
}

func TestScoreAgainstTruth(t *testing.T) {
	truth := []truthShape{
		{Shape: "circle", Texture: "smooth", X: 100, Y: 100, Radius: 20},
		{Shape: "triangle", Texture: "striped", X: 300, Y: 100, Radius: 20},
		{Shape: "rectangle", Texture: "checkered", X: 500, Y: 500, Radius: 20},
	}
	objects := []object{
		{ID: 1, X: 105, Y: 98, Shape: "circle", Texture: "smooth"},
		{ID: 2, X: 301, Y: 110, Shape: "triangle", Texture: "checkered"},
		{ID: 3, X: 900, Y: 900, Shape: "rectangle", Texture: "checkered"}, // on nothing drawn
	}
	got := score(objects, truth)
	want := accuracy{Truth: 3, Matched: 2, ShapeCorrect: 2, TextureCorrect: 1, Score: 0.3333}
	if got != want {
		t.Errorf("score = %+v, want %+v", got, want)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	const src = `"source": {"seed": 1, "width": 64, "height": 64, "scale": 1, "truth": []}`
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "not JSON", Input: `{"classify-shape":`, WantMention: "decode input JSON"},
		{Name: "trailing data", Input: `{} 7`, WantMention: "after the input"},
		{Name: "no shapes", Input: `{"classify-texture": {` + src + `, "regions": []}}`, WantMention: `"classify-shape" is required`},
		{Name: "no textures", Input: `{"classify-shape": {` + src + `, "regions": []}}`, WantMention: `"classify-texture" is required`},
		{Name: "no source", Input: `{"classify-shape": {"regions": []}, "classify-texture": {` + src + `, "regions": []}}`, WantMention: "source"},
		{Name: "different scenes", Input: `{"classify-shape": {` + src + `, "regions": []}, "classify-texture": {"source": {"seed": 2, "width": 64, "height": 64, "scale": 1}, "regions": []}}`, WantMention: "different scenes"},
		{Name: "bad scale", Input: `{"classify-shape": {"source": {"scale": 0}, "regions": []}, "classify-texture": {"source": {"scale": 0}, "regions": []}}`, WantMention: "scale"},
		{Name: "region counts", Input: `{"classify-shape": {` + src + `, "regions": [{"id": 1}]}, "classify-texture": {` + src + `, "regions": []}}`, WantMention: "has 1 regions but"},
		{Name: "region ids", Input: `{"classify-shape": {` + src + `, "regions": [{"id": 1}]}, "classify-texture": {` + src + `, "regions": [{"id": 2}]}}`, WantMention: "regions[0] is region 1"},
	})
}

func TestHandleWithNoRegions(t *testing.T) {
	const src = `"source": {"seed": 1, "width": 64, "height": 64, "scale": 1, "truth": []}`
	r := fnkittest.Output[response](t, handle, []byte(`{"classify-shape": {`+src+`, "regions": []}, "classify-texture": {`+src+`, "regions": []}}`))
	if r.Counts.Total != 0 || len(r.Intervals) != 0 || !strings.HasPrefix(r.Checksum, "sha256:") {
		t.Errorf("empty answer %+v", r)
	}
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
