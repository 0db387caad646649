// Command watermark is the first per-segment stage of the video-analytics
// sample workflow. It stamps a visible mark in each frame's corner and hides
// an invisible one: a keyed ±1 pattern added to a mid-frequency DCT
// coefficient of every 8×8 block (spread-spectrum watermarking). Frames are
// spread over the sandbox's CPUs.
package main

import (
	"context"
	"fmt"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/video"
)

// Strength is how far the hidden mark moves its coefficient.
const Strength = 6

// markCoefficient is the (row 3, column 4) DCT coefficient: mid-frequency,
// so the mark survives mild compression but stays invisible.
const markCoefficient = 3*8 + 4

func main() { fnkit.Main("watermark", handle) }

// handle watermarks one segment.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var s video.Segment
	if err := fnkit.DecodeJSON(input, &s, "one of split-video's segments"); err != nil {
		return nil, err
	}
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("%w: %w", fnkit.ErrBadInput, err)
	}
	bw, bh := s.Width/8, s.Height/8
	err := fnkit.ForEach(ctx, len(s.Frames), func(i int) {
		f := s.Frames[i]
		for by := range bh {
			for bx := range bw {
				b := video.Load(f, s.Width, bx, by)
				c := video.DCT(&b)
				c[markCoefficient] += Strength * keyBit(s.FirstFrame+i, bx, by)
				b = video.IDCT(&c)
				video.Store(f, s.Width, bx, by, &b)
			}
		}
		stampLogo(f, s.Width, s.Height)
	})
	if err != nil {
		return nil, err
	}
	s.Stats.WatermarkedBlocks = len(s.Frames) * bw * bh
	return fnkit.EncodeJSON(s)
}

// keyBit is the keyed ±1 of a block of a frame.
func keyBit(frame, bx, by int) float64 {
	h := uint64(frame)*0x9e3779b97f4a7c15 ^ uint64(bx)<<32 ^ uint64(by)
	h *= 0xbf58476d1ce4e5b9
	if h>>63 == 1 {
		return 1
	}
	return -1
}

// stampLogo blends a hollow square in the bottom-right corner, 30% white.
func stampLogo(f []byte, w, h int) {
	size := min(w, h) / 6
	x0, y0 := w-size-2, h-size-2
	for y := y0; y < y0+size; y++ {
		for x := x0; x < x0+size; x++ {
			if x-x0 < 2 || y-y0 < 2 || x0+size-x <= 2 || y0+size-y <= 2 {
				p := &f[y*w+x]
				*p = byte((int(*p)*7 + 255*3) / 10)
			}
		}
	}
}
