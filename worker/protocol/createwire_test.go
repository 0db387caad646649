package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"baton.dev/baton/worker"
)

// TestAppendCreateRequestIsJSON: the hand-written request is byte for
// byte json.Marshal's, on the hand-written path and off it.
func TestAppendCreateRequestIsJSON(t *testing.T) {
	base := worker.SandboxSpec{ID: "sb-0123456789abcdef", Function: "acme/wf/fn", Image: "baton.local/fn:v1", CPUMilli: 250, MemoryBytes: 128 << 20}
	tests := []struct {
		name string
		req  func() CreateRequest
	}{
		{"plain", func() CreateRequest { return CreateRequest{Spec: base} }},
		{"term", func() CreateRequest { return CreateRequest{Spec: base, Term: 7} }},
		{"zero spec", func() CreateRequest { return CreateRequest{} }},
		{"negative limits", func() CreateRequest { s := base; s.CPUMilli, s.MemoryBytes = -1, -2; return CreateRequest{Spec: s} }},
		{"every field", func() CreateRequest {
			s := base
			s.Env = map[string]string{"B": "2", "A": "1", "EMPTY": ""}
			s.HealthTimeout = 30 * time.Second
			s.PullAuth = &worker.PullAuth{Host: "registry.example", Username: "u", Password: "p w"}
			s.Isolation = worker.IsolationGVisor
			s.Privileges = worker.Privileges{Egress: worker.EgressInternet, Capabilities: []string{"NET_BIND_SERVICE", "CHOWN"}, RunAsRoot: true}
			return CreateRequest{Spec: s, Term: 1 << 40}
		}},
		{"escaped quote (encoding/json's path)", func() CreateRequest { s := base; s.Function = `a"b`; return CreateRequest{Spec: s} }},
		{"HTML in env (encoding/json's path)", func() CreateRequest {
			s := base
			s.Env = map[string]string{"X": "<a&b>"}
			return CreateRequest{Spec: s}
		}},
		{"unicode password (encoding/json's path)", func() CreateRequest {
			s := base
			s.PullAuth = &worker.PullAuth{Host: "h", Username: "u", Password: "pässwörd\u2028"}
			return CreateRequest{Spec: s}
		}},
		{"control byte in a capability (encoding/json's path)", func() CreateRequest { s := base; s.Capabilities = []string{"A\n"}; return CreateRequest{Spec: s} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req()
			want, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendCreateRequest([]byte("prefix"), req)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Fatalf("AppendCreateRequest =\n%s\nwant prefix and json.Marshal's\n%s", got, want)
			}
		})
	}
}

// TestDecodeCreateReplyAsJSON: the hand-written reading of a reply gives
// what json.Unmarshal gives, or the same error, for the replies workers
// send and for the shapes it leaves to encoding/json.
func TestDecodeCreateReplyAsJSON(t *testing.T) {
	created := time.Date(2026, 12, 5, 7, 0, 0, 123456789, time.FixedZone("x", 3600))
	sb := worker.Sandbox{ID: "sb-1", Function: "acme/wf/fn", Image: "baton.local/fn:v1", CPUMilli: 250, MemoryBytes: 128 << 20,
		Endpoint: "http://10.177.0.5:8080", Created: created,
		ColdStart: worker.ColdStart{Pull: 1, Image: 2, Create: 3, Network: 4, Start: 5, Healthy: 6, Total: 21, PullBytes: 1 << 33}}
	tests := []struct{ name, data string }{
		{"a sandbox, as a worker sends it", mustMarshal(t, CreateReply{Sandbox: &sb})},
		{"a zero sandbox", mustMarshal(t, CreateReply{Sandbox: &worker.Sandbox{}})},
		{"an error", mustMarshal(t, CreateReply{Error: &Error{Code: CodeImageNotFound, Message: "no image baton.local/x"}})},
		{"empty", `{}`},
		{"white space", " { \"sandbox\" : { \"id\" : \"a\" , \"cpuMilli\" : -3 } }\n"},
		{"a key twice", `{"sandbox":{"id":"a","image":"i"},"sandbox":{"id":"b"}}`},
		{"null sandbox", `{"sandbox":null}`},
		{"escaped string", `{"error":{"code":"internal","message":"a \"quoted\" \u00e9 word"}}`},
		{"unicode string", `{"error":{"code":"internal","message":"é"}}`},
		{"key in other case", `{"Sandbox":{"ID":"a"}}`},
		{"unknown key", `{"sandbox":{"id":"a","extra":[1,2,{"x":null}]}}`},
		{"float for an integer", `{"sandbox":{"cpuMilli":1.5}}`},
		{"exponent for an integer", `{"sandbox":{"cpuMilli":1e3}}`},
		{"overflow", `{"sandbox":{"memoryBytes":99999999999999999999}}`},
		{"bad time", `{"sandbox":{"created":"yesterday"}}`},
		{"truncated", `{"sandbox":{"id":"a"`},
		{"trailing data", `{"sandbox":{}} x`},
		{"not an object", `[]`},
		{"nothing", ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkAsJSON(t, tt.data, DecodeCreateReply) })
	}
}

// mustMarshal is v as json.Marshal writes it.
func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkAsJSON fails t unless decode reads data as json.Unmarshal does:
// the same value, or the same error.
func checkAsJSON[T any](t *testing.T, data string, decode func([]byte, *T) error) {
	t.Helper()
	var want, got T
	wantErr := json.Unmarshal([]byte(data), &want)
	gotErr := decode([]byte(data), &got)
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("decoded with error %v, json.Unmarshal's %v", gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %#v, json.Unmarshal's %#v", got, want)
	}
}

// BenchmarkCreateWire times a creation's request and reply, by hand and
// through encoding/json.
func BenchmarkCreateWire(b *testing.B) {
	req := CreateRequest{Spec: worker.SandboxSpec{ID: "sb-0123456789abcdef", Function: "bench/controlplane/fn-00042", Image: "baton.local/testfn-ok:v1",
		CPUMilli: 250, MemoryBytes: 128 << 20, HealthTimeout: 30 * time.Second}, Term: 3}
	reply, err := json.Marshal(CreateReply{Sandbox: &worker.Sandbox{ID: "sb-0123456789abcdef", Function: "bench/controlplane/fn-00042", Image: "baton.local/testfn-ok:v1",
		CPUMilli: 250, MemoryBytes: 128 << 20, Endpoint: "http://fake/sb-0123456789abcdef", Created: time.Now(), ColdStart: worker.ColdStart{Create: 1000, Total: 2000}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("request/hand", func(b *testing.B) {
		var buf []byte
		for range b.N {
			buf, _ = AppendCreateRequest(buf[:0], req)
		}
	})
	b.Run("request/json", func(b *testing.B) {
		for range b.N {
			_, _ = json.Marshal(req)
		}
	})
	b.Run("reply/hand", func(b *testing.B) {
		for range b.N {
			var r CreateReply
			_ = DecodeCreateReply(reply, &r)
		}
	})
	b.Run("reply/json", func(b *testing.B) {
		for range b.N {
			var r CreateReply
			_ = json.Unmarshal(reply, &r)
		}
	})
}

// TestTheBusiestMessagesStayOnTheHandPath: a creation's reply and a full
// heartbeat as workers send them are read on the hand-written path, not
// left to encoding/json (which the other tests could not tell apart).
func TestTheBusiestMessagesStayOnTheHandPath(t *testing.T) {
	reply := mustMarshal(t, CreateReply{Sandbox: &worker.Sandbox{ID: "sb-1", Function: "acme/wf/fn", Image: "baton.local/fn:v1", CPUMilli: 250,
		MemoryBytes: 128 << 20, Endpoint: "http://10.177.0.5:8080", Created: time.Now(), ColdStart: worker.ColdStart{Create: 3, Total: 21}}})
	d := wireDecoder{data: []byte(reply)}
	var r CreateReply
	if err := d.createReply(&r); err != nil || !d.end() {
		t.Errorf("reply %s left the hand-written path: %v", reply, err)
	}
	hb := mustMarshal(t, Heartbeat{WorkerID: "w-1", Runtime: "containerd", CPUMilli: 2000, MemoryBytes: 4 << 30, CPUAllocationRatio: 1.5,
		Images: []string{"baton.local/fn:v1"}, Sent: time.Now(), Interval: 200 * time.Millisecond, Incarnation: "inc", Machine: "m", Reclaimed: []string{"old"}})
	d = wireDecoder{data: []byte(hb)}
	var h Heartbeat
	if err := d.heartbeat(&h); err != nil || !d.end() {
		t.Errorf("heartbeat %s left the hand-written path: %v", hb, err)
	}
}
