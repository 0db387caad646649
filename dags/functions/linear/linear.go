// Package linear scores feature vectors with a fixed linear model, as the
// ml-pipeline sample classifiers do: one row of weights per label, the best
// score wins and its softmax probability is the confidence.
package linear

import "math"

// Row is one label's weights.
type Row struct {
	Label   string
	Weights []float64
}

// Model is one Row per label. Every row's Weights apply to a feature vector
// of the same length, whose first entry is by convention 1 (the bias).
type Model []Row

// Predict scores x with every row (the dot product of its Weights and x) and
// returns the label of the highest score, the first row on ties, with the
// softmax probability of that score as confidence. m must not be empty.
func (m Model) Predict(x []float64) (label string, confidence float64) {
	scores := make([]float64, len(m))
	best := 0
	for i, row := range m {
		for j, w := range row.Weights {
			scores[i] += w * x[j]
		}
		if scores[i] > scores[best] {
			best = i
		}
	}
	var total float64
	for _, s := range scores {
		total += math.Exp(s - scores[best])
	}
	return m[best].Label, 1 / total
}
