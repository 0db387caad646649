package workflow

import (
	"encoding/json"
	"fmt"
)

// SchemaID is the $id of the JSON Schema JSONSchema returns.
const SchemaID = "https://baton.dev/schemas/workflow-v1.json"

// JSONSchema returns a JSON Schema (draft 2020-12) of the workflow language,
// for editors: every field Parse accepts, with its type and a description.
// Parse checks more than the schema can say (references between stages,
// cycles, quantities against bounds, expressions), so a document the schema
// accepts may still have problems.
func JSONSchema() []byte {
	duration := func(desc string) map[string]any {
		return map[string]any{"type": "string", "pattern": `^-?([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$`, "description": desc}
	}
	dnsLabel := map[string]any{"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": maxDNSLabel}
	quantity := func(desc string, auto bool) map[string]any {
		q := map[string]any{"type": []string{"string", "number"}, "description": desc}
		if auto {
			q["description"] = desc + `, or "auto" to let the scheduler choose within bounds`
		}
		return q
	}
	pair := func(desc string) map[string]any {
		return map[string]any{"type": "array", "minItems": 2, "maxItems": 2, "items": quantity("a fixed quantity", false), "description": desc}
	}
	object := func(desc string, fields []string, props map[string]any, required ...string) map[string]any {
		if len(props) != len(fields) {
			panic(fmt.Sprintf("schema of %q: %d properties for %d fields", desc, len(props), len(fields)))
		}
		o := map[string]any{"type": "object", "additionalProperties": false, "properties": props, "description": desc}
		if len(required) > 0 {
			o["required"] = required
		}
		return o
	}
	stage := object("a stage: one node of the workflow DAG", stageFields, map[string]any{
		"name":        with(dnsLabel, "the stage's unique name"),
		"function":    map[string]any{"type": "string", "description": "a key of spec.functions"},
		"needs":       map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "uniqueItems": true, "description": "stages whose outputs make this stage's input: one need gives its output, several an object keyed by stage name"},
		"foreach":     map[string]any{"type": "string", "description": `dotted path to a JSON array in the input ("frames", "data.items"), or "." for the input itself; the stage runs once per element and gathers the outputs in order`},
		"maxParallel": map[string]any{"type": "integer", "minimum": 1, "maximum": DefaultMaxFanOut, "description": "at most this many foreach elements at once"},
		"when":        map[string]any{"type": "string", "maxLength": DefaultMaxExpressionBytes, "description": "CEL expression over `input` (the stage input as JSON); the stage runs only when it is true, else it is skipped and passes null"},
		"timeout":     duration("bounds each attempt, e.g. 5s"),
		"retries":     map[string]any{"type": "integer", "minimum": 0, "maximum": MaxRetries, "description": "retries after a failed attempt, with exponential backoff and full jitter"},
		"onError":     map[string]any{"enum": []string{string(OnErrorFail), string(OnErrorContinue)}, "default": string(OnErrorFail), "description": `fail: the invocation fails; continue: the output becomes {"error": {"stage", "message"}} for the next stage to test`},
	}, "name", "function")
	function := object("a function: an OCI image and its resources", functionFields, map[string]any{
		"image": map[string]any{"type": "string", "description": "OCI image reference, e.g. baton.local/fn-detect:v1"},
		"resources": object("CPU and memory", resourcesFields, map[string]any{
			"cpu":    quantity(`CPU: millicores ("250m") or cores ("1", "0.5")`, true),
			"memory": quantity(`memory: bytes with a unit ("128Mi", "1Gi")`, true),
		}, "cpu", "memory"),
		"bounds": object("ranges the scheduler chooses auto resources from", boundsFields, map[string]any{
			"cpu":    pair("[low, high] CPU"),
			"memory": pair("[low, high] memory"),
		}),
		"env":        map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "description": "extra environment variables"},
		"idempotent": map[string]any{"type": "boolean", "description": "a call cut short by a lost worker may be made again on another sandbox"},
		"security": object("what the function's sandboxes are granted beyond the defaults; the operator must allow each grant", securityFields, map[string]any{
			"capabilities": map[string]any{"type": "array", "uniqueItems": true, "items": map[string]any{"enum": Capabilities()}, "description": "Linux capabilities without the CAP_ prefix, e.g. NET_BIND_SERVICE (baton orchestrator --allow-capability)"},
			"runAsRoot":    map[string]any{"type": "boolean", "default": false, "description": "run as uid 0 instead of the image's user (baton orchestrator --allow-root)"},
			"privileged":   map[string]any{"const": false, "description": "never offered: Baton runs no privileged sandboxes"},
			"hostPaths":    map[string]any{"type": "array", "maxItems": 0, "description": "never offered: Baton mounts no host paths"},
		}),
	}, "image", "resources")
	schema := object("a Baton workflow", documentFields, map[string]any{
		"apiVersion": map[string]any{"const": APIVersion},
		"kind":       map[string]any{"const": KindWorkflow},
		"metadata":   object("names the workflow", metadataFields, map[string]any{"name": with(dnsLabel, "the workflow's name")}, "name"),
		"spec": object("what the workflow runs", specFields, map[string]any{
			"qos": object("end-to-end latency target", qosFields, map[string]any{
				"latency":    duration("e.g. 1500ms; > 0"),
				"percentile": map[string]any{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100},
			}, "latency", "percentile"),
			"timeout": duration("bounds a whole invocation"),
			"queue": object("bounds of each of its functions' queues, over the orchestrator's --max-queue and --max-queue-wait; beyond them a request is refused with 503 and Retry-After", queueFields, map[string]any{
				"maxWaiting": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxQueueWaiting, "description": "most requests waiting for a sandbox of one function"},
				"maxWait":    duration("longest a request waits for a sandbox, e.g. 10s; > 0"),
			}),
			"network": object("what the workflow's sandboxes may reach besides the orchestrator's calls", networkFields, map[string]any{
				"egress": map[string]any{"enum": []string{string(EgressNone), string(EgressInternet)}, "default": string(EgressNone), "description": "none: no connection out; internet: connections to public addresses only, never private ranges, the host or other sandboxes (baton orchestrator --allow-egress)"},
			}),
			"functions": map[string]any{"type": "object", "propertyNames": dnsLabel, "additionalProperties": function},
			"stages":    map[string]any{"type": "array", "minItems": 1, "maxItems": DefaultMaxStages, "items": stage},
		}, "stages"),
	}, "apiVersion", "kind", "metadata", "spec")
	schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	schema["$id"] = SchemaID
	schema["title"] = "Baton workflow (" + APIVersion + ")"
	out, err := json.MarshalIndent(schema, "", "  ")
	if err != nil {
		panic(fmt.Sprintf("marshal the workflow schema: %v", err)) // only maps, strings and numbers
	}
	return append(out, '\n')
}

// with returns a copy of schema with a description.
func with(schema map[string]any, desc string) map[string]any {
	out := make(map[string]any, len(schema)+1)
	for k, v := range schema {
		out[k] = v
	}
	out["description"] = desc
	return out
}
