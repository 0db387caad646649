package workflow

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestJSONSchemaDescribesEveryField(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(JSONSchema(), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	props := func(path ...string) []string {
		cur := s
		for _, p := range path {
			cur = cur[p].(map[string]any)
		}
		var keys []string
		for k := range cur["properties"].(map[string]any) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	sorted := func(fields []string) []string {
		out := slices.Clone(fields)
		slices.Sort(out)
		return out
	}
	tests := []struct {
		path   []string
		fields []string
	}{
		{nil, documentFields},
		{[]string{"properties", "metadata"}, metadataFields},
		{[]string{"properties", "spec"}, specFields},
		{[]string{"properties", "spec", "properties", "qos"}, qosFields},
		{[]string{"properties", "spec", "properties", "functions", "additionalProperties"}, functionFields},
		{[]string{"properties", "spec", "properties", "functions", "additionalProperties", "properties", "resources"}, resourcesFields},
		{[]string{"properties", "spec", "properties", "functions", "additionalProperties", "properties", "bounds"}, boundsFields},
		{[]string{"properties", "spec", "properties", "stages", "items"}, stageFields},
		{[]string{"properties", "spec", "properties", "network"}, networkFields},
		{[]string{"properties", "spec", "properties", "functions", "additionalProperties", "properties", "security"}, securityFields},
	}
	for _, tt := range tests {
		if got, want := props(tt.path...), sorted(tt.fields); !slices.Equal(got, want) {
			t.Errorf("%v: schema properties %v, parser fields %v", tt.path, got, want)
		}
	}
}
