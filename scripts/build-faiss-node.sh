#!/usr/bin/env bash
# Builds faiss-node from its own source against Debian's FAISS (libfaiss-dev), with the project's typed-array
# patch. Its npm install script is denied (it downloads from GitHub). Skips when the build is up to date.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="$root/node_modules/faiss-node"
patch_dir="$root/patches/faiss-node"
stamp="$pkg/build/Release/.mrl-stamp"
[ -d "$pkg" ] || { echo "build-faiss-node: $pkg is missing; run npm install first" >&2; exit 1; }

want="$(cat "$patch_dir/typed-arrays.patch" "$patch_dir/binding.gyp" "$patch_dir/faiss_compat.h" "$pkg/package.json" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$pkg/build/Release/faiss-node.node" ]; then
  exit 0
fi
echo "build-faiss-node: compiling faiss-node against Debian FAISS (about a minute)..."
# Start from the pristine source kept next to the patched one, so re-runs never patch twice.
[ -f "$pkg/src/faiss.cc.orig" ] || cp "$pkg/src/faiss.cc" "$pkg/src/faiss.cc.orig"
cp "$pkg/src/faiss.cc.orig" "$pkg/src/faiss.cc"
patch --quiet -d "$pkg" -p1 < "$patch_dir/typed-arrays.patch"
cp "$patch_dir/binding.gyp" "$patch_dir/faiss_compat.h" "$pkg/"
nodedir_flag=()
[ -f /usr/include/node/node_api.h ] && nodedir_flag=(--nodedir=/usr)
(cd "$pkg" && "$root/node_modules/.bin/node-gyp" rebuild "${nodedir_flag[@]}" -j 2 > "$pkg/build-mrl.log" 2>&1) || {
  echo "build-faiss-node: node-gyp failed; last lines of $pkg/build-mrl.log:" >&2
  tail -30 "$pkg/build-mrl.log" >&2
  exit 1
}
node -e "const f=require('$pkg'); const i=new f.IndexFlatL2(2); i.addFloat32(new Float32Array([0,0,1,1])); const D=new Float32Array(2), I=new Int32Array(2); i.searchFloat32(new Float32Array([1,1]),2,D,I); if(I[0]!==1) throw new Error('faiss-node self-check failed')"
echo "$want" > "$stamp"
echo "build-faiss-node: ok"
