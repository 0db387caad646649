package linear

import (
	"math"
	"testing"
)

func TestModelPredict(t *testing.T) {
	model := Model{
		{Label: "a", Weights: []float64{1, 2}},
		{Label: "b", Weights: []float64{0, 3}},
		{Label: "c", Weights: []float64{-1, 0}},
	}
	tests := []struct {
		name           string
		x              []float64
		wantLabel      string
		wantConfidence float64
	}{
		// Scores (1, 0, -1): e^0 / (e^0 + e^-1 + e^-2).
		{"bias only", []float64{1, 0}, "a", 1 / (1 + math.Exp(-1) + math.Exp(-2))},
		// Scores (5, 6, -1).
		{"feature wins", []float64{1, 2}, "b", 1 / (math.Exp(-1) + 1 + math.Exp(-7))},
		// Scores (3, 3, -1): a tie goes to the first row.
		{"tie", []float64{1, 1}, "a", 1 / (1 + 1 + math.Exp(-4))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			label, confidence := model.Predict(tt.x)
			if label != tt.wantLabel || math.Abs(confidence-tt.wantConfidence) > 1e-12 {
				t.Errorf("Predict(%v) = %s, %v; want %s, %v", tt.x, label, confidence, tt.wantLabel, tt.wantConfidence)
			}
		})
	}
}
