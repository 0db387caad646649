#!/usr/bin/env bash
# Installs what Baton needs on Debian: containerd, runc, the CNI plugins,
# the Postgres server binaries (history), docker-compose (to check
# docker-compose.yml; no Docker engine is needed) and the CNCF distribution
# registry (the tests' registry; Baton itself needs none), promtool
# (Debian's prometheus package) and Chromium (the console's tests).
# Idempotent: installs only what is missing. Says plainly when it cannot.
set -euo pipefail

missing=()
command -v containerd >/dev/null 2>&1 || missing+=(containerd)
command -v runc >/dev/null 2>&1 || missing+=(runc)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] || missing+=(containernetworking-plugins)
# docker-compose only checks docker-compose.yml in the tests (no engine runs).
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
# Workers keep sandboxes off the host with iptables rules.
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
# The tests start their own registries (TLS, logins) from this binary.
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
# The tests check /metrics with promtool, and drive the console (/ui/) in
# a headless Chromium.
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (sudo make ...) to install them, or install them yourself" >&2
  exit 1
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: missing ${missing[*]}; this is not Debian (no apt-get), install them with your package manager" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package enables a registry service on port 5000; Baton's tests start
# their own, so leave none running that the machine did not have.
if [[ " ${missing[*]} " == *" docker-registry "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
# Likewise the prometheus package's server: the tests need only promtool.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
