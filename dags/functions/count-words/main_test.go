package main

import (
	"context"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestHandleCounts(t *testing.T) {
	r := fnkittest.Output[response](t, handle, []byte(`{"id": 3, "words": 6, "text": "The cat, the hat. THE end."}`))
	if r.ID != 3 || r.Words != 6 || r.Distinct != 4 || r.Counts["the"] != 3 || r.Counts["cat"] != 1 {
		t.Errorf("got %+v", r)
	}
	if len(r.MinHash) != SketchSize {
		t.Errorf("sketch of %d, want %d", len(r.MinHash), SketchSize)
	}
}

func TestMinHashEstimatesSimilarity(t *testing.T) {
	a := shingles(tokens("a b c d e f g h i j k l m n o p q r s t"), 1)
	b := shingles(tokens("a b c d e f g h i j u v w x y z 1 2 3 4"), 1) // Jaccard 10/30
	sa, _ := minHash(context.Background(), a)
	sb, _ := minHash(context.Background(), b)
	same := 0
	for i := range sa {
		if sa[i] == sb[i] {
			same++
		}
	}
	if est := float64(same) / SketchSize; est < 0.2 || est > 0.47 {
		t.Errorf("estimated Jaccard %.2f, want about 0.33", est)
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if r.Words == 0 || r.Distinct == 0 || r.Distinct > r.Words {
		t.Errorf("implausible counts: %d words, %d distinct", r.Words, r.Distinct)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no words", Input: `{"id": 1, "words": 0, "text": "... !"}`, WantMention: "no words"},
		{Name: "not a chunk", Input: `[1, 2]`, WantMention: "split-text"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
