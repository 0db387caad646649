// Command detect is the second stage of the ml-pipeline sample workflow. It
// finds the objects in preprocess's image: Sobel gradients, a sweep of
// intensity thresholds with connected-component labelling at each, the most
// stable threshold whose region boundaries lie on the strongest edges, and the
// regions found at that threshold.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/raster"
)

// request is preprocess's output; detect passes Source on untouched.
type request struct {
	Source json.RawMessage `json:"source"`
	Image  *raster.Gray    `json:"image"`
}

// region is one detected object. Seed is its first pixel in raster order:
// the region is the 4-connected set of pixels >= the threshold containing it.
type region struct {
	ID           int        `json:"id"`
	Seed         [2]int     `json:"seed"`
	BBox         [4]int     `json:"bbox"` // x0, y0, x1, y1 inclusive
	Area         int        `json:"area"`
	Centroid     [2]float64 `json:"centroid"`
	Perimeter    int        `json:"perimeter"`
	EdgeStrength float64    `json:"edge_strength"`
}

// response is the stage's output.
type response struct {
	Source    json.RawMessage `json:"source"`
	Image     raster.Gray     `json:"image"`
	Threshold int             `json:"threshold"`
	Regions   []region        `json:"regions"`
}

func main() { fnkit.Main("detect", handle) }

// handle detects the regions in the image of preprocess's output.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	req, err := parseRequest(input)
	if err != nil {
		return nil, err
	}
	img := *req.Image
	edges := sobel(img)
	threshold, err := chooseThreshold(ctx, img, edges)
	if err != nil {
		return nil, fmt.Errorf("choose threshold: %w", err)
	}
	out := response{
		Source:    req.Source,
		Image:     img,
		Threshold: threshold,
		Regions:   describeRegions(img, edges, threshold),
	}
	return fnkit.EncodeJSON(out)
}

// parseRequest decodes and checks the input, naming what is wrong.
func parseRequest(input []byte) (request, error) {
	var req request
	if err := fnkit.DecodeJSON(input, &req, `preprocess's output with an "image"`); err != nil {
		return req, err
	}
	if len(req.Source) == 0 {
		req.Source = json.RawMessage("null")
	}
	return req, req.Image.Check(8)
}
