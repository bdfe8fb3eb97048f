#!/usr/bin/env bash
# Prepares, on this (x86-64, networked) machine, what bench/gpu.sh needs on a GPU machine that has
# PyTorch but may lack Node.js, our npm packages and the Vulkan loader, and cannot fetch them:
#   .gpu-carry/node-<version>-linux-x64.tar.xz   this Node binary (bin/node), xz'd
#   .gpu-carry/node_modules.tar.xz               the runtime packages + the TF.js peer (webgpu: linux-x64 only)
#   .gpu-carry/dist.tar.xz                       the compiled JS (npx tsc first)
#   .gpu-carry/debs/*.deb                        the Vulkan loader (libvulkan1), unpacked there with dpkg -x
# The folder is git-ignored; name it in the device tool's `carry`. Usage: bench/prepare-gpu-carry.sh [--no-debs]
set -euo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu-carry
DEBS=1
for a in "$@"; do
  case "$a" in
    --no-debs) DEBS=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument '$a' (expected --no-debs)" >&2; exit 2 ;;
  esac
done
[ "$(uname -m)" = x86_64 ] || { echo "this machine is $(uname -m): the GPU machine is x86-64, so prepare the carry on an x86-64 one" >&2; exit 1; }
command -v node >/dev/null || { echo "node is not on PATH" >&2; exit 1; }
[ -d node_modules/webgpu ] || { echo "node_modules/webgpu is missing: run npm ci first" >&2; exit 1; }
mkdir -p "$CARRY"
export XZ_OPT=${XZ_OPT:--6 -T0}

# 1. Node: the binary only (npm is not needed there). NodeSource's build links libc/libstdc++ only.
ver=$(node --version)
rm -f "$CARRY"/node-*.tar.xz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
cp "$(readlink -f "$(command -v node)")" "$tmp/bin/node"
tar -cJf "$CARRY/node-$ver-linux-x64.tar.xz" -C "$tmp" bin
echo "node $ver -> $CARRY/node-$ver-linux-x64.tar.xz"

# 2. node_modules: the dependency closure of our runtime packages and the TF.js peer.
mapfile -t pkgs < <(node -e '
  const fs = require("fs"), path = require("path");
  const root = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const todo = [...Object.keys(root.dependencies), "@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-webgpu"];
  const seen = new Set();
  while (todo.length) {
    const name = todo.pop();
    if (seen.has(name)) continue;
    const file = path.join("node_modules", name, "package.json");
    if (!fs.existsSync(file)) continue; // an optional dependency not installed here
    seen.add(name);
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    todo.push(...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies, ...pkg.peerDependencies }));
  }
  for (const n of [...seen].sort()) console.log("node_modules/" + n);
')
tar -cJf "$CARRY/node_modules.tar.xz" --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' "${pkgs[@]}"
echo "${#pkgs[@]} packages -> $CARRY/node_modules.tar.xz"

# 3. The compiled JS.
if [ ! -f dist/bench/step.js ]; then echo "dist/bench/step.js is missing: run npx tsc -p tsconfig.json first" >&2; exit 1; fi
tar -cJf "$CARRY/dist.tar.xz" dist
echo "dist -> $CARRY/dist.tar.xz"

# 4. The Vulkan loader, as the device README's recipe fetches it (amd64 lists in /tmp/amd64).
if [ "$DEBS" = 1 ]; then
  mkdir -p "$CARRY/debs" /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update -qq
  (cd "$CARRY/debs" && rm -f ./*.deb && apt-get "${o[@]}" download -qq libvulkan1)
  echo "Vulkan loader -> $(ls "$CARRY"/debs/*.deb)"
fi
du -ch "$CARRY"/* "$CARRY"/debs/* 2>/dev/null | tail -1 | sed 's/total/in all (the device tool carries at most 64 MiB with the tree)/'
