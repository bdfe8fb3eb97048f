#!/usr/bin/env bash
# Makes this machine able to run promptgraph: npm packages, then a WebGPU adapter for Dawn.
# Idempotent: when an adapter already works it changes nothing.
#
# On Debian 12 (bookworm) as root it installs the Vulkan loader and Mesa 25's lavapipe (a
# software Vulkan driver) from bookworm-backports: Debian 12's own Mesa 22 is rejected by Dawn.
# Elsewhere it prints what to install and exits non-zero.
#
# Usage: bash scripts/setup-webgpu.sh [--verbose]
#   --verbose  show npm/apt output instead of only writing it to the log
# Env: PROMPTGRAPH_SETUP_LOG (log path), PROMPTGRAPH_BACKEND / PROMPTGRAPH_ADAPTER (as the runtime).
# Exit status: 0 an adapter works, 1 it does not (or a step failed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VERBOSE=0
for arg in "$@"; do
  case "$arg" in
    -v|--verbose) VERBOSE=1 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-webgpu: unknown argument '$arg' (try --help)" >&2; exit 1 ;;
  esac
done

LOG="${PROMPTGRAPH_SETUP_LOG:-${TMPDIR:-/tmp}/promptgraph-setup-webgpu.log}"
: >"$LOG"
say() { echo "setup-webgpu: $*"; }
fail() {
  echo "setup-webgpu: FAILED: $*" >&2
  echo "setup-webgpu: full log: $LOG" >&2
  exit 1
}

# Runs a command with its output in the log (and on screen with --verbose); fails loudly.
step() {
  local what="$1"; shift
  say "$what"
  echo "### $what: $*" >>"$LOG"
  local rc=0
  if [[ $VERBOSE == 1 ]]; then "$@" 2>&1 | tee -a "$LOG" || rc=$?; else "$@" >>"$LOG" 2>&1 || rc=$?; fi
  if [[ $rc != 0 ]]; then
    echo "----- last lines of $LOG -----" >&2
    tail -n 20 "$LOG" >&2
    fail "$what (exit $rc)"
  fi
}

# Dawn and the Vulkan loader complain when this is unset.
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
  export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/xdg-runtime-$(id -u)"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi

# ---- Node and npm packages (the probe needs the `webgpu` package) -----------------------------
command -v node >/dev/null && command -v npm >/dev/null \
  || fail "node and npm are not installed: install Node.js >= 20 (https://nodejs.org/en/download), then run this again"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" -ge 20 ]] || fail "Node.js $(node --version) is too old: install Node.js >= 20"

# Install when packages are missing or package-lock.json changed since the last install.
if [[ ! -d node_modules/webgpu || ( -f package-lock.json && package-lock.json -nt node_modules/.package-lock.json ) ]]; then
  if [[ -f package-lock.json ]]; then step "installing npm packages (npm ci)" npm ci --no-audit --no-fund
  else step "installing npm packages (npm install)" npm install --no-audit --no-fund; fi
fi

probe() {
  echo "### probe-adapter" >>"$LOG"
  ADAPTER="$(node scripts/probe-adapter.mjs 2>>"$LOG")"
}

rc=0; probe || rc=$?
if [[ $rc == 0 ]]; then say "WebGPU adapter: $ADAPTER (nothing to install)"; exit 0; fi
[[ $rc == 3 ]] && fail "the npm package 'webgpu' cannot be loaded (try: rm -rf node_modules && npm ci)"
say "$ADAPTER"

# ---- the driver ---------------------------------------------------------------------------------
codename="$( (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}") || true)"
if [[ "$codename" != bookworm ]]; then
  cat >&2 <<EOF
setup-webgpu: no WebGPU adapter, and this is not Debian 12, so nothing was installed.
Install a Vulkan driver for your GPU and the Vulkan loader, or for CPU-only machines Mesa's
software driver lavapipe (Mesa >= 24; Dawn rejects older ones). On Debian/Ubuntu:
  apt-get install libvulkan1 mesa-vulkan-drivers      # check: apt-cache policy mesa-vulkan-drivers
On macOS and Windows Dawn uses Metal / D3D12 and needs nothing extra.
Then run: bash scripts/setup-webgpu.sh   (or: node bin/promptgraph.js doctor)
EOF
  exit 1
fi
if [[ "$(id -u)" != 0 ]]; then
  cat >&2 <<'EOF'
setup-webgpu: no WebGPU adapter; installing the driver needs root. Run as root (or with sudo):
  echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  apt-get update
  apt-get install -y libvulkan1
  apt-get install -y -t bookworm-backports mesa-vulkan-drivers
then run this script again.
EOF
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Any active (uncommented) line naming the suite, in one-line or deb822 sources.
if grep -Ersq --include='*.list' --include='*.sources' '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  say "bookworm-backports is already in the apt sources"
else
  say "adding bookworm-backports to /etc/apt/sources.list.d/bookworm-backports.list"
  echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/bookworm-backports.list
fi
step "apt-get update" apt-get update
step "installing the Vulkan loader (libvulkan1)" apt-get install -y libvulkan1
step "installing Mesa 25 lavapipe (mesa-vulkan-drivers from bookworm-backports)" \
  apt-get install -y -t bookworm-backports mesa-vulkan-drivers

rc=0; probe || rc=$?
if [[ $rc != 0 ]]; then
  fail "the driver is installed but Dawn still finds no WebGPU adapter (${ADAPTER#no WebGPU adapter: })
  installed: $(dpkg-query -W -f='${Package} ${Version}\n' libvulkan1 mesa-vulkan-drivers 2>/dev/null | tr '\n' ' ')"
fi
say "WebGPU adapter: $ADAPTER"
