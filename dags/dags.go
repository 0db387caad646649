// Package dags holds Baton's sample workflows: for each sample NAME, the
// workflow NAME.yaml, an example request NAME.input.json and the exact
// response NAME.output.json that request gets, and most have their measured
// profile profiles/NAME.json (see Profile). The functions the samples
// run live under dags/functions, one main package per function image
// (baton.local/fn-NAME:v1). `baton up` deploys these samples.
package dags

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed *.yaml *.input.json *.output.json profiles/*.json
var files embed.FS

// Sample is one sample workflow with an example invocation.
type Sample struct {
	Name   string // the file name stem, e.g. "ml-pipeline"
	YAML   []byte // the workflow definition
	Input  []byte // an example request body
	Output []byte // the exact response body for Input
}

// Samples returns every sample, sorted by name. It fails if a NAME.yaml
// lacks its NAME.input.json or NAME.output.json.
func Samples() ([]Sample, error) {
	names, err := fs.Glob(files, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list sample workflows: %w", err)
	}
	sort.Strings(names)
	samples := make([]Sample, 0, len(names))
	for _, file := range names {
		name := strings.TrimSuffix(file, path.Ext(file))
		s := Sample{Name: name}
		for _, part := range []struct {
			file string
			dst  *[]byte
		}{{file, &s.YAML}, {name + ".input.json", &s.Input}, {name + ".output.json", &s.Output}} {
			if *part.dst, err = files.ReadFile(part.file); err != nil {
				return nil, fmt.Errorf("sample %s: read %s: %w", name, part.file, err)
			}
		}
		samples = append(samples, s)
	}
	return samples, nil
}

// Profile returns the measured profile of sample name (profiles/NAME.json,
// written by `baton profile`), and false when it has none.
func Profile(name string) ([]byte, bool) {
	data, err := files.ReadFile(path.Join("profiles", name+".json"))
	return data, err == nil
}
