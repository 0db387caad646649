// Command classify-shape is a third-stage classifier of the ml-pipeline sample
// workflow. For every region detect found it traces a sub-pixel radial
// signature (distance from the centroid to the boundary along many rays),
// takes the magnitudes of its low Fourier harmonics and the region's fill
// ratio, and scores circle, rectangle and triangle with a fixed linear model.
package main

import (
	"context"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/raster"
)

// shapeFeatures are the rotation-invariant features the model scores.
type shapeFeatures struct {
	Fill      float64 `json:"fill"` // area / (π · max radius²)
	Harmonic2 float64 `json:"h2"`   // |F_k| / F_0 of the radial signature
	Harmonic3 float64 `json:"h3"`
	Harmonic4 float64 `json:"h4"`
}

// verdict is this stage's answer for one region.
type verdict struct {
	ID         int           `json:"id"`
	Centroid   [2]float64    `json:"centroid"`
	Shape      string        `json:"shape"`
	Confidence float64       `json:"confidence"`
	Features   shapeFeatures `json:"features"`
}

func main() { fnkit.Main("classify-shape", handle) }

// handle classifies the shape of every region in detect's output.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	return raster.ClassifyRegions(ctx, input, classify)
}
