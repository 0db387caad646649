// Command split-video is the first stage of the video-analytics sample
// workflow. It renders a deterministic synthetic video — scenes of shaded
// backgrounds with moving discs and sensor noise, cut between scenes — and
// splits it into segments of consecutive frames for the per-segment stages.
package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/video"
)

// request describes the video to render.
type request struct {
	Seed          uint64 `json:"seed"`
	Width         int    `json:"width"`  // multiple of 16, 16..1024
	Height        int    `json:"height"` // multiple of 16, 16..1024
	Frames        int    `json:"frames"` // 1..240
	SegmentFrames int    `json:"segment_frames"`
	Scenes        int    `json:"scenes"` // 1..frames
}

// response is the video in segments.
type response struct {
	Frames   int             `json:"frames"`
	Segments []video.Segment `json:"segments"`
}

// scene is what one scene draws.
type scene struct {
	base, slopeX, slopeY float64
	discs                []disc
}

// disc is a moving disc.
type disc struct{ x, y, vx, vy, r, level float64 }

func main() { fnkit.Main("split-video", handle) }

// handle renders and splits the video.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var req request
	if err := fnkit.DecodeJSONStrict(input, &req, `{"seed", "width", "height", "frames", "segment_frames", "scenes"}`); err != nil {
		return nil, err
	}
	switch {
	case req.Width < 16 || req.Width > 1024 || req.Width%16 != 0:
		return nil, fmt.Errorf("%w: width must be a multiple of 16 in 16..1024, got %d", fnkit.ErrBadInput, req.Width)
	case req.Height < 16 || req.Height > 1024 || req.Height%16 != 0:
		return nil, fmt.Errorf("%w: height must be a multiple of 16 in 16..1024, got %d", fnkit.ErrBadInput, req.Height)
	case req.Frames < 1 || req.Frames > 240:
		return nil, fmt.Errorf("%w: frames must be 1..240, got %d", fnkit.ErrBadInput, req.Frames)
	case req.SegmentFrames < 1 || req.SegmentFrames > req.Frames:
		return nil, fmt.Errorf("%w: segment_frames must be 1..frames, got %d", fnkit.ErrBadInput, req.SegmentFrames)
	case req.Scenes < 1 || req.Scenes > req.Frames:
		return nil, fmt.Errorf("%w: scenes must be 1..frames, got %d", fnkit.ErrBadInput, req.Scenes)
	}
	rng := rand.New(rand.NewPCG(req.Seed, 0x71de0))
	scenes := make([]scene, req.Scenes)
	for i := range scenes {
		s := scene{base: 40 + 170*rng.Float64(), slopeX: rng.Float64()*0.6 - 0.3, slopeY: rng.Float64()*0.6 - 0.3}
		for range 3 + rng.IntN(3) {
			s.discs = append(s.discs, disc{
				x: rng.Float64() * float64(req.Width), y: rng.Float64() * float64(req.Height),
				vx: rng.Float64()*6 - 3, vy: rng.Float64()*6 - 3,
				r: 6 + rng.Float64()*float64(min(req.Width, req.Height))/6, level: 255 * rng.Float64(),
			})
		}
		scenes[i] = s
	}
	frames := make([][]byte, req.Frames)
	err := fnkit.ForEach(ctx, req.Frames, func(t int) {
		sc := t * req.Scenes / req.Frames
		start := sc * req.Frames / req.Scenes
		frames[t] = render(&scenes[sc], t-start, req.Width, req.Height, req.Seed^uint64(t)*0x9e3779b97f4a7c15)
	})
	if err != nil {
		return nil, err
	}
	out := response{Frames: req.Frames}
	for i, from := 0, 0; from < req.Frames; i, from = i+1, from+req.SegmentFrames {
		to := min(from+req.SegmentFrames, req.Frames)
		out.Segments = append(out.Segments, video.Segment{Index: i, FirstFrame: from, Width: req.Width, Height: req.Height, Frames: frames[from:to]})
	}
	return fnkit.EncodeJSON(out)
}

// render draws frame t of a scene: a shaded background, discs with soft
// edges, and hash noise of ±6 levels.
func render(s *scene, t, w, h int, noiseSeed uint64) []byte {
	f := make([]byte, w*h)
	for y := range h {
		for x := range w {
			v := s.base + s.slopeX*float64(x) + s.slopeY*float64(y)
			for _, d := range s.discs {
				dx, dy := float64(x)-(d.x+d.vx*float64(t)), float64(y)-(d.y+d.vy*float64(t))
				if e := d.r - math.Sqrt(dx*dx+dy*dy); e > 0 {
					a := math.Min(1, e/2)
					v = v*(1-a) + d.level*a
				}
			}
			n := (noiseSeed + uint64(y*w+x)) * 0xbf58476d1ce4e5b9
			v += float64(n>>60) - 8
			f[y*w+x] = byte(math.Max(0, math.Min(255, v)))
		}
	}
	return f
}
