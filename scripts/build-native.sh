#!/usr/bin/env bash
# Builds the project's native kernels (lib/native: nested exact k-NN over OpenBLAS sgemm, reranking,
# normalization, huge-page buffers) with node-gyp against Debian's Node headers and OpenBLAS. Skips when up
# to date.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
native="$root/lib/native"
out="$native/build/Release/mrl_native.node"
stamp="$native/build/.mrl-stamp"
want="$(cat "$native/binding.gyp" "$native"/src/* | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$out" ]; then
  exit 0
fi
echo "build-native: compiling lib/native (about half a minute)..." >&2
nodedir_flag=()
[ -f /usr/include/node/node_api.h ] && nodedir_flag=(--nodedir=/usr)
mkdir -p "$native/build"
(cd "$native" && "$root/node_modules/.bin/node-gyp" rebuild "${nodedir_flag[@]}" -j 2 > "$native/build-mrl.log" 2>&1) || {
  echo "build-native: node-gyp failed; last lines of lib/native/build-mrl.log:" >&2
  tail -30 "$native/build-mrl.log" >&2
  exit 1
}
echo "$want" > "$stamp"
echo "build-native: ok" >&2
