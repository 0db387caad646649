package dags

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSamplesPairEachWorkflowWithItsExample(t *testing.T) {
	samples, err := Samples()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range samples {
		names[s.Name] = true
		if !strings.Contains(string(s.YAML), "name: "+s.Name+"\n") {
			t.Errorf("sample %s: YAML does not set metadata.name %s", s.Name, s.Name)
		}
		if !json.Valid(s.Input) || !json.Valid(s.Output) {
			t.Errorf("sample %s: input or output is not valid JSON", s.Name)
		}
	}
	for _, want := range []string{"ml-pipeline", "social-compose", "video-analytics", "wordcount"} {
		if !names[want] {
			t.Errorf("samples %v lack %s", names, want)
		}
	}
}
