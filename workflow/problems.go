package workflow

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a workflow document, positioned at the
// offending YAML node (for a missing field, at the mapping that lacks it).
type Problem struct {
	// File is the file name given to Parse; only used in messages.
	File string `json:"file,omitempty"`
	// Line and Col are 1-based; zero when unknown (e.g. an oversized document).
	Line int `json:"line,omitempty"`
	Col  int `json:"col,omitempty"`
	// Field is the dotted path of the field, e.g. "spec.stages[1].needs[0]";
	// empty for problems with the document as a whole.
	Field string `json:"field,omitempty"`
	// Msg says what is wrong and, where possible, how to fix it.
	Msg string `json:"message"`
}

// Error formats p as "file:line:col: field: msg", leaving out unknown parts.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one document, sorted by position.
// Parse returns it as a *Problems error.
type Problems []Problem

// Error lists the problems, one per line.
func (ps *Problems) Error() string {
	if ps == nil || len(*ps) == 0 {
		return "no problems"
	}
	lines := make([]string, len(*ps))
	for i, p := range *ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by line, then column, keeping the order in
// which problems at the same position were found.
func sortProblems(ps Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
}
