#!/usr/bin/env bash
# The prefix-tuning bench on a GPU machine (an NVIDIA H100 with Dawn on Vulkan), with PyTorch on the
# same GPU as the peer, for the tiny shape and GPT-2 small. Such a machine has PyTorch but may lack
# Node.js, our npm packages and the Vulkan loader: they come from .gpu-carry/ (bench/prepare-gpu-carry.sh).
# It checks the environment first and says what it found and what is missing.
#
#   bench/gpu.sh [--dry-run] [--allow-software] [--configs "tiny gpt2-small"]
#
# --dry-run          check and print the plan, run nothing (no unpacking either)
# --allow-software   without an NVIDIA Vulkan driver, run the configs (default: tiny) on the software
#                    adapter (lavapipe) with the torch peer on the CPU, instead of stopping
# --configs LIST     bench configs (default on a GPU: "tiny gpt2-small"); "" checks and unpacks only
# Results: $OUT (if set) else bench/results/; the autotune cache beside them. Exit 2: no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=${PROMPTGRAPH_CARRY:-.gpu-carry}
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
DRY=0 ALLOW_SW=0 CONFIGS=-
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --allow-software) ALLOW_SW=1 ;;
    --configs) [ $# -ge 2 ] || { echo '--configs needs a list, e.g. "tiny gpt2-small"' >&2; exit 2; }; CONFIGS=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument '$1' (expected --dry-run, --allow-software, --configs LIST)" >&2; exit 2 ;;
  esac
  shift
done
missing=()
found() { printf '  %-14s %s\n' "$1" "$2"; }
# Unpacks a carried tarball unless this is a dry run.
unpack() { if [ "$DRY" = 1 ]; then found "$1" "would unpack $2"; else mkdir -p "$3" && tar -xJf "$2" -C "$3" && found "$1" "unpacked $2"; fi; }

echo "== environment"
# Node.js >= 20: on PATH, else .node/bin/node, else unpacked from a carried node-*.tar.xz.
NODE=""
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; then
  NODE=$(command -v node); found node "$NODE $(node --version)"
elif [ -x .node/bin/node ]; then
  NODE=$PWD/.node/bin/node; found node "$NODE $($NODE --version)"
elif tarball=$(ls "$CARRY"/node-*.tar.xz 2>/dev/null | head -1) && [ -n "$tarball" ]; then
  unpack node "$tarball" .node; NODE=$PWD/.node/bin/node
else
  missing+=("Node.js >= 20 (none on PATH, no $CARRY/node-*.tar.xz: run bench/prepare-gpu-carry.sh where there is one)")
fi
# Our npm packages and compiled JS.
for part in node_modules dist; do
  marker=$([ $part = dist ] && echo dist/bench/step.js || echo node_modules/webgpu/package.json)
  if [ -e "$marker" ]; then found $part "present"
  elif [ -f "$CARRY/$part.tar.xz" ]; then unpack $part "$CARRY/$part.tar.xz" .
  else missing+=("$part (no $marker, no $CARRY/$part.tar.xz)"); fi
done
# The Vulkan loader: installed, else carried .debs unpacked into / (the device README's recipe).
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  found vulkan "loader $(ldconfig -p | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //')"
elif ls "$CARRY"/debs/*.deb >/dev/null 2>&1; then
  if [ "$DRY" = 1 ]; then found vulkan "would unpack $(ls "$CARRY"/debs/*.deb | tr '\n' ' ')into /"
  else for f in "$CARRY"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig; found vulkan "loader unpacked from $CARRY/debs"; fi
else
  missing+=("the Vulkan loader libvulkan.so.1 (not installed, no $CARRY/debs/*.deb)")
fi
# The driver: NVIDIA's ICD, else whatever ICDs the loader finds (lavapipe here).
GPU=0
if [ -f "$NVIDIA_ICD" ]; then
  export VK_DRIVER_FILES=$NVIDIA_ICD
  GPU=1; found driver "NVIDIA ICD $NVIDIA_ICD (VK_DRIVER_FILES)"
else
  icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | tr '\n' ' ')
  found driver "no NVIDIA ICD at $NVIDIA_ICD; other ICDs: ${icds:-none}"
fi
command -v nvidia-smi >/dev/null && found nvidia-smi "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
# PyTorch for the peer.
PY=${PROMPTGRAPH_PYTHON:-python3}
if torch_info=$("$PY" -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no-cuda")' 2>/dev/null); then
  found torch "$PY: $torch_info"
  peft=$("$PY" -c 'import peft; print(peft.__version__)' 2>/dev/null) && found peft "$peft importable (the peer is hand-written: PEFT is not used yet)"
elif [ -x /usr/bin/python3 ] && torch_info=$(/usr/bin/python3 -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no-cuda")' 2>/dev/null); then
  PY=/usr/bin/python3; found torch "$PY: $torch_info"
else
  torch_info=""; found torch "not importable: the torch peer is skipped"
fi
export PROMPTGRAPH_PYTHON=$PY
# What Dawn sees (needs node, node_modules and the loader).
ADAPTER=""
if [ -n "$NODE" ] && [ -x "$NODE" ] && [ -e node_modules/webgpu/package.json ]; then
  ADAPTER=$("$NODE" scripts/probe-adapter.mjs 2>&1 | tail -1); found adapter "$ADAPTER"
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "== missing"; printf '  - %s\n' "${missing[@]}"
  [ "$DRY" = 1 ] || exit 1
fi

DEST=${OUT:-bench/results}
export PROMPTGRAPH_CACHE_DIR=$DEST # the autotune cache comes back with the results
plan=()
if [ "$GPU" = 1 ] || { [ "$DRY" = 1 ] && [ "$ALLOW_SW" = 0 ]; }; then
  [ "$GPU" = 1 ] || echo "== dry run without an NVIDIA driver: the plan on a GPU machine would be"
  torch_dev=$([[ "$torch_info" == *" cuda" ]] && echo cuda || echo none)
  [ "$CONFIGS" = - ] && CONFIGS="tiny gpt2-small"
  for c in $CONFIGS; do plan+=("$NODE dist/bench/step.js --config $c --autotune --torch-device $torch_dev --out $DEST"); done
elif [ "$ALLOW_SW" = 1 ]; then
  echo "== no NVIDIA Vulkan driver: running on the software adapter (these are NOT GPU numbers)"
  torch_dev=$([ -n "$torch_info" ] && echo cpu || echo none)
  [ "$CONFIGS" = - ] && CONFIGS=tiny
  for c in $CONFIGS; do plan+=("$NODE dist/bench/step.js --config $c --torch-device $torch_dev --out $DEST"); done
else
  echo "== no NVIDIA Vulkan driver ($NVIDIA_ICD missing; adapter: ${ADAPTER:-not probed}): nothing measured."
  echo "   Run this on the GPU machine, or pass --allow-software to run the tiny config here."
  exit 2
fi
echo "== plan (results in $DEST)"
[ ${#plan[@]} -gt 0 ] && printf '  %s\n' "${plan[@]}" || echo "  nothing (--configs \"\")"
[ "$DRY" = 1 ] && exit 0
mkdir -p "$DEST"
status=0
for cmd in "${plan[@]+"${plan[@]}"}"; do
  echo "== $cmd"
  $cmd 2>&1 | tee -a "$DEST/gpu-bench.log" || status=1
done
exit $status
