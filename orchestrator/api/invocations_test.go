package api

import (
	"encoding/json"
	"testing"
	"time"
)

// TestInvocationRoundTrips checks that a record read back from its JSON
// writes the same JSON, for a JSON output, a non-JSON output and none.
func TestInvocationRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name       string
		output     []byte
		wantOutput string // the "output" member as written; "" for absent
	}{
		{"json output", []byte(`{"a":[1,2]}`), `{"a":[1,2]}`},
		{"text output", []byte("plain text"), `"plain text"`},
		{"no output", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &Invocation{ID: "i1", Tenant: "secret-tenant", Workflow: "w", Status: StatusSucceeded,
				Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Output: tc.output,
				Stages: []StageTiming{{Stage: "a", Function: "f", Calls: 1}}}
			first, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(first, &doc); err != nil {
				t.Fatal(err)
			}
			if got := string(doc["output"]); got != tc.wantOutput {
				t.Errorf("output written as %q, want %q", got, tc.wantOutput)
			}
			if _, ok := doc["Tenant"]; ok || len(doc["tenant"]) > 0 {
				t.Errorf("the tenant is written: %s", first)
			}
			var back Invocation
			if err := json.Unmarshal(first, &back); err != nil {
				t.Fatal(err)
			}
			second, err := json.Marshal(&back)
			if err != nil {
				t.Fatal(err)
			}
			if string(first) != string(second) {
				t.Errorf("written again differs:\n%s\n%s", first, second)
			}
			if back.ID != "i1" || len(back.Stages) != 1 || back.Stages[0].Function != "f" {
				t.Errorf("read back %+v", back)
			}
		})
	}
}
