package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/video"
)

func TestHandleCompressesWithGoodQuality(t *testing.T) {
	in := fnkittest.Fixture(t)
	r := fnkittest.Output[video.Segment](t, handle, in)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	raw := r.Width * r.Height * len(r.Frames)
	if r.Stats.EncodedBytes <= 0 || r.Stats.EncodedBytes > raw/2 {
		t.Errorf("coded %d bytes for %d raw: want real compression", r.Stats.EncodedBytes, raw)
	}
	if r.Stats.PSNR < 28 || r.Stats.PSNR > 60 {
		t.Errorf("PSNR %.2f dB, want the 28-60 dB of quality-50 coding", r.Stats.PSNR)
	}
}

func TestCodedBits(t *testing.T) {
	var q [64]int
	if got := codedBits(&q); got != 8 {
		t.Errorf("empty block: %d bits, want 8", got)
	}
	q[0], q[1] = 5, -3 // DC of 3 bits; one AC of 2 bits with no run
	if got := codedBits(&q); got != 4+3+6+2+4 {
		t.Errorf("got %d bits", got)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "not halvable", Input: `{"width": 8, "height": 8, "frames": ["` + string(make([]byte, 0)) + `"]}`, WantMention: "pixels"},
		{Name: "not JSON", Input: `frames`, WantMention: "watermark"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
