// Command aggregate is the last stage of the ml-pipeline sample workflow. It
// joins the two classifiers' verdicts region by region into labelled
// objects, counts them, bootstraps 95% intervals for each label's share,
// scores the labels against the scene's ground truth and adds a checksum of
// the answer.
package main

import (
	"context"
	"fmt"
	"reflect"

	"baton.dev/baton/dags/functions/fnkit"
)

// Stage names whose outputs the input holds (the workflow's stage names).
const (
	shapeStage   = "classify-shape"
	textureStage = "classify-texture"
)

// truthShape is one object preprocess drew, in full-resolution pixels.
type truthShape struct {
	Shape   string `json:"shape"`
	Texture string `json:"texture"`
	X       int    `json:"x"`
	Y       int    `json:"y"`
	Radius  int    `json:"radius"`
}

// source describes the scene, as preprocess reported it.
type source struct {
	Seed   uint64       `json:"seed"`
	Width  int          `json:"width"`
	Height int          `json:"height"`
	Scale  int          `json:"scale"`
	Truth  []truthShape `json:"truth"`
}

// shapeVerdict is classify-shape's answer for one region.
type shapeVerdict struct {
	ID         int        `json:"id"`
	Centroid   [2]float64 `json:"centroid"`
	Shape      string     `json:"shape"`
	Confidence float64    `json:"confidence"`
}

// textureVerdict is classify-texture's answer for one region.
type textureVerdict struct {
	ID         int     `json:"id"`
	Texture    string  `json:"texture"`
	Confidence float64 `json:"confidence"`
}

// request is what the engine sends a stage with two dependencies: their
// outputs keyed by stage name.
type request struct {
	Shapes *struct {
		Source  *source        `json:"source"`
		Regions []shapeVerdict `json:"regions"`
	} `json:"classify-shape"`
	Textures *struct {
		Source  *source          `json:"source"`
		Regions []textureVerdict `json:"regions"`
	} `json:"classify-texture"`
}

// scene names the scene the answer is about.
type scene struct {
	Seed   uint64 `json:"seed"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// object is one labelled object, at full-resolution coordinates.
type object struct {
	ID         int     `json:"id"`
	X          int     `json:"x"`
	Y          int     `json:"y"`
	Shape      string  `json:"shape"`
	Texture    string  `json:"texture"`
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
}

// counts tallies objects per shape, per texture and per label.
type counts struct {
	Total   int            `json:"total"`
	Shape   map[string]int `json:"shape"`
	Texture map[string]int `json:"texture"`
	Label   map[string]int `json:"label"`
}

// accuracy scores the objects against the ground truth.
type accuracy struct {
	Truth          int     `json:"truth"`   // objects drawn
	Matched        int     `json:"matched"` // drawn objects some detected object lies on
	ShapeCorrect   int     `json:"shape_correct"`
	TextureCorrect int     `json:"texture_correct"`
	Score          float64 `json:"score"` // objects with both labels right / truth
}

// response is the workflow's answer.
type response struct {
	Scene     scene                 `json:"scene"`
	Objects   []object              `json:"objects"`
	Counts    counts                `json:"counts"`
	Intervals map[string][2]float64 `json:"intervals"`
	Accuracy  accuracy              `json:"accuracy"`
	Checksum  string                `json:"checksum"`
}

func main() { fnkit.Main("aggregate", handle) }

// handle joins the classifiers' outputs into the workflow's answer.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	req, err := parseRequest(input)
	if err != nil {
		return nil, err
	}
	src := *req.Shapes.Source
	objects := join(src, req.Shapes.Regions, req.Textures.Regions)
	intervals, err := bootstrapIntervals(ctx, src.Seed, objects)
	if err != nil {
		return nil, fmt.Errorf("bootstrap intervals: %w", err)
	}
	checksum, err := checksumOf(objects)
	if err != nil {
		return nil, err
	}
	out := response{
		Scene:     scene{Seed: src.Seed, Width: src.Width, Height: src.Height},
		Objects:   objects,
		Counts:    countObjects(objects),
		Intervals: intervals,
		Accuracy:  score(objects, src.Truth),
		Checksum:  checksum,
	}
	return fnkit.EncodeJSON(out)
}

// parseRequest decodes and checks the input: both classifiers' outputs,
// about the same scene and the same regions.
func parseRequest(input []byte) (request, error) {
	var req request
	want := fmt.Sprintf("{%q: ..., %q: ...}", shapeStage, textureStage)
	if err := fnkit.DecodeJSON(input, &req, want); err != nil {
		return req, err
	}
	switch {
	case req.Shapes == nil:
		return req, fmt.Errorf("%w: %q is required (the output of stage %s)", fnkit.ErrBadInput, shapeStage, shapeStage)
	case req.Textures == nil:
		return req, fmt.Errorf("%w: %q is required (the output of stage %s)", fnkit.ErrBadInput, textureStage, textureStage)
	case req.Shapes.Source == nil || req.Textures.Source == nil:
		return req, fmt.Errorf("%w: %s.source and %s.source are required", fnkit.ErrBadInput, shapeStage, textureStage)
	case !reflect.DeepEqual(req.Shapes.Source, req.Textures.Source):
		return req, fmt.Errorf("%w: %s and %s describe different scenes", fnkit.ErrBadInput, shapeStage, textureStage)
	case req.Shapes.Source.Scale < 1:
		return req, fmt.Errorf("%w: source.scale is %d, want >= 1", fnkit.ErrBadInput, req.Shapes.Source.Scale)
	case len(req.Shapes.Regions) != len(req.Textures.Regions):
		return req, fmt.Errorf("%w: %s has %d regions but %s has %d", fnkit.ErrBadInput,
			shapeStage, len(req.Shapes.Regions), textureStage, len(req.Textures.Regions))
	}
	for i, s := range req.Shapes.Regions {
		if t := req.Textures.Regions[i]; t.ID != s.ID {
			return req, fmt.Errorf("%w: regions[%d] is region %d in %s but region %d in %s", fnkit.ErrBadInput,
				i, s.ID, shapeStage, t.ID, textureStage)
		}
	}
	return req, nil
}
