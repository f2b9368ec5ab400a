#!/usr/bin/env bash
# Assembles the WebAssembly kernels: lib/src/kernels/*.wat -> lib/dist/kernels/*.wasm with Debian's wat2wasm
# (package wabt; SIMD is on by default in wabt 1.0.32, --enable-threads allows the shared memory import).
# Rebuilds only what is older than its source; the .wasm files are build output, not committed.
# test/wasm.test.ts runs wat2wasm with the same flags and checks the bytes the library loads.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! command -v wat2wasm >/dev/null; then
  echo "build-wasm: wat2wasm not found; install the Debian package wabt (npm run setup does)" >&2
  exit 1
fi
mkdir -p lib/dist/kernels
for src in lib/src/kernels/*.wat; do
  out="lib/dist/kernels/$(basename "${src%.wat}").wasm"
  if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
    echo "build-wasm: $src -> $out" >&2
    wat2wasm --enable-threads "$src" -o "$out.tmp"
    mv "$out.tmp" "$out"
  fi
done
