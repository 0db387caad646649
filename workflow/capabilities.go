package workflow

import (
	"fmt"
	"slices"
	"strings"
)

// capabilityNames are the Linux capabilities (capabilities(7), up to
// CHECKPOINT_RESTORE of Linux 5.9), without the CAP_ prefix, in the
// kernel's order.
var capabilityNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
	"SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
	"SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

// Capabilities returns the Linux capability names a workflow may ask for
// (security.capabilities) and an operator may allow: without the CAP_
// prefix, e.g. NET_BIND_SERVICE.
func Capabilities() []string { return slices.Clone(capabilityNames) }

// CheckCapability returns nil when name is a Linux capability written as
// a workflow writes it (NET_BIND_SERVICE), else an error saying what to
// write instead.
func CheckCapability(name string) error {
	if slices.Contains(capabilityNames, name) {
		return nil
	}
	if bare, ok := strings.CutPrefix(strings.ToUpper(name), "CAP_"); ok && slices.Contains(capabilityNames, bare) {
		return fmt.Errorf("write capability %q without the CAP_ prefix: %q", name, bare)
	}
	if up := strings.ToUpper(name); slices.Contains(capabilityNames, up) {
		return fmt.Errorf("write capability %q in capitals: %q", name, up)
	}
	hint := didYouMean(name, capabilityNames)
	if i := slices.IndexFunc(capabilityNames, func(c string) bool { return name != "" && strings.HasPrefix(c, name) }); i >= 0 {
		hint = fmt.Sprintf(" (did you mean %q?)", capabilityNames[i])
	}
	return fmt.Errorf("unknown capability %q%s: want a Linux capability name without CAP_, like NET_BIND_SERVICE", name, hint)
}
