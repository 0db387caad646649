package raster

import (
	"context"
	"encoding/json"
	"fmt"

	"baton.dev/baton/dags/functions/fnkit"
)

// Region is one region as detect reports it, with only the fields a
// classifier needs: the region is the 4-connected set of pixels >= the
// threshold that contains Seed, an (x, y) pixel.
type Region struct {
	ID   int    `json:"id"`
	Seed [2]int `json:"seed"`
}

// Detection is detect's output as a classifier reads it. After
// ParseDetection, Image and Threshold are set and every seed names a region.
type Detection struct {
	Source    json.RawMessage `json:"source"` // passed on untouched; JSON null when absent
	Image     *Gray           `json:"image"`
	Threshold *int            `json:"threshold"`
	Regions   []Region        `json:"regions"`
}

// ParseDetection decodes and checks a classifier's input, naming what is
// wrong in errors that wrap fnkit.ErrBadInput: the image must be consistent,
// the threshold in [1, 255] and every seed a pixel of the image at or above
// the threshold.
func ParseDetection(input []byte) (Detection, error) {
	var d Detection
	if err := fnkit.DecodeJSON(input, &d, "detect's output"); err != nil {
		return d, err
	}
	if len(d.Source) == 0 {
		d.Source = json.RawMessage("null")
	}
	if err := d.Image.Check(1); err != nil {
		return d, err
	}
	if d.Threshold == nil || *d.Threshold < 1 || *d.Threshold > 255 {
		return d, fmt.Errorf("%w: threshold is required and must be in [1, 255]", fnkit.ErrBadInput)
	}
	img, t := d.Image, *d.Threshold
	for i, r := range d.Regions {
		x, y := r.Seed[0], r.Seed[1]
		if x < 0 || y < 0 || x >= img.Width || y >= img.Height {
			return d, fmt.Errorf("%w: regions[%d].seed (%d, %d) lies outside the %dx%d image", fnkit.ErrBadInput, i, x, y, img.Width, img.Height)
		}
		if int(img.Pixels[y*img.Width+x]) < t {
			return d, fmt.Errorf("%w: regions[%d].seed (%d, %d) is below the threshold %d, so it names no region", fnkit.ErrBadInput, i, x, y, t)
		}
	}
	return d, nil
}

// Verdicts is a classifier's output: the source passed on and one verdict per
// region, in detect's order.
type Verdicts[V any] struct {
	Source  json.RawMessage `json:"source"`
	Regions []V             `json:"regions"`
}

// ClassifyRegions is a classifier's handler around its classify: it parses
// input with ParseDetection, calls classify for every region (in parallel,
// with fnkit.ForEach) and returns the Verdicts as the handler's output.
func ClassifyRegions[V any](ctx context.Context, input []byte, classify func(img Gray, t int, r Region) V) ([]byte, error) {
	d, err := ParseDetection(input)
	if err != nil {
		return nil, err
	}
	verdicts := make([]V, len(d.Regions))
	err = fnkit.ForEach(ctx, len(d.Regions), func(i int) {
		verdicts[i] = classify(*d.Image, *d.Threshold, d.Regions[i])
	})
	if err != nil {
		return nil, fmt.Errorf("classify regions: %w", err)
	}
	return fnkit.EncodeJSON(Verdicts[V]{Source: d.Source, Regions: verdicts})
}
