package main

import (
	"math"

	"baton.dev/baton/dags/functions/raster"
)

// Gabor bank settings: orientations in steps of 180°/orientations.
const orientations = 4

// wavelengths returns the Gabor filters' wavelengths in pixels.
func wavelengths() [4]float64 { return [4]float64{4, 6, 8, 10} }

// gaborFilter is a quadrature pair (even and odd kernels) of side 2·radius+1.
type gaborFilter struct {
	orientation int
	radius      int
	even, odd   []float64
}

// gaborBank is every (orientation, wavelength) filter.
type gaborBank []gaborFilter

// newGaborBank builds the filters; the even kernels are made zero-mean so
// that flat regions give no response.
func newGaborBank() gaborBank {
	var bank gaborBank
	for o := range orientations {
		theta := math.Pi * float64(o) / orientations
		for _, lambda := range wavelengths() {
			sigma := 0.56 * lambda
			radius := int(math.Ceil(2.5 * sigma))
			side := 2*radius + 1
			f := gaborFilter{orientation: o, radius: radius, even: make([]float64, side*side), odd: make([]float64, side*side)}
			var mean, weight float64
			for y := -radius; y <= radius; y++ {
				for x := -radius; x <= radius; x++ {
					u := float64(x)*math.Cos(theta) + float64(y)*math.Sin(theta)
					g := math.Exp(-float64(x*x+y*y) / (2 * sigma * sigma))
					i := (y+radius)*side + x + radius
					f.even[i] = g * math.Cos(2*math.Pi*u/lambda)
					f.odd[i] = g * math.Sin(2*math.Pi*u/lambda)
					mean += f.even[i]
					weight += g
				}
			}
			for y := -radius; y <= radius; y++ {
				for x := -radius; x <= radius; x++ {
					i := (y+radius)*side + x + radius
					g := math.Exp(-float64(x*x+y*y) / (2 * sigma * sigma))
					f.even[i] -= mean * g / weight
				}
			}
			bank = append(bank, f)
		}
	}
	return bank
}

// orientationEnergy filters the region's interior with every filter and
// returns the mean Gabor energy per orientation. The region's pixels enter
// relative to its mean and everything outside it as 0, so the region's
// outline adds little energy.
func orientationEnergy(img raster.Gray, m raster.Mask, interior []int, bank gaborBank) [orientations]float64 {
	var energy [orientations]float64
	if len(interior) == 0 {
		return energy
	}
	var sum float64
	var n int
	for i, in := range m.In {
		if in {
			sum += float64(img.Pixels[i])
			n++
		}
	}
	mean := sum / float64(n)
	centred := func(x, y int) float64 {
		if !m.Contains(x, y) {
			return 0
		}
		return float64(img.Pixels[y*m.Width+x]) - mean
	}
	for _, f := range bank {
		side := 2*f.radius + 1
		var total float64
		for _, p := range interior {
			px, py := p%m.Width, p/m.Width
			var re, im float64
			for ky := -f.radius; ky <= f.radius; ky++ {
				row := (ky + f.radius) * side
				for kx := -f.radius; kx <= f.radius; kx++ {
					v := centred(px+kx, py+ky)
					re += v * f.even[row+kx+f.radius]
					im += v * f.odd[row+kx+f.radius]
				}
			}
			total += re*re + im*im
		}
		energy[f.orientation] += total / float64(len(interior))
	}
	return energy
}
