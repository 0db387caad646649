package main

import (
	"math"
	"math/rand/v2"
)

// shapeNames lists the shapes the scene draws from; classify-shape must recover them.
func shapeNames() [3]string { return [3]string{"circle", "rectangle", "triangle"} }

// textureNames lists the textures the scene draws from; classify-texture must recover them.
func textureNames() [3]string { return [3]string{"smooth", "striped", "checkered"} }

// plane is a grayscale image of int32 samples, row-major.
type plane struct {
	width, height int
	pix           []int32
}

// scene is a rendered image with the objects drawn into it.
type scene struct {
	image plane
	truth []truthShape
}

// point is an integer pixel position.
type point struct{ x, y int }

// renderScene draws up to objects non-overlapping textured shapes on a noisy
// shaded background. The result depends only on the arguments.
func renderScene(seed uint64, width, height, objects int) scene {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	img := plane{width: width, height: height, pix: make([]int32, width*height)}
	for y := range height {
		for x := range width {
			img.pix[y*width+x] = int32(50 + 30*x/width + 20*y/height + rng.IntN(25) - 12)
		}
	}
	side := min(width, height)
	minR, maxR, gap := max(side/28, 6), max(side/14, 10), max(side/40, 3)
	var truth []truthShape
	for range objects {
		obj, ok := placeObject(rng, width, height, minR, maxR, gap, truth)
		if !ok {
			break
		}
		drawObject(rng, img, obj)
		truth = append(truth, obj)
	}
	return scene{image: img, truth: truth}
}

// placeObject picks a shape, texture and a spot that keeps gap pixels from
// every placed object; it gives up after a bounded number of tries.
func placeObject(rng *rand.Rand, width, height, minR, maxR, gap int, placed []truthShape) (truthShape, bool) {
	shapes, textures := shapeNames(), textureNames()
	obj := truthShape{
		Shape:   shapes[rng.IntN(len(shapes))],
		Texture: textures[rng.IntN(len(textures))],
		Radius:  minR + rng.IntN(maxR-minR+1),
	}
	margin := obj.Radius + gap
	if 2*margin >= width || 2*margin >= height {
		return obj, false
	}
tries:
	for range 400 {
		obj.X = margin + rng.IntN(width-2*margin)
		obj.Y = margin + rng.IntN(height-2*margin)
		for _, p := range placed {
			d := obj.Radius + p.Radius + gap
			dx, dy := obj.X-p.X, obj.Y-p.Y
			if dx*dx+dy*dy < d*d {
				continue tries
			}
		}
		return obj, true
	}
	return obj, false
}

// drawObject paints obj with its texture into img.
func drawObject(rng *rand.Rand, img plane, obj truthShape) {
	angle := rng.Float64() * 2 * math.Pi
	base := int32(175 + rng.IntN(41))
	period := 5*obj.Radius/12 + rng.IntN(max(obj.Radius/8, 1))
	period = max(period, 4)
	direction := rng.IntN(4)
	var polygon []point
	switch obj.Shape {
	case "rectangle":
		aspect := 0.45 + 0.3*rng.Float64()
		polygon = rotatedRectangle(obj, angle, aspect)
	case "triangle":
		polygon = regularPolygon(obj, angle, 3)
	}
	r2 := obj.Radius * obj.Radius
	for y := max(obj.Y-obj.Radius, 0); y <= min(obj.Y+obj.Radius, img.height-1); y++ {
		for x := max(obj.X-obj.Radius, 0); x <= min(obj.X+obj.Radius, img.width-1); x++ {
			inside := false
			if polygon == nil {
				dx, dy := x-obj.X, y-obj.Y
				inside = dx*dx+dy*dy <= r2
			} else {
				inside = insideConvex(polygon, point{x, y})
			}
			if inside {
				img.pix[y*img.width+x] = base + texture(obj.Texture, direction, period, x, y)
			}
		}
	}
}

// texture is the intensity offset of a texture at (x, y).
func texture(name string, direction, period, x, y int) int32 {
	const amplitude = 32
	const offset = 1 << 20 // keeps the coordinates positive for integer division
	var phase int
	switch name {
	case "striped":
		steps := [4]point{{1, 0}, {0, 1}, {1, 1}, {1, -1}}
		s := steps[direction]
		phase = (s.x*x + s.y*y + offset) / period
	case "checkered":
		phase = x/period + y/period
	default:
		return 0
	}
	if phase%2 == 0 {
		return amplitude
	}
	return -amplitude
}

// rotatedRectangle returns the corners of a rectangle inscribed in obj's
// circle, with side ratio aspect, rotated by angle.
func rotatedRectangle(obj truthShape, angle, aspect float64) []point {
	half := math.Atan(aspect)
	r := float64(obj.Radius)
	corners := []float64{half, math.Pi - half, math.Pi + half, 2*math.Pi - half}
	poly := make([]point, len(corners))
	for i, c := range corners {
		poly[i] = polar(obj, r, angle+c)
	}
	return poly
}

// regularPolygon returns the n corners of a regular polygon inscribed in obj's circle.
func regularPolygon(obj truthShape, angle float64, n int) []point {
	poly := make([]point, n)
	for i := range n {
		poly[i] = polar(obj, float64(obj.Radius), angle+2*math.Pi*float64(i)/float64(n))
	}
	return poly
}

// polar returns the pixel at distance r and angle a from obj's centre.
func polar(obj truthShape, r, a float64) point {
	return point{obj.X + int(math.Round(r*math.Cos(a))), obj.Y + int(math.Round(r*math.Sin(a)))}
}

// insideConvex reports whether p lies in the convex polygon poly (either
// winding), using exact integer edge functions.
func insideConvex(poly []point, p point) bool {
	pos, neg := false, false
	for i, a := range poly {
		b := poly[(i+1)%len(poly)]
		cross := (b.x-a.x)*(p.y-a.y) - (b.y-a.y)*(p.x-a.x)
		if cross > 0 {
			pos = true
		} else if cross < 0 {
			neg = true
		}
		if pos && neg {
			return false
		}
	}
	return true
}
