// Package raster holds what the ml-pipeline sample functions share about
// images and the regions in them: the grayscale image that travels between
// the stages, the flood fill that recovers a region from its seed, and
// detect's output as the classifiers read it, with their input checks; and
// ClassifyRegions, the handler both classifiers are built on. It uses the
// standard library and fnkit only, so functions stay static binaries.
package raster

import (
	"fmt"

	"baton.dev/baton/dags/functions/fnkit"
)

// MaxSide is the largest width or height an image may have.
const MaxSide = 4096

// Gray is an 8-bit grayscale image, row-major; Pixels travels as base64.
type Gray struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pixels []byte `json:"pixels"`
}

// Check rejects a missing image (img is nil), one whose width or height lies
// outside [minSide, MaxSide], and one whose pixel count is not width·height.
// Its errors wrap fnkit.ErrBadInput and name the field "image".
func (img *Gray) Check(minSide int) error {
	switch {
	case img == nil:
		return fmt.Errorf("%w: image is required", fnkit.ErrBadInput)
	case img.Width < minSide || img.Height < minSide || img.Width > MaxSide || img.Height > MaxSide:
		return fmt.Errorf("%w: image is %dx%d; width and height must be in [%d, %d]", fnkit.ErrBadInput, img.Width, img.Height, minSide, MaxSide)
	case len(img.Pixels) != img.Width*img.Height:
		return fmt.Errorf("%w: image.pixels holds %d bytes, want width*height = %d", fnkit.ErrBadInput, len(img.Pixels), img.Width*img.Height)
	}
	return nil
}
