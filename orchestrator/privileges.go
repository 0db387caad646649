package orchestrator

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"baton.dev/baton/worker"
	"baton.dev/baton/workflow"
)

// Privileges are what the operator lets workflows ask for beyond the
// hardening every sandbox runs under (baton orchestrator and baton up:
// --allow-capability, --allow-root, --allow-egress). The zero value allows
// nothing: a deploy that asks for more is refused, naming the field.
// Privileged sandboxes and host paths are never offered, whatever this
// says (workflow.Parse refuses them).
type Privileges struct {
	// Capabilities are the Linux capabilities (without CAP_, e.g.
	// NET_BIND_SERVICE) a function may ask for in
	// security.capabilities.
	Capabilities []string
	// Root lets a function ask to run as uid 0 (security.runAsRoot).
	Root bool
	// Egress lets a workflow ask for connections to public internet
	// addresses (spec.network.egress: internet).
	Egress bool
}

// Validate refuses capability names that are not Linux capabilities
// written as a workflow writes them (New calls it).
func (p Privileges) Validate() error {
	for _, c := range p.Capabilities {
		if err := workflow.CheckCapability(c); err != nil {
			return fmt.Errorf("allowed capabilities (--allow-capability): %w", err)
		}
	}
	return nil
}

// checkPrivileges refuses, with 422 and every field at fault at its
// position in filename, a workflow that asks for egress, a capability or
// root the operator does not allow. Nil means everything it asks for is
// allowed.
func (o *Orchestrator) checkPrivileges(filename string, wf *workflow.Workflow) *DeployError {
	problems := refusedPrivileges(o.cfg.Privileges, filename, wf)
	if len(problems) == 0 {
		return nil
	}
	return &DeployError{Status: http.StatusUnprocessableEntity, Msg: problems.Error(), Problems: problems}
}

// refusedPrivileges lists what wf asks for beyond allowed, one problem
// per field, in the document's order.
func refusedPrivileges(allowed Privileges, filename string, wf *workflow.Workflow) workflow.Problems {
	var problems workflow.Problems
	at := func(pos workflow.Position, field, format string, args ...any) {
		problems = append(problems, workflow.Problem{File: filename, Line: pos.Line, Col: pos.Col, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if nw := wf.Spec.Network; nw.Internet() && !allowed.Egress {
		at(nw.EgressAt, "spec.network.egress",
			"egress %q is not allowed on this cluster: its sandboxes reach nothing but the orchestrator's calls (the operator allows egress with --allow-egress)", nw.Egress)
	}
	for _, name := range slices.Sorted(maps.Keys(wf.Spec.Functions)) {
		sec := wf.Spec.Functions[name].Security
		path := "spec.functions." + name + ".security"
		for i, c := range sec.Capabilities {
			if slices.Contains(allowed.Capabilities, c) {
				continue
			}
			var pos workflow.Position
			if i < len(sec.CapabilitiesAt) {
				pos = sec.CapabilitiesAt[i]
			}
			at(pos, fmt.Sprintf("%s.capabilities[%d]", path, i),
				"capability %s is not allowed on this cluster (%s; the operator allows one with --allow-capability %s)", c, allowedCapabilities(allowed), c)
		}
		if sec.RunAsRoot && !allowed.Root {
			at(sec.RunAsRootAt, path+".runAsRoot",
				"running as root is not allowed on this cluster: functions run as their image's user, never uid 0 (the operator allows root with --allow-root)")
		}
	}
	slices.SortStableFunc(problems, func(a, b workflow.Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return problems
}

// allowedCapabilities says which capabilities allowed lets functions ask
// for.
func allowedCapabilities(allowed Privileges) string {
	if len(allowed.Capabilities) == 0 {
		return "it allows none"
	}
	return "it allows " + strings.Join(allowed.Capabilities, ", ")
}

// stillAllowed reports whether a stored deployment asks only for what
// the operator allows now; one that asks for more (the operator took an
// allowance away since its deploy) is logged and its functions get no
// sandbox until it is deployed again or the allowance comes back.
func (o *Orchestrator) stillAllowed(d *Deployment) bool {
	problems := refusedPrivileges(o.cfg.Privileges, d.Name, d.Workflow)
	if len(problems) == 0 {
		return true
	}
	o.log.Error("a deployed workflow asks for privileges this orchestrator does not allow: its functions get no sandbox until it is deployed again or they are allowed",
		"tenant", d.Tenant, "workflow", d.Name, "refused", problems.Error())
	return false
}

// sandboxPrivileges is what the sandboxes of function f of wf are
// granted: what the workflow asks for, which the deploy checked against
// the operator's allowances.
func sandboxPrivileges(wf *workflow.Workflow, f *workflow.Function) worker.Privileges {
	var p worker.Privileges
	if wf.Spec.Network.Internet() {
		p.Egress = worker.EgressInternet
	}
	p.Capabilities = slices.Clone(f.Security.Capabilities)
	p.RunAsRoot = f.Security.RunAsRoot
	return p
}
