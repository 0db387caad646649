// Package composetest checks the repository's docker-compose.yml without a
// Docker engine: Compose itself must accept it (`docker-compose config`),
// it must describe a whole cluster (NATS, Postgres, an orchestrator,
// workers on containerd), and every baton command
// and flag it runs must exist in the baton binary built from this tree.
package composetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"baton.dev/baton/internal/testenv"
)

// service is the part of a resolved Compose service the checks read.
type service struct {
	Image      string `yaml:"image"`
	Command    words  `yaml:"command"`
	Entrypoint words  `yaml:"entrypoint"`
	Privileged bool   `yaml:"privileged"`
	Build      any    `yaml:"build"`
	// Volumes as Compose resolves them: "source:target:mode".
	Volumes []string `yaml:"volumes"`
}

// words is a command line, written in Compose as a list or as one string
// (split on blanks, as Compose does for the simple cases).
type words []string

// UnmarshalYAML accepts both forms.
func (w *words) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*w = strings.Fields(n.Value)
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*w = list
	return nil
}

// resolved runs `docker-compose config` on the repository's compose file
// and returns its services.
func resolved(t *testing.T, root string) map[string]service {
	t.Helper()
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatalf("docker-compose is not installed (make deps installs Debian's docker-compose package): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", "-f", filepath.Join(root, "docker-compose.yml"), "config")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "BATON_TOKEN=", "BATON_ADMIN_TOKEN=")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("docker-compose config rejects docker-compose.yml: %v\n%s", err, stderr)
	}
	var doc struct {
		Services map[string]service `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("decode docker-compose config's output: %v\n%s", err, out)
	}
	return doc.Services
}

// TestComposeDescribesTheCluster checks the services of a cluster: NATS
// with JetStream, Postgres, one orchestrator and two privileged workers on
// containerd, built from the root Dockerfile.
func TestComposeDescribesTheCluster(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	services := resolved(t, root)
	tests := []struct {
		name  string
		check func(map[string]service) string // "" when fine
	}{
		{"nats runs with JetStream", func(s map[string]service) string {
			n, ok := s["nats"]
			if !ok || !strings.HasPrefix(n.Image, "nats") || !slices.Contains(n.Command, "-js") {
				return "want a service nats on a nats image with -js"
			}
			return ""
		}},
		{"postgres", func(s map[string]service) string {
			if p, ok := s["postgres"]; !ok || !strings.HasPrefix(p.Image, "postgres") {
				return "want a service postgres on a postgres image"
			}
			return ""
		}},
		{"two orchestrator replicas on NATS and one Postgres, sharing their keys", func(s map[string]service) string {
			ids, volumes, postgres := map[string]bool{}, map[string]bool{}, map[string]bool{}
			for name, svc := range s {
				args := batonArgs(svc)
				if len(args) == 0 || args[0] != "orchestrator" {
					continue
				}
				if flagValue(args, "--nats") == "" || !strings.HasPrefix(flagValue(args, "--postgres"), "postgres://") {
					return name + ": an orchestrator needs --nats and --postgres postgres://..."
				}
				if flagValue(args, "--replica-id") == "" || flagValue(args, "--advertise") == "" {
					return name + ": a replica needs --replica-id and --advertise"
				}
				ids[flagValue(args, "--replica-id")] = true
				postgres[flagValue(args, "--postgres")] = true
				for _, v := range svc.Volumes { // source:target[:mode]
					if source, rest, _ := strings.Cut(v, ":"); strings.HasPrefix(rest+":", flagValue(args, "--data")+":") {
						volumes[source] = true
					}
				}
			}
			switch {
			case len(ids) < 2:
				return "want two orchestrator replicas with distinct --replica-id"
			case len(volumes) != 1:
				return fmt.Sprintf("the replicas must share one data volume (keys and secret key), got %v", volumes)
			case len(postgres) != 1:
				return "the replicas must write one history (one --postgres)"
			}
			return ""
		}},
		{"two privileged containerd workers with distinct IDs and subnets", func(s map[string]service) string {
			ids, subnets := map[string]bool{}, map[string]bool{}
			for name, svc := range s {
				args := batonArgs(svc)
				if len(args) == 0 || args[0] != "worker" {
					continue
				}
				if !svc.Privileged || flagValue(args, "--runtime") != "containerd" {
					return name + ": a worker must be privileged and run --runtime containerd"
				}
				ids[flagValue(args, "--id")] = true
				subnets[flagValue(args, "--subnet")] = true
			}
			if len(ids) < 2 || ids[""] || len(subnets) != len(ids) {
				return "want at least two workers with distinct --id and --subnet"
			}
			return ""
		}},
		{"the bus is authenticated, each process with its own credentials alone", func(s map[string]service) string {
			if n := s["nats"]; !slices.Contains(n.Command, "-c") {
				return "nats must run with the configuration nats-config writes (-c)"
			}
			var configured []string
			for _, svc := range s {
				if args := batonArgs(svc); len(args) > 0 && args[0] == "nats-config" {
					for i, a := range args {
						if a == "--worker" && i+1 < len(args) {
							configured = append(configured, args[i+1])
						}
					}
				}
			}
			for name, svc := range s {
				args := batonArgs(svc)
				if len(args) == 0 || (args[0] != "worker" && args[0] != "orchestrator") {
					continue
				}
				own := "nats-auth/orchestrator:"
				if args[0] == "worker" {
					id := flagValue(args, "--id")
					if !slices.Contains(configured, id) {
						return name + ": worker " + id + " has no credentials from nats-config (--worker " + id + ")"
					}
					own = "nats-auth/workers/" + id + ":"
				}
				if flagValue(args, "--nats-creds") == "" {
					return name + " connects to NATS without --nats-creds"
				}
				for _, v := range svc.Volumes {
					if strings.Contains(v, "nats-auth") && !strings.Contains(v, own) {
						return name + " mounts credentials not its own: " + v
					}
				}
				if !slices.ContainsFunc(svc.Volumes, func(v string) bool { return strings.Contains(v, own) }) {
					return name + " does not mount its own credentials (" + own + ")"
				}
			}
			return ""
		}},
		{"baton services build from the root Dockerfile", func(s map[string]service) string {
			for name, svc := range s {
				if len(batonArgs(svc)) > 0 && svc.Build == nil {
					return name + " runs baton but is not built from the repository"
				}
			}
			return ""
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if msg := tc.check(services); msg != "" {
				t.Errorf("docker-compose.yml: %s", msg)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		t.Errorf("docker-compose.yml builds from ./Dockerfile: %v", err)
	}
}

// TestComposeCommandsExist runs `baton <command> --help` for every baton
// command in the compose file and checks that each flag it passes is
// listed.
func TestComposeCommandsExist(t *testing.T) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	services := resolved(t, root)
	bin := filepath.Join(t.TempDir(), "baton")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/baton")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/baton: %v\n%s", err, out)
	}
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	checked := 0
	for _, name := range names {
		args := batonArgs(services[name])
		if len(args) == 0 {
			continue
		}
		checked++
		t.Run(name, func(t *testing.T) {
			sub, flags := split(args)
			help := exec.CommandContext(ctx, bin, append(sub, "--help")...)
			out, err := help.CombinedOutput()
			if err != nil {
				t.Fatalf("baton %s --help: %v\n%s", strings.Join(sub, " "), err, out)
			}
			if !strings.Contains(string(out), "baton "+strings.Join(sub, " ")) {
				t.Errorf("baton %s is not a command (its --help shows another):\n%s", strings.Join(sub, " "), out)
			}
			for _, f := range flags {
				if !strings.Contains(string(out), f+" ") {
					t.Errorf("service %s passes %s, which `baton %s --help` does not list", name, f, strings.Join(sub, " "))
				}
			}
		})
	}
	if checked == 0 {
		t.Fatal("docker-compose.yml runs no baton command")
	}
}

// batonArgs returns the arguments after "baton" of the service's command
// line (entrypoint then command), or nil when it does not run baton.
func batonArgs(s service) []string {
	line := append(append([]string(nil), s.Entrypoint...), s.Command...)
	for i, a := range line {
		if a == "baton" || strings.HasSuffix(a, "/baton") {
			return line[i+1:]
		}
	}
	return nil
}

// split separates the subcommand path (the leading words) from the flags
// (every --name, without its =value).
func split(args []string) (sub, flags []string) {
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "-") {
		i++
	}
	sub = args[:i]
	for _, a := range args[i:] {
		if strings.HasPrefix(a, "--") {
			name, _, _ := strings.Cut(a, "=")
			flags = append(flags, name)
		}
	}
	return sub, flags
}

// flagValue returns the value given to flag in args ("--f v" or "--f=v").
func flagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}
