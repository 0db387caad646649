// Command transcode is the second per-segment stage of the video-analytics
// sample workflow. It halves each frame's resolution and codes it as JPEG
// intra frames do: 8×8 DCT, quantisation at quality 50, zig-zag run-length
// coding (whose size it counts), then decodes it again and measures the
// PSNR of the result. The decoded, smaller frames go on to scene-change.
package main

import (
	"context"
	"fmt"
	"math"
	"math/bits"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/video"
)

// quant is the JPEG standard luminance table (quality 50).
var quant = video.Block{
	16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
}

// zigzag is the JPEG coefficient order.
var zigzag = [64]int{
	0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
}

func main() { fnkit.Main("transcode", handle) }

// handle transcodes one segment.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var s video.Segment
	if err := fnkit.DecodeJSON(input, &s, "one of watermark's segments"); err != nil {
		return nil, err
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", fnkit.ErrBadInput, err)
	}
	if s.Width%16 != 0 || s.Height%16 != 0 {
		return nil, fmt.Errorf("%w: frame size %dx%d: want multiples of 16 to halve", fnkit.ErrBadInput, s.Width, s.Height)
	}
	w, h := s.Width/2, s.Height/2
	sizes := make([]int, len(s.Frames))
	sqErr := make([]float64, len(s.Frames))
	err := fnkit.ForEach(ctx, len(s.Frames), func(i int) {
		small := halve(s.Frames[i], s.Width, s.Height)
		decoded := make([]byte, len(small))
		for by := range h / 8 {
			for bx := range w / 8 {
				b := video.Load(small, w, bx, by)
				c := video.DCT(&b)
				var q [64]int
				for k := range c {
					q[k] = int(math.Round(c[k] / quant[k]))
					c[k] = float64(q[k]) * quant[k]
				}
				sizes[i] += codedBits(&q)
				d := video.IDCT(&c)
				video.Store(decoded, w, bx, by, &d)
			}
		}
		for k := range small {
			e := float64(small[k]) - float64(decoded[k])
			sqErr[i] += e * e
		}
		s.Frames[i] = decoded
	})
	if err != nil {
		return nil, err
	}
	totalBits, totalErr := 0, 0.0
	for i := range sizes {
		totalBits += sizes[i]
		totalErr += sqErr[i]
	}
	mse := totalErr / float64(w*h*len(s.Frames))
	s.Width, s.Height = w, h
	s.Stats.EncodedBytes = (totalBits + 7) / 8
	s.Stats.PSNR = video.Round3(10 * math.Log10(255*255/math.Max(mse, 1e-9)))
	return fnkit.EncodeJSON(s)
}

// halve downscales a frame by two with a 2×2 box filter.
func halve(f []byte, w, h int) []byte {
	out := make([]byte, w/2*h/2)
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x += 2 {
			sum := int(f[y*w+x]) + int(f[y*w+x+1]) + int(f[(y+1)*w+x]) + int(f[(y+1)*w+x+1])
			out[y/2*(w/2)+x/2] = byte((sum + 2) / 4)
		}
	}
	return out
}

// codedBits estimates a block's size in JPEG's scheme: the DC value, then
// each non-zero AC coefficient as (zero run, size) plus its magnitude bits,
// then an end-of-block code.
func codedBits(q *[64]int) int {
	n := 4 + magnitudeBits(q[0])
	run := 0
	for _, k := range zigzag[1:] {
		if q[k] == 0 {
			run++
			continue
		}
		n += 8*(run/16) + 6 + magnitudeBits(q[k])
		run = 0
	}
	return n + 4
}

// magnitudeBits is the number of bits of |v|.
func magnitudeBits(v int) int {
	if v < 0 {
		v = -v
	}
	return bits.Len(uint(v))
}
