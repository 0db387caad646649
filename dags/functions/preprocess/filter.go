package main

import (
	"context"
	"math"

	"baton.dev/baton/dags/functions/fnkit"
)

// blur applies one pass of the separable binomial kernel [1 4 6 4 1]/16
// (a Gaussian of variance 1) with clamped borders, in integer arithmetic.
// Rows are processed in parallel.
func blur(ctx context.Context, in plane) (plane, error) {
	w, h := in.width, in.height
	tmp := make([]int32, w*h)
	out := plane{width: w, height: h, pix: make([]int32, w*h)}
	clamp := func(v, hi int) int { return min(max(v, 0), hi) }
	err := fnkit.ForEach(ctx, h, func(y int) {
		row := in.pix[y*w : (y+1)*w]
		dst := tmp[y*w : (y+1)*w]
		for x := range w {
			s := row[clamp(x-2, w-1)] + 4*row[clamp(x-1, w-1)] + 6*row[x] +
				4*row[clamp(x+1, w-1)] + row[clamp(x+2, w-1)]
			dst[x] = (s + 8) >> 4
		}
	})
	if err != nil {
		return out, err
	}
	err = fnkit.ForEach(ctx, h, func(y int) {
		r0 := tmp[clamp(y-2, h-1)*w:]
		r1 := tmp[clamp(y-1, h-1)*w:]
		r2 := tmp[y*w:]
		r3 := tmp[clamp(y+1, h-1)*w:]
		r4 := tmp[clamp(y+2, h-1)*w:]
		dst := out.pix[y*w : (y+1)*w]
		for x := range w {
			dst[x] = (r0[x] + 4*r1[x] + 6*r2[x] + 4*r3[x] + r4[x] + 8) >> 4
		}
	})
	return out, err
}

// stretchContrast maps the 0.5th..99.5th percentile range of img linearly
// onto 0..255, clamping the tails.
func stretchContrast(ctx context.Context, img plane) error {
	var hist [256]int
	for _, v := range img.pix {
		hist[min(max(v, 0), 255)]++
	}
	n := len(img.pix)
	lo, hi := percentile(hist[:], n/200), percentile(hist[:], n-1-n/200)
	if hi <= lo {
		hi = lo + 1
	}
	w := img.width
	return fnkit.ForEach(ctx, img.height, func(y int) {
		row := img.pix[y*w : (y+1)*w]
		for x, v := range row {
			row[x] = min(max((v-int32(lo))*255/int32(hi-lo), 0), 255)
		}
	})
}

// percentile returns the smallest value whose cumulative count exceeds rank.
func percentile(hist []int, rank int) int {
	seen := 0
	for v, c := range hist {
		seen += c
		if seen > rank {
			return v
		}
	}
	return len(hist) - 1
}

// small is an 8-bit image.
type small struct {
	width, height int
	pix           []byte
}

// downsample averages scale×scale blocks of img (partial blocks at the
// right and bottom edges average what they cover).
func downsample(img plane, scale int) small {
	w, h := (img.width+scale-1)/scale, (img.height+scale-1)/scale
	out := small{width: w, height: h, pix: make([]byte, w*h)}
	for by := range h {
		for bx := range w {
			var sum, count int32
			for y := by * scale; y < min((by+1)*scale, img.height); y++ {
				for x := bx * scale; x < min((bx+1)*scale, img.width); x++ {
					sum += img.pix[y*img.width+x]
					count++
				}
			}
			out.pix[by*w+bx] = byte((sum + count/2) / count)
		}
	}
	return out
}

// summarize computes the statistics reported with the image.
func summarize(img small) summary {
	s := summary{Min: 255, Histogram: make([]int, histogramBins), BlurPasses: blurPasses}
	var sum, sumSq int64
	for _, v := range img.pix {
		sum += int64(v)
		sumSq += int64(v) * int64(v)
		s.Min = min(s.Min, int(v))
		s.Max = max(s.Max, int(v))
		s.Histogram[int(v)*histogramBins/256]++
	}
	n := float64(len(img.pix))
	mean := float64(sum) / n
	s.Mean = round3(mean)
	s.Stddev = round3(math.Sqrt(max(float64(sumSq)/n-mean*mean, 0)))
	return s
}

// round3 rounds to three decimals so reported floats stay short and stable.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
