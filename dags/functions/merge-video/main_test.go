package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleFindsBoundaryCuts(t *testing.T) {
	in := `[{"index": 0, "first_frame": 0, "frames": 4, "cuts": [2], "first_hist": [1, 0], "last_hist": [1, 0], "stats": {"encoded_bytes": 100, "psnr": 30}},
	        {"index": 1, "first_frame": 4, "frames": 4, "cuts": [], "first_hist": [0, 1], "last_hist": [0, 1], "stats": {"encoded_bytes": 300, "psnr": 40}}]`
	r := fnkittest.Output[response](t, handle, []byte(in))
	if r.Frames != 8 || r.Scenes != 3 || len(r.Cuts) != 2 || r.Cuts[0] != 2 || r.Cuts[1] != 4 {
		t.Errorf("got %+v", r)
	}
	if r.EncodedBytes != 400 || r.MeanPSNR != 35 || r.BitrateKbps != 9.6 {
		t.Errorf("got %+v", r)
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if r.Segments < 2 || r.Scenes < 2 || r.Checksum == "" {
		t.Errorf("got %+v", r)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "empty", Input: `[]`, WantMention: "no segment reports"},
		{Name: "out of order", Input: `[{"index": 1, "first_frame": 0, "frames": 2}]`, WantMention: "in order"},
		{Name: "gap", Input: `[{"index": 0, "first_frame": 0, "frames": 2, "last_hist": [1]}, {"index": 1, "first_frame": 3, "frames": 2, "first_hist": [1]}]`, WantMention: "back to back"},
		{Name: "histograms differ", Input: `[{"index": 0, "first_frame": 0, "frames": 2, "last_hist": [1]}, {"index": 1, "first_frame": 2, "frames": 2, "first_hist": [1, 0]}]`, WantMention: "histograms"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
