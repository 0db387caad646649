// Package worker defines what a worker runs: the Runtime interface every
// sandbox runtime implements (containerd, process and the simulation-only
// fake live in sub-packages and all pass the conformance suite in
// worker/sandboxtest), the sandbox spec and its errors, the health wait,
// and the check that a connection ends in a sandbox (Conn, HoldsConn).
// The daemon that serves a runtime over NATS is worker/daemon; the wire
// messages are worker/protocol; the machine's registry of worker
// incarnations is worker/machine.
package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SandboxSpec describes one sandbox to create: one instance of one function.
type SandboxSpec struct {
	// ID is unique across the cluster and chosen by the orchestrator. It is
	// a DNS-label-safe string ([a-z0-9-], at most 63 characters).
	ID string `json:"id"`
	// Function is the key of the function this sandbox serves
	// ("tenant/workflow/function"); runtimes record it as a label so that
	// List can report it after a restart.
	Function string `json:"function"`
	// Image is the image reference, e.g. "baton.local/fn-preprocess:v1".
	Image string `json:"image"`
	// CPUMilli is the CPU limit in millicores (1000 = one core); the cgroup
	// CFS quota is CPUMilli*period/1000.
	CPUMilli int64 `json:"cpuMilli"`
	// MemoryBytes is the memory limit (cgroup memory.limit_in_bytes).
	MemoryBytes int64 `json:"memoryBytes"`
	// Env is extra environment for the function process. PORT is always set
	// by the runtime.
	Env map[string]string `json:"env,omitempty"`
	// HealthTimeout bounds how long Create waits for GET /healthz to answer
	// 200; zero means the runtime's default (30s).
	HealthTimeout time.Duration `json:"healthTimeout,omitempty"`
	// PullAuth is the tenant's login to the image's registry, for this
	// one pull; nil for a public or local image. It is a secret: runtimes
	// use it for the pull and nothing else (no label, no log, no record).
	PullAuth *PullAuth `json:"pullAuth,omitempty"`
	// Isolation is "" (the runtime's default: runc's containers) or
	// IsolationGVisor (a gVisor user-space kernel between the function
	// and the host's).
	Isolation string `json:"isolation,omitempty"`
	// Privileges are what the sandbox is granted beyond the hardening
	// every sandbox runs under: egress, capabilities, root. The zero
	// value grants nothing. The orchestrator sends only what its
	// operator allows.
	Privileges
}

// Privileges are what a sandbox is granted beyond the hardening every
// sandbox runs under. The zero value grants nothing: no route out, no
// capability, never uid 0. The containerd runtime grants them; the
// process runtime (no isolation at all) and the fake ignore them.
type Privileges struct {
	// Egress is "" (none: the sandbox has no default route and reaches
	// nothing) or EgressInternet (a default route and NAT to public
	// addresses only; private, link-local, loopback and multicast
	// ranges, the host itself and other sandboxes stay out of reach).
	Egress string `json:"egress,omitempty"`
	// Capabilities are Linux capability names without the CAP_ prefix
	// (NET_BIND_SERVICE): the sandbox's process holds exactly these.
	Capabilities []string `json:"capabilities,omitempty"`
	// RunAsRoot runs the process as uid 0; without it the process runs
	// as its image's USER, or as an unprivileged uid when that is root
	// or not given.
	RunAsRoot bool `json:"runAsRoot,omitempty"`
}

// EgressInternet gives a sandbox connections to public addresses.
const EgressInternet = "internet"

// IsZero reports whether p grants nothing.
func (p Privileges) IsZero() bool {
	return p.Egress == "" && len(p.Capabilities) == 0 && !p.RunAsRoot
}

// Equal reports whether p and o grant the same.
func (p Privileges) Equal(o Privileges) bool {
	return p.Egress == o.Egress && slices.Equal(p.Capabilities, o.Capabilities) && p.RunAsRoot == o.RunAsRoot
}

// validate rejects privileges no runtime can grant: an unknown egress,
// capability names that are not names (or carry the CAP_ prefix), a
// capability twice.
func (p Privileges) validate() error {
	if p.Egress != "" && p.Egress != EgressInternet {
		return fmt.Errorf("egress %q: want %q or nothing", p.Egress, EgressInternet)
	}
	seen := map[string]bool{}
	for _, c := range p.Capabilities {
		if !isCapabilityName(c) {
			return fmt.Errorf("capability %q: want a name like NET_BIND_SERVICE, without CAP_", c)
		}
		if seen[c] {
			return fmt.Errorf("capability %q asked for twice", c)
		}
		seen[c] = true
	}
	return nil
}

// isCapabilityName reports whether c looks like a capability name
// without the CAP_ prefix: capitals, digits and '_'.
func isCapabilityName(c string) bool {
	if c == "" || strings.HasPrefix(c, "CAP_") {
		return false
	}
	for i := 0; i < len(c); i++ {
		if ch := c[i]; (ch < 'A' || ch > 'Z') && (ch < '0' || ch > '9') && ch != '_' {
			return false
		}
	}
	return true
}

// IsolationGVisor asks for a sandbox in gVisor (runsc).
const IsolationGVisor = "gvisor"

// PullAuth is a login to one registry.
type PullAuth struct {
	Host     string `json:"host"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// String hides the password.
func (a *PullAuth) String() string { return "login " + a.Username + " at " + a.Host }

// Validate rejects a spec no runtime can create: an ID that is not a DNS
// label, an empty image, negative limits, malformed privileges. Every runtime calls it first.
func (s SandboxSpec) Validate() error {
	switch {
	case !isDNSLabel(s.ID):
		return fmt.Errorf("sandbox ID %q: want a DNS label ([a-z0-9-], at most 63 characters)", s.ID)
	case s.Image == "":
		return fmt.Errorf("sandbox %s: image is empty", s.ID)
	case s.CPUMilli < 0:
		return fmt.Errorf("sandbox %s: CPU limit %dm is negative", s.ID, s.CPUMilli)
	case s.MemoryBytes < 0:
		return fmt.Errorf("sandbox %s: memory limit %d is negative", s.ID, s.MemoryBytes)
	}
	if err := s.Privileges.validate(); err != nil {
		return fmt.Errorf("sandbox %s: %w", s.ID, err)
	}
	return nil
}

// isDNSLabel reports whether id is a DNS label: [a-z0-9-], 1 to 63
// characters, starting and ending with a letter or digit.
func isDNSLabel(id string) bool {
	if len(id) == 0 || len(id) > 63 || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Sandbox is a running, healthy sandbox.
type Sandbox struct {
	ID       string `json:"id"`
	Function string `json:"function"`
	Image    string `json:"image"`
	CPUMilli int64  `json:"cpuMilli"`
	// MemoryBytes is the memory limit the sandbox was created with.
	MemoryBytes int64 `json:"memoryBytes"`
	// Endpoint is the base URL the function serves on, e.g.
	// "http://10.177.0.5:8080". POST Endpoint+"/" invokes the function.
	Endpoint string `json:"endpoint"`
	// ColdStart is how the creation time was spent; zero for sandboxes
	// found by List after a restart.
	ColdStart ColdStart `json:"coldStart"`
	Created   time.Time `json:"created"`
}

// ColdStart breaks a sandbox creation down into its phases.
type ColdStart struct {
	Pull    time.Duration `json:"pull"`    // image pulled from its registry (zero when present)
	Image   time.Duration `json:"image"`   // image present and unpacked
	Create  time.Duration `json:"create"`  // container (spec, snapshot) created
	Network time.Duration `json:"network"` // network namespace and CNI set up
	Start   time.Duration `json:"start"`   // task created and started
	Healthy time.Duration `json:"healthy"` // until GET /healthz answered 200
	Total   time.Duration `json:"total"`
	// PullBytes is what the pull this cold start waited for fetched
	// (zero when the image was present); cold starts that shared one
	// pull each report it.
	PullBytes int64 `json:"pullBytes,omitempty"`
}

// Runtime creates and deletes sandboxes on one machine. Implementations must
// be safe for concurrent use.
type Runtime interface {
	// Name is a short identifier: "containerd", "process", "fake".
	Name() string
	// Images lists the image references this runtime can start now.
	Images(ctx context.Context) ([]string, error)
	// Create starts a sandbox and returns once GET /healthz answers 200.
	// On any error nothing of the sandbox is left behind. Errors wrap
	// ErrImageNotFound, ErrUnhealthy or ErrExists where they apply.
	Create(ctx context.Context, spec SandboxSpec) (Sandbox, error)
	// Delete stops and removes a sandbox completely (process, container,
	// snapshot, network namespace, IP). Deleting an unknown ID returns an
	// error wrapping ErrNotFound.
	Delete(ctx context.Context, id string) error
	// List returns the sandboxes this runtime currently has, including
	// ones created before a restart of the worker.
	List(ctx context.Context) ([]Sandbox, error)
	// Verify checks, in the kernel's own socket tables and never by
	// asking the function, that the TCP connection c ends in sandbox id:
	// nil if it does, an error wrapping ErrIdentity if something else
	// holds it (a leftover or foreign process at a reused address), and
	// one wrapping ErrNotFound for an unknown ID. The caller dials, calls
	// Verify, and only then sends the request.
	Verify(ctx context.Context, id string, c Conn) error
	// Close releases the runtime's own resources. It does not delete
	// sandboxes.
	Close() error
}

// ExitReporter is implemented by runtimes that can tell why a sandbox's
// function stopped answering (the containerd runtime); the others cannot,
// and a caller treats them as reporting the zero ExitReason.
type ExitReporter interface {
	// Exit says why sandbox id's function stopped answering, as far as
	// the runtime can tell: the zero ExitReason when it cannot. It is
	// asked after a call to the sandbox failed, before the sandbox is
	// deleted. An unknown ID gives an error wrapping ErrNotFound.
	Exit(ctx context.Context, id string) (ExitReason, error)
}

// ExitReason is why a sandbox's function stopped answering. The zero
// value says nothing is known.
type ExitReason struct {
	// OutOfMemory says the kernel killed a process of the sandbox
	// because the sandbox reached its memory limit.
	OutOfMemory bool `json:"outOfMemory,omitempty"`
}

// Errors that runtimes wrap so callers can tell the cases apart.
var (
	ErrImageNotFound = errors.New("image not found")
	// ErrUnsupported means the worker cannot make the sandbox asked for
	// (an isolation it does not have).
	ErrUnsupported = errors.New("not supported by this worker")
	// ErrPull means the image could not be pulled from its registry (it
	// is down, refused the login, or the image is too large, too slow or
	// for another platform); the message says which.
	ErrPull      = errors.New("image pull failed")
	ErrUnhealthy = errors.New("sandbox did not become healthy")
	ErrNotFound  = errors.New("sandbox not found")
	ErrExists    = errors.New("sandbox already exists")
	// ErrStaleTerm means a request came from an orchestrator replica
	// whose leadership term is older than the newest the worker has
	// seen: a deposed leader, which must not act.
	ErrStaleTerm = errors.New("the orchestrator's term is stale: another replica leads")
)
