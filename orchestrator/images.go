package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"baton.dev/baton/registry"
	"baton.dev/baton/workflow"
)

// pinImages resolves each of wf's registry images to the digest its tag
// names now, so that every worker runs the same bits until the next
// deploy (logging in with the tenant's own login to that registry, if
// it has one), and checks that a live worker has each local (baton.local)
// image. Any failure refuses the deploy, naming the function's image field
// where the document gives it, with the registry's answer.
func (o *Orchestrator) pinImages(ctx context.Context, tenant, filename string, wf *workflow.Workflow, now time.Time) (map[string]registry.Pinned, *DeployError) {
	var problems workflow.Problems
	var missingLocal []string
	var have []string
	pins := map[string]registry.Pinned{}
	for _, name := range slices.Sorted(maps.Keys(wf.Spec.Functions)) {
		f := wf.Spec.Functions[name]
		problem := func(msg string) {
			problems = append(problems, workflow.Problem{File: filename, Line: f.ImageAt.Line, Col: f.ImageAt.Col,
				Field: "spec.functions." + name + ".image", Msg: msg})
		}
		if registry.Local(f.Image) {
			if o.workers.Live(now) == 0 {
				return nil, &DeployError{Status: http.StatusServiceUnavailable, Msg: "no live worker: cannot check the workflow's local images; start a worker and deploy again"}
			}
			if ok, imgs := o.workers.HasImage(f.Image, now); !ok {
				missingLocal = append(missingLocal, fmt.Sprintf("function %q: image %q is not on any worker", name, f.Image))
				have = imgs
			}
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, o.cfg.ResolveTimeout)
		p, err := o.pinner.Pin(rctx, f.Image, o.logins.For(tenant, f.Image))
		cancel()
		if err != nil {
			problem(err.Error())
			continue
		}
		pins[name] = p
	}
	if len(problems) > 0 {
		return nil, &DeployError{Status: http.StatusUnprocessableEntity, Msg: problems.Error(), Problems: problems}
	}
	if len(missingLocal) > 0 {
		msg := fmt.Sprintf("%s: %s", filename, strings.Join(missingLocal, "; "))
		if len(have) > 0 {
			msg += fmt.Sprintf(" (images the workers have: %s)", strings.Join(have, ", "))
		}
		return nil, &DeployError{Status: http.StatusUnprocessableEntity, Msg: msg}
	}
	return pins, nil
}
