// Command classify-texture is a third-stage classifier of the ml-pipeline
// sample workflow. For every region detect found it filters the region's
// interior with a bank of Gabor filters (four orientations, four
// wavelengths), measures its grey-level contrast, and scores smooth, striped
// and checkered with a fixed linear model.
package main

import (
	"context"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/raster"
)

// textureFeatures are the features the model scores.
type textureFeatures struct {
	Contrast  float64 `json:"contrast"`  // log(1 + mean squared neighbour difference)
	Dominance float64 `json:"dominance"` // share of Gabor energy in the strongest orientation
	Second    float64 `json:"second"`    // share in the second strongest orientation
}

// verdict is this stage's answer for one region.
type verdict struct {
	ID         int             `json:"id"`
	Texture    string          `json:"texture"`
	Confidence float64         `json:"confidence"`
	Features   textureFeatures `json:"features"`
}

func main() { fnkit.Main("classify-texture", handle) }

// handle classifies the texture of every region in detect's output.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	bank := newGaborBank()
	return raster.ClassifyRegions(ctx, input, func(img raster.Gray, t int, r raster.Region) verdict {
		return classify(img, t, r, bank)
	})
}
