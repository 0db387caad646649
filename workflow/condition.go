package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
)

// conditionCostLimit bounds the work of evaluating one when: expression (in
// CEL cost units, roughly one per operation), so that no expression can
// spin on a large input.
const conditionCostLimit = 1_000_000

// condition is a compiled when: expression.
type condition struct {
	program cel.Program
}

// conditionEnv is the CEL environment of when: expressions: one variable,
// input, holding the stage input decoded from JSON, plus CEL's string
// extensions. It is built once (building it is slow) and never changes.
var conditionEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("input", cel.DynType), ext.Strings())
})

// compileCondition compiles a when: expression; its errors are meant for a
// person and say where in the expression the problem is.
func compileCondition(expr string) (*condition, error) {
	env, err := conditionEnv()
	if err != nil {
		return nil, fmt.Errorf("build the expression environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		first := errs[0]
		msg := fmt.Sprintf("expression does not compile: %d:%d: %s",
			first.Location.Line(), first.Location.Column()+1, first.Message)
		if len(errs) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	if t := ast.OutputType(); !t.IsAssignableType(cel.BoolType) {
		return nil, fmt.Errorf("expression gives %s, want a bool", t)
	}
	prg, err := env.Program(ast, cel.CostLimit(conditionCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("expression does not compile: %w", err)
	}
	return &condition{program: prg}, nil
}

// holds evaluates the condition on a stage input (JSON).
func (c *condition) holds(ctx context.Context, input []byte) (bool, error) {
	var v any
	if len(strings.TrimSpace(string(input))) > 0 {
		if err := json.Unmarshal(input, &v); err != nil {
			return false, fmt.Errorf("when: the stage input is not JSON: %w", err)
		}
	}
	out, _, err := c.program.ContextEval(ctx, map[string]any{"input": v})
	if err != nil {
		return false, fmt.Errorf("when: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("when: expression gave %s %v, want a bool", out.Type().TypeName(), out.Value())
	}
	return bool(b), nil
}
