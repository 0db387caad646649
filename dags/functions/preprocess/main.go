// Command preprocess is the first stage of the ml-pipeline sample workflow.
// It renders a synthetic scene (textured shapes on a noisy background) from a
// seed, denoises it with repeated Gaussian blur passes, stretches its
// contrast and sends a downsampled copy with a summary downstream.
package main

import (
	"context"
	"fmt"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/raster"
)

// Input limits, checked before any work is done.
const (
	minSide       = 64
	maxSide       = 2048
	maxObjects    = 64
	targetSide    = 256 // the downsampled image's longest side is at most this
	blurPasses    = 8   // binomial blur passes over the full-resolution scene
	histogramBins = 16
)

// request is the workflow's input: which scene to render.
type request struct {
	Seed    *uint64 `json:"seed"`
	Width   *int    `json:"width"`
	Height  *int    `json:"height"`
	Objects *int    `json:"objects"`
}

// source describes the rendered scene; later stages carry it along so the
// last stage can score its answer against the ground truth.
type source struct {
	Seed   uint64       `json:"seed"`
	Width  int          `json:"width"`
	Height int          `json:"height"`
	Scale  int          `json:"scale"` // full-resolution pixels per downsampled pixel
	Truth  []truthShape `json:"truth"`
}

// truthShape is one rendered object, in full-resolution coordinates.
type truthShape struct {
	Shape   string `json:"shape"`
	Texture string `json:"texture"`
	X       int    `json:"x"`
	Y       int    `json:"y"`
	Radius  int    `json:"radius"`
}

// summary holds statistics of the downsampled image.
type summary struct {
	Mean       float64 `json:"mean"`
	Stddev     float64 `json:"stddev"`
	Min        int     `json:"min"`
	Max        int     `json:"max"`
	Histogram  []int   `json:"histogram"`
	BlurPasses int     `json:"blur_passes"`
}

// response is the stage's output.
type response struct {
	Source  source      `json:"source"`
	Image   raster.Gray `json:"image"`
	Summary summary     `json:"summary"`
}

func main() { fnkit.Main("preprocess", handle) }

// handle renders, denoises and downsamples the scene the input names.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	req, err := parseRequest(input)
	if err != nil {
		return nil, err
	}
	scene := renderScene(*req.Seed, *req.Width, *req.Height, *req.Objects)
	img := scene.image
	for range blurPasses {
		if img, err = blur(ctx, img); err != nil {
			return nil, fmt.Errorf("blur: %w", err)
		}
	}
	if err := stretchContrast(ctx, img); err != nil {
		return nil, fmt.Errorf("stretch contrast: %w", err)
	}
	scale := (max(img.width, img.height) + targetSide - 1) / targetSide
	small := downsample(img, scale)
	out := response{
		Source: source{
			Seed: *req.Seed, Width: *req.Width, Height: *req.Height,
			Scale: scale, Truth: scene.truth,
		},
		Image:   raster.Gray{Width: small.width, Height: small.height, Pixels: small.pix},
		Summary: summarize(small),
	}
	return fnkit.EncodeJSON(out)
}

// parseRequest decodes and checks the input, naming the offending field.
func parseRequest(input []byte) (request, error) {
	var req request
	if err := fnkit.DecodeJSONStrict(input, &req, `{"seed": N, "width": N, "height": N, "objects": N}`); err != nil {
		return req, err
	}
	switch {
	case req.Seed == nil:
		return req, fmt.Errorf("%w: seed is required (a non-negative integer)", fnkit.ErrBadInput)
	case req.Width == nil || *req.Width < minSide || *req.Width > maxSide:
		return req, fmt.Errorf("%w: width is required and must be in [%d, %d]", fnkit.ErrBadInput, minSide, maxSide)
	case req.Height == nil || *req.Height < minSide || *req.Height > maxSide:
		return req, fmt.Errorf("%w: height is required and must be in [%d, %d]", fnkit.ErrBadInput, minSide, maxSide)
	case req.Objects == nil || *req.Objects < 1 || *req.Objects > maxObjects:
		return req, fmt.Errorf("%w: objects is required and must be in [1, %d]", fnkit.ErrBadInput, maxObjects)
	}
	return req, nil
}
