package main

import (
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleSplitsAtWordBoundaries(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	total := 0
	for i, c := range r.Chunks {
		if c.ID != i {
			t.Errorf("chunk %d has id %d", i, c.ID)
		}
		if got := len(strings.Fields(c.Text)); got != c.Words {
			t.Errorf("chunk %d: %d words in the text, %d claimed", i, got, c.Words)
		}
		if !strings.HasSuffix(c.Text, ".") {
			t.Errorf("chunk %d does not end a sentence", i)
		}
		total += c.Words
	}
	if total != r.Words {
		t.Errorf("chunks hold %d words, want %d", total, r.Words)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no words", Input: `{"seed": 1, "words": 0, "chunks": 1, "vocabulary": 100}`, WantMention: "words"},
		{Name: "too many chunks", Input: `{"seed": 1, "words": 10, "chunks": 11, "vocabulary": 100}`, WantMention: "chunks"},
		{Name: "tiny vocabulary", Input: `{"seed": 1, "words": 10, "chunks": 1, "vocabulary": 2}`, WantMention: "vocabulary"},
		{Name: "unknown field", Input: `{"seed": 1, "words": 10, "chunks": 1, "vocabulary": 100, "lang": "en"}`, WantMention: "lang"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
