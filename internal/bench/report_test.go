package bench

import (
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"baton.dev/baton/internal/simcluster"
)

// lowerCamel is a JSON key as the reports spell them.
var lowerCamel = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// TestReportsTagEveryField: every exported field of what is printed with
// -o json (or passed to the client process), nested types too, has a
// lowerCamelCase JSON name; an embedded struct is inlined explicitly.
func TestReportsTagEveryField(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		for f := range slices.Values(reflect.VisibleFields(typ)) {
			if len(f.Index) > 1 || !f.IsExported() {
				continue // promoted: checked on its own type
			}
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case f.Anonymous:
				if tag != ",inline" {
					t.Errorf("%s.%s: embedded with tag %q, want \",inline\"", path, f.Name, tag)
				}
			case !lowerCamel.MatchString(name):
				t.Errorf("%s.%s: JSON name %q, want lowerCamelCase", path, f.Name, name)
			}
			walk(path+"."+f.Name, f.Type)
		}
	}
	for _, v := range []any{ColdStartReport{}, DataPlaneReport{}, PrewarmReport{}, ControlPlaneReport{}, DataPlaneLoad{}, DataPlaneLoadResult{}, OverloadReport{}, OverloadLoad{}, FailoverReport{}, fleetSpec{}, fleetReady{}} {
		walk(reflect.TypeOf(v).Name(), reflect.TypeOf(v))
	}
}

// TestReportsKeepTheirJSONKeys: the reports' top-level keys are the ones
// `baton bench ... -o json` has always printed, the machine's load inline.
func TestReportsKeepTheirJSONKeys(t *testing.T) {
	for _, tt := range []struct {
		report any
		want   string
	}{
		{&ColdStartReport{}, "addedP50Ms baton direct loadAverageAfter loadAverageBefore met n targetAddedP50Ms targetRatio throughputRatio"},
		{&DataPlaneReport{}, "addedP50Us addedP99Us clientProcess concurrency loadAverageAfter loadAverageBefore met overProxyP50Us overProxyP99Us " +
			"pacedBaton pacedDirect pacedProxy ratePerSecond replicas runtime sandboxes saturatedBaton saturatedDirect targetAddedP50Us targetAddedP99Us " +
			"targetRatio throughputRatio workersAfter"},
		{&PrewarmReport{}, "functions invocations minutes policies speedup trace"},
		{&ControlPlaneReport{ControlPlaneReport: &simcluster.ControlPlaneReport{}}, "cpus functions gomaxprocs heartbeats loadAverageAfter loadAverageBefore " +
			"memoryMet met orchestratorMemory phases reference replicas targetBytesPerFunction targetBytesPerWorker targetP99Ms targetPerSecond workers workersInProcess workersLost"},
	} {
		data, err := json.Marshal(tt.report)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(slices.Sorted(maps.Keys(m)), " "); got != tt.want {
			t.Errorf("%T keys:\n got %s\nwant %s", tt.report, got, tt.want)
		}
	}
}
