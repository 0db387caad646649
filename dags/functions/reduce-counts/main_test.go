package main

import (
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleMerges(t *testing.T) {
	in := `[{"id": 0, "words": 3, "counts": {"a": 2, "b": 1}, "minhash": [1, 2, 3, 4]},
	        {"id": 1, "words": 4, "counts": {"b": 3, "c": 1}, "minhash": [1, 2, 9, 9]}]`
	r := fnkittest.Output[response](t, handle, []byte(in))
	if r.Words != 7 || r.Distinct != 3 || r.Top[0] != (wordCount{"b", 4}) || r.Top[1] != (wordCount{"a", 2}) {
		t.Errorf("got %+v", r)
	}
	if len(r.Similarity) != 1 || r.Similarity[0].Jaccard != 0.5 {
		t.Errorf("similarity %+v, want 0.5", r.Similarity)
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if len(r.Top) != TopWords || r.Chunks < 2 || len(r.Similarity) != r.Chunks*(r.Chunks-1)/2 {
		t.Errorf("got %d top words, %d chunks, %d similarities", len(r.Top), r.Chunks, len(r.Similarity))
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "empty", Input: `[]`, WantMention: "no partial counts"},
		{Name: "out of order", Input: `[{"id": 1, "counts": {}, "minhash": [1]}]`, WantMention: "chunk order"},
		{Name: "sketch sizes differ", Input: `[{"id": 0, "minhash": [1]}, {"id": 1, "minhash": [1, 2]}]`, WantMention: "sketches"},
		{Name: "not an array", Input: `{"id": 0}`, WantMention: "gathered"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
