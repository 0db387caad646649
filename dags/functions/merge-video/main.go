// Command merge-video is the last stage of the video-analytics sample
// workflow. It joins the per-segment reports in order, finds the cuts that
// fall on segment boundaries (which no single segment could see), and sums
// up the video: scenes, coded size, bitrate, quality and a checksum.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"baton.dev/baton/dags/functions/fnkit"
)

// FPS is the frame rate the bitrate assumes.
const FPS = 24

// BoundaryThreshold is the histogram distance above which a segment boundary is a cut.
const BoundaryThreshold = 0.25

// report is scene-change's answer for one segment.
type report struct {
	Index      int       `json:"index"`
	FirstFrame int       `json:"first_frame"`
	Frames     int       `json:"frames"`
	Cuts       []int     `json:"cuts"`
	MeanLuma   float64   `json:"mean_luma"`
	FirstHist  []float64 `json:"first_hist"`
	LastHist   []float64 `json:"last_hist"`
	Stats      struct {
		WatermarkedBlocks int     `json:"watermarked_blocks"`
		EncodedBytes      int     `json:"encoded_bytes"`
		PSNR              float64 `json:"psnr"`
	} `json:"stats"`
}

// response is the video-analytics workflow's answer.
type response struct {
	Segments          int     `json:"segments"`
	Frames            int     `json:"frames"`
	Cuts              []int   `json:"cuts"`
	Scenes            int     `json:"scenes"`
	WatermarkedBlocks int     `json:"watermarked_blocks"`
	EncodedBytes      int     `json:"encoded_bytes"`
	BitrateKbps       float64 `json:"bitrate_kbps"`
	MeanPSNR          float64 `json:"mean_psnr"`
	MeanLuma          float64 `json:"mean_luma"`
	Checksum          string  `json:"checksum"`
}

func main() { fnkit.Main("merge-video", handle) }

// handle merges the segment reports.
func handle(_ context.Context, input []byte) ([]byte, error) {
	var reps []report
	if err := fnkit.DecodeJSON(input, &reps, "scene-change's outputs, gathered into an array"); err != nil {
		return nil, err
	}
	if len(reps) == 0 {
		return nil, fmt.Errorf("%w: no segment reports to merge", fnkit.ErrBadInput)
	}
	out := response{Segments: len(reps), Cuts: []int{}}
	psnr, luma := 0.0, 0.0
	for i, r := range reps {
		if r.Index != i || r.FirstFrame != out.Frames {
			return nil, fmt.Errorf("%w: report %d is segment %d from frame %d: want segments in order, back to back", fnkit.ErrBadInput, i, r.Index, r.FirstFrame)
		}
		if i > 0 {
			d, err := distance(reps[i-1].LastHist, r.FirstHist)
			if err != nil {
				return nil, fmt.Errorf("%w: segments %d and %d: %w", fnkit.ErrBadInput, i-1, i, err)
			}
			if d > BoundaryThreshold {
				out.Cuts = append(out.Cuts, r.FirstFrame)
			}
		}
		out.Cuts = append(out.Cuts, r.Cuts...)
		out.Frames += r.Frames
		out.WatermarkedBlocks += r.Stats.WatermarkedBlocks
		out.EncodedBytes += r.Stats.EncodedBytes
		psnr += r.Stats.PSNR * float64(r.Frames)
		luma += r.MeanLuma * float64(r.Frames)
	}
	out.Scenes = len(out.Cuts) + 1
	out.BitrateKbps = round3(float64(out.EncodedBytes*8) / (float64(out.Frames) / FPS) / 1000)
	out.MeanPSNR = round3(psnr / float64(out.Frames))
	out.MeanLuma = round3(luma / float64(out.Frames))
	body, err := json.Marshal(reps)
	if err != nil {
		return nil, fmt.Errorf("checksum: %w", err)
	}
	sum := sha256.Sum256(body)
	out.Checksum = hex.EncodeToString(sum[:])
	return fnkit.EncodeJSON(out)
}

// distance is half the L1 distance of two histograms.
func distance(a, b []float64) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("histograms of %d and %d bins", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		d += math.Abs(a[i] - b[i])
	}
	return d / 2, nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
