package main

import (
	"math"

	"baton.dev/baton/dags/functions/raster"
)

// Radial signature settings.
const (
	rays    = 3072 // rays from the centroid
	rayStep = 1.0 / 16
)

// shapeFeaturesOf traces the radial signature of m on img: along each ray it
// walks from the centroid in sub-pixel steps, interpolating the image
// bilinearly, to where the intensity falls below t or leaves the region.
func shapeFeaturesOf(img raster.Gray, t int, m raster.Mask) shapeFeatures {
	signature := make([]float64, rays)
	maxR := 0.0
	for i := range signature {
		a := 2 * math.Pi * float64(i) / rays
		dx, dy := math.Cos(a), math.Sin(a)
		d := 0.0
		for {
			next := d + rayStep
			x, y := m.CX+next*dx, m.CY+next*dy
			if !m.Contains(int(math.Round(x)), int(math.Round(y))) || bilinear(img, x, y) < float64(t) {
				break
			}
			d = next
		}
		signature[i] = d
		maxR = max(maxR, d)
	}
	f := shapeFeatures{Fill: 1}
	if maxR > 0 {
		f.Fill = float64(m.Area) / (math.Pi * maxR * maxR)
	}
	f0 := harmonic(signature, 0)
	if f0 > 0 {
		f.Harmonic2 = harmonic(signature, 2) / f0
		f.Harmonic3 = harmonic(signature, 3) / f0
		f.Harmonic4 = harmonic(signature, 4) / f0
	}
	return f
}

// bilinear interpolates img at (x, y), replicating the border.
func bilinear(img raster.Gray, x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	at := func(xi, yi int) float64 {
		xi = min(max(xi, 0), img.Width-1)
		yi = min(max(yi, 0), img.Height-1)
		return float64(img.Pixels[yi*img.Width+xi])
	}
	ix, iy := int(x0), int(y0)
	top := at(ix, iy)*(1-fx) + at(ix+1, iy)*fx
	bottom := at(ix, iy+1)*(1-fx) + at(ix+1, iy+1)*fx
	return top*(1-fy) + bottom*fy
}

// harmonic returns the magnitude of the k-th DFT coefficient of s.
func harmonic(s []float64, k int) float64 {
	var re, im float64
	for i, v := range s {
		a := 2 * math.Pi * float64(k*i) / float64(len(s))
		re += v * math.Cos(a)
		im -= v * math.Sin(a)
	}
	return math.Hypot(re, im)
}
