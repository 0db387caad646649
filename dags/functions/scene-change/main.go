// Command scene-change is the last per-segment stage of the video-analytics
// sample workflow. It takes each frame's 32-bin luminance histogram and
// edge map (Sobel), and marks a cut where the histogram distance and the
// share of changed edges between consecutive frames both jump.
package main

import (
	"context"
	"fmt"
	"math"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/video"
)

// Bins is the histogram size.
const Bins = 32

// Thresholds above which consecutive frames are a cut.
const (
	HistogramThreshold = 0.25
	EdgeThreshold      = 0.4
)

// response is what scene-change reports about a segment.
type response struct {
	Index      int         `json:"index"`
	FirstFrame int         `json:"first_frame"`
	Frames     int         `json:"frames"`
	Cuts       []int       `json:"cuts"` // frame numbers in the video that start a new scene
	MeanLuma   float64     `json:"mean_luma"`
	FirstHist  []float64   `json:"first_hist"`
	LastHist   []float64   `json:"last_hist"`
	Stats      video.Stats `json:"stats"`
}

func main() { fnkit.Main("scene-change", handle) }

// handle finds the cuts inside one segment.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var s video.Segment
	if err := fnkit.DecodeJSON(input, &s, "one of transcode's segments"); err != nil {
		return nil, err
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", fnkit.ErrBadInput, err)
	}
	hists := make([][]float64, len(s.Frames))
	edges := make([][]bool, len(s.Frames))
	luma := make([]float64, len(s.Frames))
	err := fnkit.ForEach(ctx, len(s.Frames), func(i int) {
		hists[i], luma[i] = histogram(s.Frames[i])
		edges[i] = sobel(s.Frames[i], s.Width, s.Height)
	})
	if err != nil {
		return nil, err
	}
	out := response{Index: s.Index, FirstFrame: s.FirstFrame, Frames: len(s.Frames), Cuts: []int{}, Stats: s.Stats}
	for i := 1; i < len(s.Frames); i++ {
		if HistogramDistance(hists[i-1], hists[i]) > HistogramThreshold && edgeChange(edges[i-1], edges[i]) > EdgeThreshold {
			out.Cuts = append(out.Cuts, s.FirstFrame+i)
		}
	}
	sum := 0.0
	for _, l := range luma {
		sum += l
	}
	out.MeanLuma = video.Round3(sum / float64(len(luma)))
	out.FirstHist, out.LastHist = round(hists[0]), round(hists[len(hists)-1])
	return fnkit.EncodeJSON(out)
}

// histogram is a frame's normalised luminance histogram and mean.
func histogram(f []byte) ([]float64, float64) {
	h := make([]float64, Bins)
	sum := 0
	for _, p := range f {
		h[int(p)*Bins/256]++
		sum += int(p)
	}
	for i := range h {
		h[i] /= float64(len(f))
	}
	return h, float64(sum) / float64(len(f))
}

// HistogramDistance is half the L1 distance of two normalised histograms, in [0, 1].
func HistogramDistance(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d += math.Abs(a[i] - b[i])
	}
	return d / 2
}

// sobel marks the pixels whose gradient magnitude exceeds 64.
func sobel(f []byte, w, h int) []bool {
	e := make([]bool, len(f))
	at := func(x, y int) int { return int(f[y*w+x]) }
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			gx := at(x+1, y-1) + 2*at(x+1, y) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x-1, y) - at(x-1, y+1)
			gy := at(x-1, y+1) + 2*at(x, y+1) + at(x+1, y+1) - at(x-1, y-1) - 2*at(x, y-1) - at(x+1, y-1)
			e[y*w+x] = gx*gx+gy*gy > 64*64
		}
	}
	return e
}

// edgeChange is the share of edge pixels in either frame that are not edges in both.
func edgeChange(a, b []bool) float64 {
	either, changed := 0, 0
	for i := range a {
		if a[i] || b[i] {
			either++
			if a[i] != b[i] {
				changed++
			}
		}
	}
	if either == 0 {
		return 0
	}
	return float64(changed) / float64(either)
}

// round rounds a histogram for the report.
func round(h []float64) []float64 {
	out := make([]float64, len(h))
	for i, v := range h {
		out[i] = math.Round(v*1e4) / 1e4
	}
	return out
}
