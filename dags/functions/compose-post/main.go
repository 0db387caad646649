// Command compose-post is the first stage of the social-compose sample
// workflow (DeathStarBench's compose-post). It parses the post — words,
// @mentions, #hashtags and URLs — and materialises each attached picture
// as the PNG a client would upload, rendered deterministically from its
// descriptor (a photo-like scene: sky gradient, sun, hills, grain) and
// PNG-encoded for real. Rendering is spread over the sandbox's CPUs.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"baton.dev/baton/dags/functions/fnkit"
	"baton.dev/baton/dags/functions/social"
)

// Limits on a request.
const (
	maxTextRunes = 5000
	maxMedia     = 4
	maxPixels    = 1 << 20
	maxUsers     = 1_000_000
	maxShards    = 64
)

// request is a post as the client sends it.
type request struct {
	Seed      uint64       `json:"seed"`
	Users     int          `json:"users"`
	Shards    int          `json:"shards"`
	Author    string       `json:"author"`
	Timestamp int64        `json:"timestamp"`
	Text      string       `json:"text"`
	Media     []descriptor `json:"media"`
}

// descriptor describes an attached picture.
type descriptor struct {
	Kind   string `json:"kind"` // "photo"
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

func main() { fnkit.Main("compose-post", handle) }

var (
	mentionRE = regexp.MustCompile(`(?i)(?:^|[^\w@])@([a-z0-9_]{2,32})\b`)
	hashtagRE = regexp.MustCompile(`(?:^|[^\w#])#([\pL\pN_]{1,64})`)
	urlRE     = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>".,;:!?)]`)
)

// handle parses the post and renders its media.
func handle(ctx context.Context, input []byte) ([]byte, error) {
	var req request
	if err := fnkit.DecodeJSONStrict(input, &req, `{"seed", "users", "shards", "author", "timestamp", "text", "media": [{"kind", "width", "height"}]}`); err != nil {
		return nil, err
	}
	if err := check(&req); err != nil {
		return nil, err
	}
	post := social.Post{
		Seed: req.Seed, Users: req.Users, Shards: req.Shards, Author: req.Author, Timestamp: req.Timestamp,
		Text: req.Text, Words: len(strings.Fields(req.Text)),
		Mentions: unique(mentionRE.FindAllStringSubmatch(req.Text, -1), strings.ToLower),
		Hashtags: unique(hashtagRE.FindAllStringSubmatch(req.Text, -1), strings.ToLower),
		URLs:     unique(urlRE.FindAllStringSubmatch(req.Text, -1), nil),
		Media:    make([]social.Media, len(req.Media)),
	}
	// Pictures are rendered and encoded in parallel (PNG encoding is serial
	// within one picture).
	errs := make([]error, len(req.Media))
	err := fnkit.ForEach(ctx, len(req.Media), func(i int) {
		d := req.Media[i]
		img, err := render(ctx, req.Seed, i, d.Width, d.Height)
		if err != nil {
			errs[i] = err
			return
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			errs[i] = fmt.Errorf("encode media %d: %w", i, err)
			return
		}
		post.Media[i] = social.Media{Index: i, Kind: d.Kind, Width: d.Width, Height: d.Height, PNG: buf.Bytes()}
	})
	if err == nil {
		err = errors.Join(errs...)
	}
	if err != nil {
		return nil, err
	}
	return fnkit.EncodeJSON(post)
}

// check validates a request, naming the first bad field.
func check(req *request) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{fnkit.ErrBadInput}, args...)...)
	}
	switch n := utf8.RuneCountInString(req.Text); {
	case !utf8.ValidString(req.Text):
		return bad("text is not valid UTF-8")
	case strings.TrimSpace(req.Text) == "":
		return bad("text is empty")
	case n > maxTextRunes:
		return bad("text has %d characters; the limit is %d", n, maxTextRunes)
	case req.Author == "":
		return bad("author is empty")
	case req.Users < 1 || req.Users > maxUsers:
		return bad("users must be 1..%d, got %d", maxUsers, req.Users)
	case req.Shards < 1 || req.Shards > maxShards:
		return bad("shards must be 1..%d, got %d", maxShards, req.Shards)
	case req.Timestamp <= social.SnowflakeEpoch || req.Timestamp >= social.SnowflakeEpoch+1<<41:
		return bad("timestamp %d is not milliseconds since the epoch after 2020", req.Timestamp)
	case len(req.Media) > maxMedia:
		return bad("media has %d items; the limit is %d", len(req.Media), maxMedia)
	}
	for i, d := range req.Media {
		switch {
		case d.Kind != "photo":
			return bad("media %d: kind %q, want photo", i, d.Kind)
		case d.Width < 16 || d.Height < 16 || d.Width*d.Height > maxPixels:
			return bad("media %d: size %dx%d, want at least 16x16 and at most %d pixels", i, d.Width, d.Height, maxPixels)
		}
	}
	return nil
}

// unique returns the first submatch of each match, normalised by norm
// (when not nil), without repeats, in order of first appearance.
func unique(matches [][]string, norm func(string) string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, m := range matches {
		s := m[len(m)-1]
		if norm != nil {
			s = norm(s)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// render draws picture index of the post of seed: a sky gradient, a sun,
// two layers of hills and film grain, rows spread over the CPUs.
func render(ctx context.Context, seed uint64, index, w, h int) (*image.NRGBA, error) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := func(k uint64) float64 { return float64(social.Hash(seed, uint64(index), k)>>11) / (1 << 53) }
	sunX, sunY, sunR := r(1)*float64(w), r(2)*float64(h)*0.4, (0.05+0.1*r(3))*float64(min(w, h))
	hue := r(4)
	ph1, ph2, f1, f2 := r(5)*6.28, r(6)*6.28, 2+4*r(7), 5+9*r(8)
	hill1, hill2 := make([]float64, w), make([]float64, w)
	for x := range w {
		fx := float64(x) / float64(w)
		hill1[x], hill2[x] = 0.6+0.12*math.Sin(fx*f1+ph1), 0.75+0.06*math.Sin(fx*f2+ph2)
	}
	err := fnkit.ForEach(ctx, h, func(y int) {
		fy := float64(y) / float64(h)
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := range w {
			// Sky: a vertical gradient tinted by the picture's hue.
			c := [3]float64{90 + 100*fy + 40*hue, 140 + 70*fy, 230 - 60*fy*hue}
			if d := math.Hypot(float64(x)-sunX, float64(y)-sunY); d < sunR {
				c = [3]float64{255, 225 - 40*d/sunR, 120}
			} else if d < 2*sunR {
				g := 1 - (d-sunR)/sunR
				c[0], c[1] = c[0]+80*g, c[1]+50*g
			}
			if hill := hill1[x]; fy > hill {
				shade := 1 - 0.5*(fy-hill)
				c = [3]float64{40 * shade, (110 + 60*hue) * shade, 50 * shade}
			}
			if hill := hill2[x]; fy > hill {
				c = [3]float64{c[0]*0.6 + 30, c[1] * 0.7, c[2]*0.6 + 10}
			}
			g := social.Hash(seed, uint64(index), uint64(y)<<20|uint64(x))
			for k := range c {
				v := c[k] + float64(int(g>>(8*k)&3)-2)
				row[4*x+k] = uint8(max(0, min(255, v)))
			}
			row[4*x+3] = 255
		}
	})
	return img, err
}
