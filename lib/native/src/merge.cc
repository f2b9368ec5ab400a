// The k-way merge of shards' top-k lists (lib/src/shard/merge.ts): per (dim, query) slot, the k smallest of n
// ascending runs of 64-bit entries (the nested engine's selection order). Native because at ImageNet scale the
// merge walks 9 dims x queries x k x shards entries, and it must stay a small share of the search it merges.
#include "common.h"

namespace mrl {

// mergeRuns(runs, n, slots, k, out, threads): runs holds n runs one after the other, each slots x k entries as
// (lo, hi) uint32 pairs ascending by (hi, lo) per slot, padding (0xffffffff, 0xffffffff) last; out gets slots x k.
Napi::Value MergeRuns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto runs = viewOf<uint32_t>(info[0], napi_uint32_array, "runs");
  const int64_t n = intArg(info, 1, "n"), slots = intArg(info, 2, "slots"), k = intArg(info, 3, "k");
  auto out = viewOf<uint32_t>(info[4], napi_uint32_array, "out");
  const int threads = static_cast<int>(intArg(info, 5, "threads"));
  require(n > 0 && slots >= 0 && k > 0 && n <= 4096, env, "mergeRuns: bad sizes");
  require(runs.length >= static_cast<size_t>(n * slots * k * 2) && out.length >= static_cast<size_t>(slots * k * 2), env,
          "mergeRuns: arrays too small for the sizes given");
  const uint64_t* in = reinterpret_cast<const uint64_t*>(runs.data);  // little-endian: (lo, hi) pairs read as hi << 32 | lo
  uint64_t* dst = reinterpret_cast<uint64_t*>(out.data);
  const int64_t runStride = slots * k;
  fanOut(threads, [&](int t) {
    std::vector<int64_t> heads(static_cast<size_t>(n));
    for (int64_t slot = t; slot < slots; slot += threads) {
      std::fill(heads.begin(), heads.end(), 0);
      uint64_t* o = dst + slot * k;
      for (int64_t i = 0; i < k; i++) {
        int64_t best = -1;
        uint64_t bestKey = ~uint64_t(0);
        for (int64_t r = 0; r < n; r++) {
          if (heads[r] >= k) continue;
          const uint64_t key = in[r * runStride + slot * k + heads[r]];
          if (key < bestKey) { best = r; bestKey = key; }
        }
        if (best < 0) {  // only padding left
          for (; i < k; i++) o[i] = ~uint64_t(0);
          break;
        }
        o[i] = bestKey;
        heads[best]++;
      }
    }
  });
  return env.Undefined();
}

}  // namespace mrl
