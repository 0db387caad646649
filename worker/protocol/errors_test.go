package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"baton.dev/baton/worker"
)

// sentinels are the worker errors whose kind survives the wire, with the
// code each travels as.
var sentinels = []struct {
	sentinel error
	code     string
}{
	{worker.ErrImageNotFound, CodeImageNotFound},
	{worker.ErrUnhealthy, CodeUnhealthy},
	{worker.ErrNotFound, CodeNotFound},
	{worker.ErrExists, CodeExists},
	{worker.ErrIdentity, CodeIdentity},
	{worker.ErrPull, CodePull},
	{worker.ErrStaleTerm, CodeStaleTerm},
}

// roundTrip sends err as a worker does, as the error of a reply, and
// decodes the reply as the orchestrator does.
func roundTrip(t *testing.T, err error) *Error {
	t.Helper()
	data, jerr := json.Marshal(CreateReply{Error: ToError(err)})
	if jerr != nil {
		t.Fatalf("encode reply: %v", jerr)
	}
	var reply CreateReply
	if jerr := json.Unmarshal(data, &reply); jerr != nil {
		t.Fatalf("decode reply %s: %v", data, jerr)
	}
	return reply.Error
}

// matchesOnly checks that err matches sentinel and no other worker sentinel.
func matchesOnly(t *testing.T, err, sentinel error) {
	t.Helper()
	for _, s := range sentinels {
		if got, want := errors.Is(err, s.sentinel), s.sentinel == sentinel; got != want {
			t.Errorf("errors.Is(%q, %q) = %v, want %v", err, s.sentinel, got, want)
		}
	}
}

func TestSentinelsRoundTrip(t *testing.T) {
	wrappers := []struct {
		name string
		wrap func(error) error
	}{
		{"bare", func(err error) error { return err }},
		{"wrapped", func(err error) error { return fmt.Errorf("sandbox sb-1: %w", err) }},
		{"wrapped twice", func(err error) error {
			return fmt.Errorf("create: %w", fmt.Errorf("sandbox sb-1: %w (details)", err))
		}},
		{"second of two %w", func(err error) error { return fmt.Errorf("%w: %w", errors.New("cleanup"), err) }},
		{"joined", func(err error) error { return errors.Join(errors.New("cleanup failed"), err) }},
	}
	for _, s := range sentinels {
		for _, w := range wrappers {
			t.Run(s.code+"/"+w.name, func(t *testing.T) {
				sent := w.wrap(s.sentinel)
				got := roundTrip(t, sent)
				if got == nil {
					t.Fatalf("%q decoded as no error", sent)
				}
				if got.Code != s.code {
					t.Errorf("code = %q, want %q", got.Code, s.code)
				}
				if got.Error() != sent.Error() {
					t.Errorf("message = %q, want the original %q", got.Error(), sent.Error())
				}
				matchesOnly(t, got, s.sentinel)

				// The orchestrator wraps the decoded error in turn.
				seen := fmt.Errorf("worker w1: %w", got)
				matchesOnly(t, seen, s.sentinel)
				if !strings.Contains(seen.Error(), sent.Error()) {
					t.Errorf("wrapped on the orchestrator's side = %q, lost %q", seen, sent)
				}

				// Sent on again, it keeps its kind.
				if again := roundTrip(t, got); again.Code != s.code || again.Error() != sent.Error() {
					t.Errorf("re-encoded = %+v, want code %q and message %q", again, s.code, sent)
				}
			})
		}
	}
}

func TestToErrorWithoutSentinelIsInternal(t *testing.T) {
	cases := []struct {
		name string
		err  error
	}{
		{"plain", errors.New("disk full")},
		{"wrapped", fmt.Errorf("sandbox sb-1: %w", errors.New("disk full"))},
		{"a lookalike of a sentinel's text", errors.New(worker.ErrNotFound.Error())},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := roundTrip(t, c.err)
			if got == nil {
				t.Fatalf("%q decoded as no error", c.err)
			}
			if got.Code != CodeInternal || got.Error() != c.err.Error() {
				t.Errorf("decoded = %+v, want code %q and message %q", got, CodeInternal, c.err)
			}
			matchesOnly(t, got, nil)
			if u := got.Unwrap(); u != nil {
				t.Errorf("Unwrap = %v, want nil", u)
			}
		})
	}
}

func TestNilRoundTripsAsNil(t *testing.T) {
	if e := ToError(nil); e != nil {
		t.Fatalf("ToError(nil) = %+v, want nil", e)
	}
	data, err := json.Marshal(CreateReply{Error: ToError(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"error"`) {
		t.Errorf("reply without an error = %s, want no error field", data)
	}
	if got := roundTrip(t, nil); got != nil {
		t.Errorf("decoded = %+v, want nil", got)
	}
}

func TestDecodeError(t *testing.T) {
	cases := []struct {
		name        string
		body        string
		code        string
		wantMessage string // a substring of Error()
	}{
		{"unknown code", `{"error":{"code":"rate_limited","message":"slow down"}}`, "rate_limited", "slow down"},
		{"code in the wrong case", `{"error":{"code":"NOT_FOUND","message":"sandbox sb-1: gone"}}`, "NOT_FOUND", "sandbox sb-1: gone"},
		{"bad request", `{"error":{"code":"bad_request","message":"decode create request: EOF"}}`, CodeBadRequest, "decode create request: EOF"},
		{"internal", `{"error":{"code":"internal","message":"worker shutting down"}}`, CodeInternal, "worker shutting down"},
		{"no code", `{"error":{"message":"something broke"}}`, "", "something broke"},
		{"no message", `{"error":{"code":"rate_limited"}}`, "rate_limited", "rate_limited"},
		{"known code, no message", `{"error":{"code":"not_found"}}`, CodeNotFound, "not_found"},
		{"empty error object", `{"error":{}}`, "", "no message"},
		{"unknown fields", `{"error":{"code":"not_found","message":"sandbox sb-1: gone","retryAfter":3}}`, CodeNotFound, "sandbox sb-1: gone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var reply DeleteReply
			if err := json.Unmarshal([]byte(c.body), &reply); err != nil {
				t.Fatalf("decode %s: %v", c.body, err)
			}
			if reply.Error == nil {
				t.Fatalf("decode %s: no error", c.body)
			}
			if reply.Error.Code != c.code {
				t.Errorf("code = %q, want %q", reply.Error.Code, c.code)
			}
			msg := reply.Error.Error()
			if msg == "" || !strings.Contains(msg, c.wantMessage) {
				t.Errorf("Error() = %q, want it to contain %q", msg, c.wantMessage)
			}
			var want error
			for _, s := range sentinels {
				if s.code == c.code {
					want = s.sentinel
				}
			}
			matchesOnly(t, reply.Error, want)
		})
	}
}

func TestDecodeMalformedReply(t *testing.T) {
	bodies := []struct {
		name string
		body string
	}{
		{"empty", ``},
		{"truncated", `{"error":{"code":"not_found","message":"gone"}`},
		{"not JSON", `sandbox not found`},
		{"error is a string", `{"error":"sandbox not found"}`},
		{"code is a number", `{"error":{"code":404,"message":"gone"}}`},
		{"message is an object", `{"error":{"code":"not_found","message":{"text":"gone"}}}`},
		{"an array", `[{"code":"not_found"}]`},
	}
	replies := []struct {
		name string
		new  func() any
	}{
		{"create", func() any { return new(CreateReply) }},
		{"delete", func() any { return new(DeleteReply) }},
		{"list", func() any { return new(ListReply) }},
		{"verify", func() any { return new(VerifyReply) }},
	}
	for _, b := range bodies {
		for _, r := range replies {
			t.Run(r.name+"/"+b.name, func(t *testing.T) {
				err := json.Unmarshal([]byte(b.body), r.new())
				if err == nil {
					t.Fatalf("decode %q: no error", b.body)
				}
				if err.Error() == "" {
					t.Errorf("decode %q: empty error text", b.body)
				}
				matchesOnly(t, err, nil)
			})
		}
	}
}
