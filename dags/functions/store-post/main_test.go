package main

import (
	"encoding/json"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleStoresThePost(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if r.PostID == "" || r.Record.PostID != r.PostID || r.Timeline.PostID != r.PostID {
		t.Errorf("post ids %q %q %q", r.PostID, r.Record.PostID, r.Timeline.PostID)
	}
	if r.Stored.Blocks != (r.Stored.RawBytes+BlockSize-1)/BlockSize || r.Stored.CompressedBytes == 0 {
		t.Errorf("stored %+v", r.Stored)
	}
	n := 0
	for i, s := range r.Shards {
		if s.Shard != i || s.PostID != r.PostID {
			t.Errorf("shard %d: %+v", i, s)
		}
		n += len(s.Followers)
	}
	if n != r.Followers {
		t.Errorf("shards hold %d followers, want %d", n, r.Followers)
	}
	if !r.Record.Moderation.Checked {
		t.Error("fixture's post was not checked")
	}
	for _, l := range r.Record.Links {
		if l.Short == "" || strings.Contains(r.Record.Text, l.URL) || !strings.Contains(r.Record.Text, l.Short) {
			t.Errorf("link %+v not replaced in %q", l, r.Record.Text)
		}
	}
}

// withStage returns the fixture with one stage's output replaced.
func withStage(t *testing.T, stage, output string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fnkittest.Fixture(t), &m); err != nil {
		t.Fatal(err)
	}
	m[stage] = json.RawMessage(output)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandleStoresDespiteFailedFilters(t *testing.T) {
	failed := `{"error": {"stage": "%s", "message": "function answered 500"}}`
	in := withStage(t, "text-filter", strings.ReplaceAll(failed, "%s", "text-filter"))
	var m map[string]json.RawMessage
	_ = json.Unmarshal(in, &m)
	m["media-filter"] = json.RawMessage(strings.ReplaceAll(failed, "%s", "media-filter"))
	m["url-shorten"] = json.RawMessage(`null`)
	in, _ = json.Marshal(m)
	r := fnkittest.Output[response](t, handle, in)
	mod := r.Record.Moderation
	if mod.Checked || mod.Verdict != "unchecked" || !strings.Contains(mod.Error, "text-filter: function answered 500") {
		t.Errorf("moderation %+v, want unchecked with the error", mod)
	}
	for _, md := range r.Record.Media {
		if md.Status != "pending" || md.SHA256 != "" {
			t.Errorf("media %+v, want pending", md)
		}
	}
	for _, l := range r.Record.Links {
		if l.Short != "" || !strings.Contains(r.Record.Text, l.URL) {
			t.Errorf("link %+v shortened though url-shorten was skipped", l)
		}
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no id", Input: string(withStage(t, "unique-id", `{"error": {"stage": "unique-id", "message": "timed out"}}`)), WantMention: "unique-id gave no output (unique-id: timed out)"},
		{Name: "bad id", Input: string(withStage(t, "unique-id", `{"post_id": "12x"}`)), WantMention: "post id"},
		{Name: "no users", Input: string(withStage(t, "user-lookup", `null`)), WantMention: "user-lookup gave no output"},
		{Name: "links mismatch", Input: string(withStage(t, "url-shorten", `{"links": []}`)), WantMention: "url-shorten gave 0 links"},
		{Name: "not an object", Input: `[]`, WantMention: "stages store-post needs"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
