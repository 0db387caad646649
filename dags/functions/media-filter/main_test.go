package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/social"
)

// pngOf encodes a w x h picture, bright on the left half, dark on the right.
func pngOf(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(40)
			if x < w/2 {
				v = 220
			}
			o := y*img.Stride + 4*x
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = v, v, v, 255
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestHandleChecksPictures(t *testing.T) {
	in, _ := json.Marshal(post{Media: []social.Media{
		{Index: 0, Kind: "photo", Width: 300, Height: 200, PNG: pngOf(t, 300, 200)},
		{Index: 1, Kind: "photo", Width: 50, Height: 90, PNG: pngOf(t, 50, 90)},
	}})
	r := fnkittest.Output[response](t, handle, in)
	if len(r.Media) != 2 || r.Rejected != 0 {
		t.Fatalf("got %+v", r)
	}
	if a, b := r.Media[0], r.Media[1]; a.Thumb != "128x85" || b.Thumb != "50x90" || a.ThumbBytes == 0 || len(a.SHA256) != 64 {
		t.Errorf("thumbnails %s and %s (%d bytes), want 128x85 and 50x90", a.Thumb, b.Thumb, a.ThumbBytes)
	}
	// Left half bright, right half dark: of the 9 columns the middle one is
	// half and half, so in each row bits 3 (bright > mixed) and 4 (mixed >
	// dark) are set.
	if want := "1818181818181818"; r.Media[0].DHash != want {
		t.Errorf("dHash %s, want %s", r.Media[0].DHash, want)
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	for _, m := range r.Media {
		if m.Verdict == "" || len(m.DHash) != 16 || m.Skin < 0 || m.Skin > 1 {
			t.Errorf("implausible report %+v", m)
		}
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	wrongSize, _ := json.Marshal(post{Media: []social.Media{{Width: 10, Height: 10, PNG: pngOf(t, 20, 10)}}})
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "not a PNG", Input: `{"media": [{"width": 1, "height": 1, "png": "aGVsbG8="}]}`, WantMention: "media 0: not a PNG"},
		{Name: "size differs", Input: string(wrongSize), WantMention: "descriptor says 10x10"},
		{Name: "not base64", Input: `{"media": [{"png": "!!"}]}`, WantMention: "compose-post"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
