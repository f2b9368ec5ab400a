#!/usr/bin/env bash
# One idempotent setup for a fresh Debian 12 machine that reaches only the npm registry and apt:
# Debian packages, npm packages (install scripts reviewed in package.json "allowScripts"), faiss-node built
# against Debian's FAISS, the tslab Jupyter kernel, and the compiled lib. Quick when everything is in place.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
say() { echo "setup: $*" >&2; }

# 1. Debian packages ---------------------------------------------------------------------------------------
apt_packages=(
  libfaiss-dev libopenblas-dev                        # FAISS for faiss-node; OpenBLAS for lib/native
  jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel jupyter-core jupyter-notebook
  dataset-fashion-mnist                               # the default data
  python3-numpy python3-pandas python3-faiss          # interop tests and the Python peer
  python3-torch python3-torchvision python3-onnx      # model training/export and reference outputs
  chromium chromium-driver fonts-liberation           # headless browser: static figures, report test
  patch g++ make                                      # node-gyp builds (faiss-node, lib/native)
  time                                                # /usr/bin/time: wall time and peak RSS per stage (bench/scale.ts)
  slurmctld slurmd slurm-client munge                 # a real one-node Slurm for the cluster tests (scripts/slurm-local.sh)
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages: ${missing[*]}"
    say "run as root:  $cmd"
    exit 1
  fi
fi

# 2. npm packages --------------------------------------------------------------------------------------------
# Install scripts are denied in package.json allowScripts: faiss-node's downloads from GitHub (built below),
# onnxruntime-node's fetches CUDA from NuGet (CPU binaries ship in the package), zeromq and core-js only
# check/print. ONNXRUNTIME_NODE_INSTALL=skip guards older npm versions that would run scripts anyway.
export ONNXRUNTIME_NODE_INSTALL=skip
stamp=node_modules/.mrl-install-stamp
want="$(cat package.json lib/package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm packages"
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  want="$(cat package.json lib/package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)"
  echo "$want" > "$stamp"
fi

# 3. native code: faiss-node from source against Debian's FAISS (with the typed-array patch), and the
# project's own kernels (lib/native: nested exact k-NN over OpenBLAS, reranking) ---------------------------
bash scripts/build-faiss-node.sh
bash scripts/build-native.sh

# 4. tslab kernel pointing at this checkout's tslab ----------------------------------------------------------
# Registered twice: per user, for the Jupyter UI; and inside build/jupyter, which headless execution puts
# first on JUPYTER_PATH so that it always runs this checkout's tslab even when another clone registered last.
tslab_bin="$root/node_modules/.bin/tslab"
kernel_argv() {
  JUPYTER_PATH="${1:-}" /usr/bin/jupyter kernelspec list --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
specs = json.load(sys.stdin)["kernelspecs"]
print(" ".join(specs["tslab"]["spec"]["argv"]) if "tslab" in specs else "")' || true
}
if [[ "$(kernel_argv)" != "$tslab_bin "* ]]; then
  say "registering the tslab Jupyter kernel for the Jupyter UI ($tslab_bin)"
  "$tslab_bin" install --python=/usr/bin/python3 --binary="$tslab_bin" >/dev/null
fi
local_kernel="$root/build/jupyter/share/jupyter/kernels/tslab/kernel.json"
if ! grep -qF "\"$tslab_bin\"" "$local_kernel" 2>/dev/null; then
  "$tslab_bin" install --python=/usr/bin/python3 --binary="$tslab_bin" --prefix="$root/build/jupyter" >/dev/null
fi

# 5. compile lib and tests (incremental) --------------------------------------------------------------------
node_modules/.bin/tsc -b
# a compiled test whose source was deleted would still run under `npm test` (build/test/*.test.js)
for js in build/test/*.test.js; do
  if [ -e "$js" ] && [ ! -f "test/$(basename "${js%.js}").ts" ]; then rm -f "${js%.js}".*; fi
done
