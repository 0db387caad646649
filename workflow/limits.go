package workflow

import (
	"bytes"
	"fmt"
)

// Limits bound what a workflow document and an invocation may ask of Baton.
// Parse enforces the document limits, the Engine the run-time ones; each
// refusal names the limit and the value that broke it. A zero field means
// that field's default (see DefaultLimits).
type Limits struct {
	// MaxDocumentBytes bounds a workflow document's size.
	MaxDocumentBytes int
	// MaxStages bounds the stages of one workflow.
	MaxStages int
	// MaxFanOut bounds the elements one foreach stage fans out over (and so
	// a stage's maxParallel).
	MaxFanOut int
	// MaxPayloadBytes bounds the workflow input and every stage output,
	// that is every payload passed between stages.
	MaxPayloadBytes int
	// MaxInputDepth bounds how deeply the workflow input and every stage
	// output nest JSON arrays and objects.
	MaxInputDepth int
	// MaxExpressionBytes bounds the text of one when: expression.
	MaxExpressionBytes int
}

// The default limits.
const (
	DefaultMaxStages          = 100
	DefaultMaxFanOut          = 1000
	DefaultMaxPayloadBytes    = 6 << 20
	DefaultMaxInputDepth      = 64
	DefaultMaxExpressionBytes = 1024
)

// DefaultLimits returns the limits Parse and a zero Engine apply.
func DefaultLimits() Limits {
	return Limits{
		MaxDocumentBytes:   MaxDocumentBytes,
		MaxStages:          DefaultMaxStages,
		MaxFanOut:          DefaultMaxFanOut,
		MaxPayloadBytes:    DefaultMaxPayloadBytes,
		MaxInputDepth:      DefaultMaxInputDepth,
		MaxExpressionBytes: DefaultMaxExpressionBytes,
	}
}

// withDefaults returns l with every zero or negative field set to its default.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxDocumentBytes, d.MaxDocumentBytes)
	set(&l.MaxStages, d.MaxStages)
	set(&l.MaxFanOut, d.MaxFanOut)
	set(&l.MaxPayloadBytes, d.MaxPayloadBytes)
	set(&l.MaxInputDepth, d.MaxInputDepth)
	set(&l.MaxExpressionBytes, d.MaxExpressionBytes)
	return l
}

// checkPayload refuses a payload over the size or nesting limits; what
// names the payload in the error, e.g. "workflow input" or "output".
func (l Limits) checkPayload(what string, payload []byte) error {
	if len(payload) > l.MaxPayloadBytes {
		return fmt.Errorf("%s is %d bytes; the limit between stages is %d", what, len(payload), l.MaxPayloadBytes)
	}
	if jsonDepthOver(payload, l.MaxInputDepth) {
		return fmt.Errorf("%s nests JSON arrays and objects more than %d levels deep", what, l.MaxInputDepth)
	}
	return nil
}

// jsonDepthOver reports whether the JSON text in b nests arrays and objects
// more than limit levels deep. It scans bytes, skipping strings, so it costs
// one pass and no allocation, whether or not b is valid JSON.
func jsonDepthOver(b []byte, limit int) bool {
	if bytes.IndexAny(b, "[{") < 0 {
		return false
	}
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > limit {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}
