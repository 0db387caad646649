package main

import (
	"math"

	"baton.dev/baton/dags/functions/linear"
	"baton.dev/baton/dags/functions/raster"
)

// shapeModel is the fixed linear model: one row of weights per label, over
// (1, fill, h2, h3, h4), set by hand from features measured on rendered scenes.
func shapeModel() linear.Model {
	return linear.Model{
		{Label: "circle", Weights: []float64{-8, 12, -20, -20, 0}},
		{Label: "rectangle", Weights: []float64{-2, 2, 40, -20, 20}},
		{Label: "triangle", Weights: []float64{-2, 0, -10, 40, 0}},
	}
}

// classify computes the region's features and its most likely shape, with
// the softmax probability of that shape as confidence.
func classify(img raster.Gray, t int, r raster.Region) verdict {
	m := raster.FillRegion(img, t, r.Seed)
	f := shapeFeaturesOf(img, t, m)
	shape, confidence := shapeModel().Predict([]float64{1, f.Fill, f.Harmonic2, f.Harmonic3, f.Harmonic4})
	return verdict{
		ID:         r.ID,
		Centroid:   [2]float64{round4(m.CX), round4(m.CY)},
		Shape:      shape,
		Confidence: round4(confidence),
		Features: shapeFeatures{
			Fill:      round4(f.Fill),
			Harmonic2: round4(f.Harmonic2),
			Harmonic3: round4(f.Harmonic3),
			Harmonic4: round4(f.Harmonic4),
		},
	}
}

// round4 rounds to four decimals so reported floats stay short and stable.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
