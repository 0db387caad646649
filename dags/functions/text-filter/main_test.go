package main

import (
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit/fnkittest"
)

func TestWithinOne(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"crapda", "crapda", true}, {"crapda", "crapd", true}, {"crapda", "crapdaa", true},
		{"crapda", "crepda", true}, {"crapda", "carpda", true}, // substitution, transposition
		{"crapda", "cepda", false}, {"crapda", "adpacr", false}, {"", "a", true}, {"ab", "", false},
	}
	for _, tt := range tests {
		if got := withinOne(tt.a, tt.b); got != tt.want {
			t.Errorf("withinOne(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{"Cr4pDA": "crapda", "baaaaad": "baad", "$h1t": "shit", "x-y": "xy", "1337": "ieet"} {
		if got := normalise(in); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandleMasksDisguisedTerms(t *testing.T) {
	term := blocklist().byLength[8][0] // e.g. "ckpuotbl"
	typo := term[:3] + term[4:5] + term[3:4] + term[5:]
	text := "Well, " + strings.ToUpper(term) + "!! and " + typo + " at https://x.example/" + term + " @" + term + " fine words here."
	r := fnkittest.Output[response](t, handle, []byte(`{"text": "`+text+`", "urls": ["https://x.example/`+term+`"]}`))
	if len(r.Matches) != 2 || r.Matches[0].Distance != 0 || r.Matches[1].Distance != 1 || r.Matches[1].Term != term {
		t.Fatalf("matches %+v, want the term exactly and its transposition", r.Matches)
	}
	if strings.Contains(strings.ToLower(r.Clean), " "+term+"!") || strings.Contains(r.Clean, " "+typo+" ") {
		t.Errorf("clean text %q still shows the terms", r.Clean)
	}
	if !strings.Contains(r.Clean, "https://x.example/"+term) || !strings.Contains(r.Clean, "@"+term) {
		t.Errorf("clean text %q masked a URL or a mention", r.Clean)
	}
	if r.Verdict != "flagged" && r.Verdict != "blocked" || len(r.Clean) != len(text) {
		t.Errorf("verdict %q, clean %q", r.Verdict, r.Clean)
	}
}

func TestHandleFixture(t *testing.T) {
	r := fnkittest.Output[response](t, handle, fnkittest.Fixture(t))
	if !r.Checked || r.Words == 0 || r.Spam <= 0 || r.Spam >= 1 || r.Verdict == "" {
		t.Errorf("implausible verdict %+v", r)
	}
}

func TestHandleRejectsBadInput(t *testing.T) {
	fnkittest.CheckRejections(t, handle, []fnkittest.BadInput{
		{Name: "no text", Input: `{"text": ""}`, WantMention: "text is empty"},
		{Name: "not a post", Input: `[]`, WantMention: "compose-post"},
	})
}

func BenchmarkHandle(b *testing.B) { fnkittest.BenchmarkFixture(b, handle) }
