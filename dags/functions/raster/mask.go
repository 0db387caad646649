package raster

// Mask is one region's pixels: the 4-connected set of pixels >= a threshold
// that contains a seed pixel.
type Mask struct {
	Width, Height int
	In            []bool // In[y*Width+x] is whether pixel (x, y) belongs to the region
	Area          int
	CX, CY        float64 // centroid
}

// FillRegion flood-fills img from seed, an (x, y) pixel >= t, over the
// pixels >= t.
func FillRegion(img Gray, t int, seed [2]int) Mask {
	w, h := img.Width, img.Height
	m := Mask{Width: w, Height: h, In: make([]bool, w*h)}
	start := seed[1]*w + seed[0]
	m.In[start] = true
	stack := []int{start}
	var sumX, sumY int
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := p%w, p/w
		m.Area++
		sumX += x
		sumY += y
		for _, q := range [4]int{p - 1, p + 1, p - w, p + w} {
			if q < 0 || q >= len(m.In) || (q == p-1 && x == 0) || (q == p+1 && x == w-1) {
				continue
			}
			if !m.In[q] && int(img.Pixels[q]) >= t {
				m.In[q] = true
				stack = append(stack, q)
			}
		}
	}
	m.CX, m.CY = float64(sumX)/float64(m.Area), float64(sumY)/float64(m.Area)
	return m
}

// Contains reports whether pixel (x, y) belongs to the region; pixels outside
// the image do not.
func (m Mask) Contains(x, y int) bool {
	return x >= 0 && y >= 0 && x < m.Width && y < m.Height && m.In[y*m.Width+x]
}
