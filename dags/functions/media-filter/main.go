// Command media-filter is a stage of the social-compose sample workflow. It
// checks each picture attached to a post: decodes the PNG and checks it
// against its descriptor, takes its SHA-256, makes a 128-pixel JPEG
// thumbnail by area averaging, computes a 64-bit difference hash (dHash,
// for finding re-uploads) and the share of skin-toned pixels (a crude
// nudity signal). Pictures are checked in parallel over the sandbox's CPUs,
// and decoding allocates a frame buffer per picture.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"math"
	"strconv"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// ThumbSize is the longer side of a thumbnail, in pixels.
const ThumbSize = 128

// post is what media-filter reads of compose-post's output.
type post struct {
	Media []social.Media `json:"media"`
}

// report is what the filter found about one picture.
type report struct {
	Index       int     `json:"index"`
	Width       int     `json:"width"`
	Height      int     `json:"height"`
	Bytes       int     `json:"bytes"`
	SHA256      string  `json:"sha256"`
	Thumb       string  `json:"thumb"` // WIDTHxHEIGHT
	ThumbBytes  int     `json:"thumb_bytes"`
	ThumbSHA256 string  `json:"thumb_sha256"`
	DHash       string  `json:"dhash"` // 16 hex digits
	Skin        float64 `json:"skin"`  // share of skin-toned pixels
	Verdict     string  `json:"verdict"`
}

// response lists the reports in media order.
type response struct {
	Media    []report `json:"media"`
	Rejected int      `json:"rejected"`
}

func main() { fnkit.Main("media-filter", handle) }

// handle checks every picture of the post.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var p post
	if err := fnkit.DecodeJSON(input, &p, `compose-post's output: {"media": [{"index", "kind", "width", "height", "png"}], ...}`); err != nil {
		return nil, err
	}
	out := response{Media: make([]report, len(p.Media))}
	errs := make([]error, len(p.Media))
	err := fnkit.ForEach(ctx, len(p.Media), func(i int) {
		out.Media[i], errs[i] = check(p.Media[i])
	})
	if err != nil {
		return nil, err
	}
	for i, e := range errs {
		if e != nil {
			return nil, fmt.Errorf("%w: media %d: %w", fnkit.ErrBadInput, i, e)
		}
		if out.Media[i].Verdict != "ok" {
			out.Rejected++
		}
	}
	return fnkit.EncodeJSON(out)
}

// check decodes and examines one picture.
func check(m social.Media) (report, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(m.PNG))
	if err != nil {
		return report{}, fmt.Errorf("not a PNG: %w", err)
	}
	if cfg.Width != m.Width || cfg.Height != m.Height {
		return report{}, fmt.Errorf("PNG is %dx%d, descriptor says %dx%d", cfg.Width, cfg.Height, m.Width, m.Height)
	}
	if cfg.Width*cfg.Height > 1<<22 {
		return report{}, fmt.Errorf("PNG of %dx%d is over 4 megapixels", cfg.Width, cfg.Height)
	}
	decoded, err := png.Decode(bytes.NewReader(m.PNG))
	if err != nil {
		return report{}, fmt.Errorf("decode PNG: %w", err)
	}
	img := image.NewNRGBA(decoded.Bounds())
	draw.Draw(img, img.Bounds(), decoded, decoded.Bounds().Min, draw.Src)
	sum := sha256.Sum256(m.PNG)
	r := report{Index: m.Index, Width: cfg.Width, Height: cfg.Height, Bytes: len(m.PNG), SHA256: hex.EncodeToString(sum[:])}

	thumb := downscale(img, ThumbSize)
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, thumb, &jpeg.Options{Quality: 80}); err != nil {
		return report{}, fmt.Errorf("encode thumbnail: %w", err)
	}
	tsum := sha256.Sum256(jb.Bytes())
	r.Thumb = strconv.Itoa(thumb.Rect.Dx()) + "x" + strconv.Itoa(thumb.Rect.Dy())
	r.ThumbBytes, r.ThumbSHA256 = jb.Len(), hex.EncodeToString(tsum[:])
	r.DHash = fmt.Sprintf("%016x", dHash(img))
	r.Skin = math.Round(skinShare(img)*1e4) / 1e4
	r.Verdict = "ok"
	if r.Skin > 0.4 {
		r.Verdict = "review"
	}
	return r, nil
}

// downscale shrinks img so that its longer side is at most size, each
// output pixel the average of the input pixels it covers.
func downscale(img *image.NRGBA, size int) *image.NRGBA {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	tw, th := w, h
	if w >= h && w > size {
		tw, th = size, max(1, h*size/w)
	} else if h > w && h > size {
		tw, th = max(1, w*size/h), size
	}
	out := image.NewNRGBA(image.Rect(0, 0, tw, th))
	for ty := range th {
		y0, y1 := ty*h/th, (ty+1)*h/th
		for tx := range tw {
			x0, x1 := tx*w/tw, (tx+1)*w/tw
			var acc [4]int
			for y := y0; y < y1; y++ {
				row := img.Pix[y*img.Stride:]
				for x := x0; x < x1; x++ {
					for k := range 4 {
						acc[k] += int(row[4*x+k])
					}
				}
			}
			n := (y1 - y0) * (x1 - x0)
			for k := range 4 {
				out.Pix[ty*out.Stride+4*tx+k] = uint8(acc[k] / n)
			}
		}
	}
	return out
}

// dHash is the difference hash: the picture shrunk to 9x8 gray, one bit per
// pair of horizontal neighbours, set where the left one is brighter.
func dHash(img *image.NRGBA) uint64 {
	small := downscaleExact(img, 9, 8)
	var h uint64
	for y := range 8 {
		for x := range 8 {
			if gray(small, x, y) > gray(small, x+1, y) {
				h |= 1 << (8*y + x)
			}
		}
	}
	return h
}

// downscaleExact shrinks img to exactly w x h by area averaging.
func downscaleExact(img *image.NRGBA, w, h int) *image.NRGBA {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for ty := range h {
		for tx := range w {
			var acc [3]int
			n := 0
			for y := ty * H / h; y < (ty+1)*H/h; y++ {
				for x := tx * W / w; x < (tx+1)*W/w; x++ {
					o := y*img.Stride + 4*x
					acc[0], acc[1], acc[2] = acc[0]+int(img.Pix[o]), acc[1]+int(img.Pix[o+1]), acc[2]+int(img.Pix[o+2])
					n++
				}
			}
			for k := range 3 {
				out.Pix[ty*out.Stride+4*tx+k] = uint8(acc[k] / n)
			}
		}
	}
	return out
}

// gray is the luma of pixel (x, y).
func gray(img *image.NRGBA, x, y int) int {
	o := y*img.Stride + 4*x
	return (299*int(img.Pix[o]) + 587*int(img.Pix[o+1]) + 114*int(img.Pix[o+2])) / 1000
}

// skinShare is the share of pixels in the classic RGB skin-tone region
// (Kovac et al.).
func skinShare(img *image.NRGBA) float64 {
	skin := 0
	for i := 0; i+3 < len(img.Pix); i += 4 {
		r, g, b := int(img.Pix[i]), int(img.Pix[i+1]), int(img.Pix[i+2])
		if r > 95 && g > 40 && b > 20 && max(r, g, b)-min(r, g, b) > 15 && abs(r-g) > 15 && r > g && r > b {
			skin++
		}
	}
	return float64(skin) / float64(len(img.Pix)/4)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
