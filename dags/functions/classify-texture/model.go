package main

import (
	"math"
	"sort"

	"baton.dev/baton/dags/functions/linear"
	"baton.dev/baton/dags/functions/raster"
)

// erosion is how many pixels of the region's rim the texture measures skip.
const erosion = 2

// textureModel is the fixed linear model: one row of weights per label,
// over (1, contrast, dominance, second), set by hand from features measured
// on rendered scenes.
func textureModel() linear.Model {
	return linear.Model{
		{Label: "smooth", Weights: []float64{6, -1, 0, 0}},
		{Label: "striped", Weights: []float64{-3.45, 1, 5, -10}},
		{Label: "checkered", Weights: []float64{-2.55, 1, -5, 10}},
	}
}

// classify computes the region's texture features and its most likely
// texture, with the softmax probability of that texture as confidence.
func classify(img raster.Gray, t int, r raster.Region, bank gaborBank) verdict {
	m := raster.FillRegion(img, t, r.Seed)
	interior := erode(m, erosion)
	if len(interior) == 0 {
		interior = erode(m, 0)
	}
	f := textureFeaturesOf(img, m, interior, bank)
	texture, confidence := textureModel().Predict([]float64{1, f.Contrast, f.Dominance, f.Second})
	return verdict{
		ID:         r.ID,
		Texture:    texture,
		Confidence: round4(confidence),
		Features: textureFeatures{
			Contrast:  round4(f.Contrast),
			Dominance: round4(f.Dominance),
			Second:    round4(f.Second),
		},
	}
}

// textureFeaturesOf measures contrast on the interior and the spread of
// Gabor energy over orientations.
func textureFeaturesOf(img raster.Gray, m raster.Mask, interior []int, bank gaborBank) textureFeatures {
	var diff float64
	var pairs int
	for _, p := range interior {
		x, y := p%m.Width, p/m.Width
		for _, d := range [...][2]int{{1, 0}, {0, 1}, {1, 1}, {1, -1}} {
			if m.Contains(x+d[0], y+d[1]) {
				delta := float64(img.Pixels[p]) - float64(img.Pixels[(y+d[1])*m.Width+x+d[0]])
				diff += delta * delta
				pairs++
			}
		}
	}
	f := textureFeatures{}
	if pairs > 0 {
		f.Contrast = math.Log1p(diff / float64(pairs))
	}
	energy := orientationEnergy(img, m, interior, bank)
	shares := energy[:]
	var total float64
	for _, e := range shares {
		total += e
	}
	if total > 0 {
		sort.Sort(sort.Reverse(sort.Float64Slice(shares)))
		f.Dominance, f.Second = shares[0]/total, shares[1]/total
	}
	return f
}

// erode returns the indices, in raster order, of the region's pixels whose
// whole (2·r+1)² neighbourhood lies in the region.
func erode(m raster.Mask, r int) []int {
	var out []int
	for p, in := range m.In {
		if !in {
			continue
		}
		x, y := p%m.Width, p/m.Width
		inside := true
		for dy := -r; dy <= r && inside; dy++ {
			for dx := -r; dx <= r; dx++ {
				if !m.Contains(x+dx, y+dy) {
					inside = false
					break
				}
			}
		}
		if inside {
			out = append(out, p)
		}
	}
	return out
}

// round4 rounds to four decimals so reported floats stay short and stable.
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
