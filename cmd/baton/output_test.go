package main

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"baton.dev/baton/internal/bench"
	"baton.dev/baton/orchestrator/api"
	"baton.dev/baton/scheduler/prewarmsim"
	"baton.dev/baton/scheduler/sim"
	"baton.dev/baton/scheduler/trace"
)

// jsonOutputs is what each command with -o json prints: a value of each
// type it may print. TestJSONOutputKeys fails when a command gains -o json
// without an entry here.
var jsonOutputs = map[string][]any{
	"workflows":          {[]api.WorkflowSummary{}},
	"workflows get":      {&api.WorkflowSummary{}},
	"workflows history":  {&api.ConfigurationHistory{}},
	"invoke":             {&api.Invocation{}, asyncAccepted{}},
	"invocations show":   {&api.Invocation{}},
	"invocations ls":     {[]api.Invocation{}},
	"report":             {&api.ReportResponse{}, &api.Series{}},
	"workers ls":         {[]api.WorkerView{}},
	"cluster":            {api.ClusterView{}},
	"tenants ls":         {[]api.TenantView{}},
	"registries ls":      {[]api.RegistryLoginView{}},
	"tune":               {tuneReport{}},
	"sim tune":           {&sim.Report{}},
	"sim prewarm":        {&prewarmsim.Report{}, &prewarmsim.FrontierReport{}},
	"sim trace":          {&trace.WriteSummary{}},
	"bench coldstart":    {&bench.ColdStartReport{}, &bench.PullReport{}},
	"bench controlplane": {&bench.ControlPlaneReport{}},
	"bench dataplane":    {&bench.DataPlaneReport{}},
	"bench overload":     {&bench.OverloadReport{}},
	"bench failover":     {&bench.FailoverReport{}},
	"bench prewarm":      {&bench.PrewarmReport{}},
}

// lowerCamel is the one style of every JSON key Baton writes: p99Ms,
// coldStartRate, reservedCpuMilli.
var lowerCamel = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// TestJSONOutputKeys walks the command tree, finds every command with
// -o table|json, and checks every key its output can have (the JSON names
// of the fields of the types it prints, recursively) is lowerCamelCase.
func TestJSONOutputKeys(t *testing.T) {
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f := c.Flags().Lookup("output"); f != nil && strings.Contains(f.Usage, "table or json") {
			path := strings.TrimPrefix(c.CommandPath(), "baton ")
			seen[path] = true
			outs, ok := jsonOutputs[path]
			if !ok {
				t.Errorf("`baton %s` has -o json but no entry in jsonOutputs: add the types it prints", path)
			}
			for _, v := range outs {
				for _, bad := range badKeys(reflect.TypeOf(v), reflect.TypeOf(v).String(), map[reflect.Type]bool{}) {
					t.Errorf("`baton %s -o json`: %s", path, bad)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(rootCmd())
	for path := range jsonOutputs {
		if !seen[path] {
			t.Errorf("jsonOutputs names `baton %s`, which has no -o json", path)
		}
	}
}

// badKeys lists the keys of t's JSON form that are not lowerCamelCase,
// each with the Go path that produces it.
func badKeys(t reflect.Type, at string, visiting map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || visiting[t] || t.PkgPath() == "time" {
		return nil
	}
	visiting[t] = true
	defer delete(visiting, t)
	var bad []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			bad = append(bad, badKeys(f.Type, at+"."+f.Name, visiting)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		if !lowerCamel.MatchString(name) {
			bad = append(bad, at+"."+f.Name+" is written as "+`"`+name+`"`)
		}
		bad = append(bad, badKeys(f.Type, at+"."+f.Name, visiting)...)
	}
	return bad
}
