// Package fnkittest holds the test scaffolding the sample functions share:
// their sample input fixture, a handler's decoded output, a table check that
// a handler rejects bad input as fnkit.ErrBadInput, and a benchmark of a
// handler on its fixture.
package fnkittest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"baton.dev/baton/dags/functions/fnkit"
)

// FixturePath is where a function's sample input lives, relative to its
// package directory. dags/pipeline_test.go keeps it equal to what the
// function gets in the ml-pipeline sample run.
const FixturePath = "testdata/input.json"

// Fixture returns the function's sample input, failing t if it is unreadable.
func Fixture(t testing.TB) []byte {
	t.Helper()
	in, err := os.ReadFile(FixturePath)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Output runs handler on input and decodes its output into an R, failing t
// if the handler fails or its output is not the JSON of an R.
func Output[R any](t testing.TB, handler fnkit.Handler, input []byte) R {
	t.Helper()
	var r R
	out, err := handler(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("decode output %.200q: %v", out, err)
	}
	return r
}

// BadInput is one input a handler must reject.
type BadInput struct {
	Name        string
	Input       string
	WantMention string // a substring the error must contain
}

// CheckRejections runs handler on every case, each as a subtest, and fails
// unless the handler's error wraps fnkit.ErrBadInput and mentions the case's
// WantMention.
func CheckRejections(t *testing.T, handler fnkit.Handler, cases []BadInput) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			_, err := handler(context.Background(), []byte(c.Input))
			if problem := rejectionProblem(err, c.WantMention); problem != "" {
				t.Error(problem)
			}
		})
	}
}

// rejectionProblem says what is wrong with err as a rejection of bad input
// that mentions wantMention, or returns "" if nothing is.
func rejectionProblem(err error, wantMention string) string {
	switch {
	case !errors.Is(err, fnkit.ErrBadInput):
		return fmt.Sprintf("err %v, want one wrapping fnkit.ErrBadInput", err)
	case !strings.Contains(err.Error(), wantMention):
		return fmt.Sprintf("error %q does not mention %q", err, wantMention)
	}
	return ""
}

// BenchmarkFixture benchmarks handler on the function's sample input.
func BenchmarkFixture(b *testing.B, handler fnkit.Handler) {
	in := Fixture(b)
	for b.Loop() {
		if _, err := handler(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
