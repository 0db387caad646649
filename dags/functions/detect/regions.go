package main

import (
	"context"
	"math"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/raster"
)

// Threshold sweep settings.
const (
	sweepFrom = 8
	sweepTo   = 248
	sweepStep = 1
)

// sobel returns the L1 Sobel gradient magnitude of img, scaled by 1/4 and
// clamped to 0..255 (borders are replicated).
func sobel(img raster.Gray) []uint8 {
	w, h := img.Width, img.Height
	at := func(x, y int) int {
		return int(img.Pixels[min(max(y, 0), h-1)*w+min(max(x, 0), w-1)])
	}
	out := make([]uint8, w*h)
	for y := range h {
		for x := range w {
			gx := at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x-1, y) - at(x-1, y+1)
			gy := at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x, y-1) - at(x+1, y-1)
			out[y*w+x] = uint8(min((abs(gx)+abs(gy))/4, 255))
		}
	}
	return out
}

// abs returns |v|.
func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// areaLimits returns the smallest and largest component counted as an object.
func areaLimits(img raster.Gray) (lo, hi int) {
	n := img.Width * img.Height
	return max(16, n/4096), n / 8
}

// sweepResult is what one threshold of the sweep yields.
type sweepResult struct {
	count    int     // components with an object-sized area
	boundary float64 // mean edge magnitude on their boundaries
}

// chooseThreshold labels the image at every threshold of the sweep (in
// parallel), takes the longest run of thresholds yielding the same nonzero
// number of objects and, within it, the threshold whose object boundaries
// have the strongest mean edge magnitude. Ties go to the lower threshold.
func chooseThreshold(ctx context.Context, img raster.Gray, edges []uint8) (int, error) {
	n := (sweepTo-sweepFrom)/sweepStep + 1
	results := make([]sweepResult, n)
	err := fnkit.ForEach(ctx, n, func(i int) {
		results[i] = sweep(img, edges, sweepFrom+i*sweepStep)
	})
	if err != nil {
		return 0, err
	}
	bestStart, bestLen := -1, 0
	for i := 0; i < n; {
		j := i
		for j < n && results[j].count == results[i].count {
			j++
		}
		if results[i].count > 0 && j-i > bestLen {
			bestStart, bestLen = i, j-i
		}
		i = j
	}
	if bestStart < 0 {
		return 128, nil // nothing object-like anywhere: any threshold finds no regions
	}
	best := bestStart
	for i := bestStart; i < bestStart+bestLen; i++ {
		if results[i].boundary > results[best].boundary {
			best = i
		}
	}
	return sweepFrom + best*sweepStep, nil
}

// sweep labels img at threshold t and scores the object-sized components.
func sweep(img raster.Gray, edges []uint8, t int) sweepResult {
	labels, comps := label(img, t)
	lo, hi := areaLimits(img)
	var res sweepResult
	var edgeSum, edgeCount int
	keep := make([]bool, len(comps))
	for i, c := range comps {
		if c.area >= lo && c.area <= hi {
			keep[i] = true
			res.count++
		}
	}
	w, h := img.Width, img.Height
	for y := range h {
		for x := range w {
			l := labels[y*w+x]
			if l == 0 || !keep[l-1] || !onBoundary(labels, w, h, x, y) {
				continue
			}
			edgeSum += int(edges[y*w+x])
			edgeCount++
		}
	}
	if edgeCount > 0 {
		res.boundary = float64(edgeSum) / float64(edgeCount)
	}
	return res
}

// component is one 4-connected set of pixels >= the threshold.
type component struct {
	seed           int // index of its first pixel in raster order
	area           int
	x0, y0, x1, y1 int
	sumX, sumY     int
}

// label finds the 4-connected components of pixels >= t. labels[i] is 0 for
// background, else 1 + the index in comps; comps are in raster order of seed.
func label(img raster.Gray, t int) ([]int32, []component) {
	w, h := img.Width, img.Height
	labels := make([]int32, w*h)
	var comps []component
	var stack []int
	for start, v := range img.Pixels {
		if int(v) < t || labels[start] != 0 {
			continue
		}
		id := int32(len(comps) + 1)
		c := component{seed: start, x0: w, y0: h, x1: -1, y1: -1}
		labels[start] = id
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := p%w, p/w
			c.area++
			c.sumX += x
			c.sumY += y
			c.x0, c.y0, c.x1, c.y1 = min(c.x0, x), min(c.y0, y), max(c.x1, x), max(c.y1, y)
			for _, q := range [4]int{p - 1, p + 1, p - w, p + w} {
				if q < 0 || q >= len(labels) || (q == p-1 && x == 0) || (q == p+1 && x == w-1) {
					continue
				}
				if labels[q] == 0 && int(img.Pixels[q]) >= t {
					labels[q] = id
					stack = append(stack, q)
				}
			}
		}
		comps = append(comps, c)
	}
	return labels, comps
}

// onBoundary reports whether the labelled pixel (x, y) has a 4-neighbour
// outside its component (the image border counts as outside).
func onBoundary(labels []int32, w, h, x, y int) bool {
	l := labels[y*w+x]
	return x == 0 || y == 0 || x == w-1 || y == h-1 ||
		labels[y*w+x-1] != l || labels[y*w+x+1] != l ||
		labels[(y-1)*w+x] != l || labels[(y+1)*w+x] != l
}

// describeRegions labels img at threshold t and describes every
// object-sized component, numbering them from 1 in raster order.
func describeRegions(img raster.Gray, edges []uint8, t int) []region {
	labels, comps := label(img, t)
	lo, hi := areaLimits(img)
	w, h := img.Width, img.Height
	perimeter := make([]int, len(comps))
	edgeSum := make([]int, len(comps))
	for y := range h {
		for x := range w {
			l := labels[y*w+x]
			if l != 0 && onBoundary(labels, w, h, x, y) {
				perimeter[l-1]++
				edgeSum[l-1] += int(edges[y*w+x])
			}
		}
	}
	regions := []region{}
	for i, c := range comps {
		if c.area < lo || c.area > hi {
			continue
		}
		regions = append(regions, region{
			ID:           len(regions) + 1,
			Seed:         [2]int{c.seed % w, c.seed / w},
			BBox:         [4]int{c.x0, c.y0, c.x1, c.y1},
			Area:         c.area,
			Centroid:     [2]float64{round2(float64(c.sumX) / float64(c.area)), round2(float64(c.sumY) / float64(c.area))},
			Perimeter:    perimeter[i],
			EdgeStrength: round2(float64(edgeSum[i]) / float64(perimeter[i])),
		})
	}
	return regions
}

// round2 rounds to two decimals so reported floats stay short and stable.
func round2(v float64) float64 { return math.Round(v*100) / 100 }
