// Package video holds what the video-analytics sample functions share: the
// segment of grayscale frames they pass along, and an 8×8 DCT, the transform
// of JPEG and of most video codecs' intra blocks.
package video

import (
	"fmt"
	"math"
)

// Segment is a run of consecutive grayscale frames, one byte per pixel,
// row-major; JSON carries each frame base64-encoded.
type Segment struct {
	Index      int      `json:"index"`       // position of the segment in the video
	FirstFrame int      `json:"first_frame"` // number of its first frame in the video
	Width      int      `json:"width"`
	Height     int      `json:"height"`
	Frames     [][]byte `json:"frames"`
	// Stats accumulate what the stages did to the segment.
	Stats Stats `json:"stats"`
}

// Stats are what the stages report about a segment.
type Stats struct {
	WatermarkedBlocks int     `json:"watermarked_blocks,omitempty"`
	EncodedBytes      int     `json:"encoded_bytes,omitempty"`
	PSNR              float64 `json:"psnr,omitempty"`
}

// Check returns an error unless the segment's frames match its size, which
// must be a positive multiple of 8 in both directions.
func (s *Segment) Check() error {
	switch {
	case s.Width <= 0 || s.Height <= 0 || s.Width%8 != 0 || s.Height%8 != 0:
		return fmt.Errorf("frame size %dx%d: want positive multiples of 8", s.Width, s.Height)
	case s.Width*s.Height > 4<<20:
		return fmt.Errorf("frame size %dx%d: more than 4 megapixels", s.Width, s.Height)
	case len(s.Frames) == 0:
		return fmt.Errorf("segment %d has no frames", s.Index)
	}
	for i, f := range s.Frames {
		if len(f) != s.Width*s.Height {
			return fmt.Errorf("frame %d has %d pixels, want %dx%d", i, len(f), s.Width, s.Height)
		}
	}
	return nil
}

// Block is an 8×8 block of samples or coefficients, row-major.
type Block [64]float64

// cosTable[u][x] = c(u) · cos((2x+1)uπ/16), the orthonormal DCT-II basis.
var cosTable = func() (t [8][8]float64) {
	for u := range 8 {
		c := math.Sqrt(2.0 / 8)
		if u == 0 {
			c = math.Sqrt(1.0 / 8)
		}
		for x := range 8 {
			t[u][x] = c * math.Cos(float64(2*x+1)*float64(u)*math.Pi/16)
		}
	}
	return t
}()

// DCT returns the 2-D DCT-II of b (separable: rows, then columns).
func DCT(b *Block) Block {
	var tmp, out Block
	for y := range 8 {
		for u := range 8 {
			s := 0.0
			for x := range 8 {
				s += cosTable[u][x] * b[y*8+x]
			}
			tmp[y*8+u] = s
		}
	}
	for u := range 8 {
		for v := range 8 {
			s := 0.0
			for y := range 8 {
				s += cosTable[v][y] * tmp[y*8+u]
			}
			out[v*8+u] = s
		}
	}
	return out
}

// IDCT inverts DCT.
func IDCT(c *Block) Block {
	var tmp, out Block
	for v := range 8 {
		for x := range 8 {
			s := 0.0
			for u := range 8 {
				s += cosTable[u][x] * c[v*8+u]
			}
			tmp[v*8+x] = s
		}
	}
	for x := range 8 {
		for y := range 8 {
			s := 0.0
			for v := range 8 {
				s += cosTable[v][y] * tmp[v*8+x]
			}
			out[y*8+x] = s
		}
	}
	return out
}

// Load reads the 8×8 block at block coordinates (bx, by) of a frame,
// centred on zero as JPEG does.
func Load(frame []byte, width, bx, by int) Block {
	var b Block
	for y := range 8 {
		row := (by*8+y)*width + bx*8
		for x := range 8 {
			b[y*8+x] = float64(frame[row+x]) - 128
		}
	}
	return b
}

// Store writes a block back, rounding and clamping to 0..255.
func Store(frame []byte, width, bx, by int, b *Block) {
	for y := range 8 {
		row := (by*8+y)*width + bx*8
		for x := range 8 {
			frame[row+x] = byte(math.Max(0, math.Min(255, math.Round(b[y*8+x]+128))))
		}
	}
}

// Round3 rounds to three decimals, so reported floats are stable.
func Round3(x float64) float64 { return math.Round(x*1000) / 1000 }
