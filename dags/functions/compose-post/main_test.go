package main

import (
	"bytes"
	"image/png"
	"slices"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
	"baton.dev/baton/dags/functions/social"
)

func TestHandleParsesThePost(t *testing.T) {
	in := `{"seed": 1, "users": 10, "shards": 2, "author": "neul_99", "timestamp": 1718035200000,
		"text": "Hi @Ana_1 and @bo_2, mail@example.com is not a mention; see https://x.example/a?b=1. and #Go #go #tag_2!", "media": []}`
	p := fnkittest.Output[social.Post](t, handle, []byte(in))
	if want := []string{"ana_1", "bo_2"}; !slices.Equal(p.Mentions, want) {
		t.Errorf("mentions %q, want %q", p.Mentions, want)
	}
	if want := []string{"go", "tag_2"}; !slices.Equal(p.Hashtags, want) {
		t.Errorf("hashtags %q, want %q", p.Hashtags, want)
	}
	if want := []string{"https://x.example/a?b=1"}; !slices.Equal(p.URLs, want) {
		t.Errorf("urls %q, want %q", p.URLs, want)
	}
	if p.Words != 15 || p.Media == nil || len(p.Media) != 0 {
		t.Errorf("words %d, media %v: want 15 words and an empty (not null) media list", p.Words, p.Media)
	}
}

func TestHandleRendersDecodablePNGs(t *testing.T) {
	p := fnkittest.Output[social.Post](t, handle, fnkittest.Fixture(t))
	if len(p.Media) == 0 {
		t.Fatal("fixture has no media")
	}
	for i, m := range p.Media {
		img, err := png.Decode(bytes.NewReader(m.PNG))
		if err != nil {
			t.Fatalf("media %d: %v", i, err)
		}
		if b := img.Bounds(); b.Dx() != m.Width || b.Dy() != m.Height || m.Index != i {
			t.Errorf("media %d: %v, descriptor %dx%d index %d", i, b, m.Width, m.Height, m.Index)
		}
	}
	again := fnkittest.Output[social.Post](t, handle, fnkittest.Fixture(t))
	if !bytes.Equal(again.Media[0].PNG, p.Media[0].PNG) {
		t.Error("rendering is not deterministic")
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	ok := `"seed": 1, "users": 10, "shards": 2, "author": "a", "timestamp": 1718035200000`
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "empty text", Input: `{` + ok + `, "text": "  "}`, WantMention: "text is empty"},
		{Name: "no author", Input: `{"seed": 1, "users": 10, "shards": 2, "author": "", "timestamp": 1718035200000, "text": "hi"}`, WantMention: "author"},
		{Name: "no users", Input: `{"seed": 1, "users": 0, "shards": 2, "author": "a", "timestamp": 1718035200000, "text": "hi"}`, WantMention: "users"},
		{Name: "too many shards", Input: `{"seed": 1, "users": 10, "shards": 65, "author": "a", "timestamp": 1718035200000, "text": "hi"}`, WantMention: "shards"},
		{Name: "timestamp in seconds", Input: `{"seed": 1, "users": 10, "shards": 2, "author": "a", "timestamp": 1718035200, "text": "hi"}`, WantMention: "timestamp"},
		{Name: "video", Input: `{` + ok + `, "text": "hi", "media": [{"kind": "video", "width": 64, "height": 64}]}`, WantMention: "kind"},
		{Name: "huge picture", Input: `{` + ok + `, "text": "hi", "media": [{"kind": "photo", "width": 4096, "height": 4096}]}`, WantMention: "size"},
		{Name: "unknown field", Input: `{` + ok + `, "text": "hi", "lang": "en"}`, WantMention: "lang"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
