package machine

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RemoveBridge removes the bridge's firewall, deletes every link attached
// to the bridge (the host ends of sandboxes' veths, which takes their peers
// with them) and then the bridge, whose routes go with it. It returns how
// many links it deleted; a bridge that does not exist is not an error.
func RemoveBridge(name string) (int, error) {
	if err := UnguardBridge(name); err != nil {
		return 0, err
	}
	br, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("bridge %s: %w", name, err)
	}
	ports, err := Ports(name)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ports {
		if err := netlink.LinkDel(p); err != nil {
			if gone(err) {
				continue // its namespace went meanwhile, and took it along
			}
			return n, fmt.Errorf("bridge %s: delete %s: %w", name, p.Attrs().Name, err)
		}
		n++
	}
	if err := netlink.LinkDel(br); err != nil {
		if gone(err) {
			return n, nil
		}
		return n, fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return n + 1, nil
}

// gone reports whether a link operation failed because the link no longer
// exists.
func gone(err error) bool {
	return errors.As(err, new(netlink.LinkNotFoundError)) || errors.Is(err, unix.ENODEV)
}

// Ports lists the links attached to the bridge (none when it does not
// exist).
func Ports(bridge string) ([]netlink.Link, error) {
	br, err := netlink.LinkByName(bridge)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("bridge %s: list links: %w", bridge, err)
	}
	var out []netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l)
		}
	}
	return out, nil
}

// CheckSubnet refuses a sandbox subnet that a route on another interface
// than bridge would take traffic from: a route to an overlapping network
// that is as specific as the subnet or more (the kernel prefers it, and
// sandboxes would be unreachable with nothing pointing at the cause).
// Routes of the bridge itself are the worker's own.
func CheckSubnet(subnet, bridge string) error {
	_, want, err := net.ParseCIDR(subnet)
	if err != nil {
		return fmt.Errorf("subnet %q: %w", subnet, err)
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("subnet %s: list routes: %w", subnet, err)
	}
	wantOnes, _ := want.Mask.Size()
	for _, r := range routes {
		if r.Dst == nil {
			continue // the default route
		}
		ones, _ := r.Dst.Mask.Size()
		if ones < wantOnes || !(want.Contains(r.Dst.IP) || r.Dst.Contains(want.IP)) {
			continue
		}
		link, err := netlink.LinkByIndex(r.LinkIndex)
		name := fmt.Sprintf("index %d", r.LinkIndex)
		if err == nil {
			name = link.Attrs().Name
		}
		if name == bridge {
			continue
		}
		return fmt.Errorf("subnet %s overlaps the route to %s on interface %s, which is not this worker's bridge (%s): "+
			"choose another --subnet, or remove that interface if a dead worker left it (ip link del %s)", subnet, r.Dst, name, bridge, name)
	}
	return nil
}
