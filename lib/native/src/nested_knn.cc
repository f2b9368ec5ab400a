// Exact k-NN at every nesting dim in one pass over the database (the engine of search/nested.ts).
//
// For unit-normalized prefixes, |q/|q| - x/|x||^2 = 2 - 2 (q.x) / (|q||x|), and the dot product at prefix d2
// is the one at d1 plus the columns (d1, d2]. So a tile of dot products is accumulated dim by dim with
// sgemm (beta = 1 on the new columns only) and, after each nesting dim, every query's row of the tile is
// scanned for candidates: key = (q.x) / |x| is larger for nearer rows, and only keys above the query's
// current k-th best are kept. All dims together cost one product at the largest dim plus one scan per dim.
//
// The running top-k of each (dim, query) lives in caller-owned state: up to 2k + 16 (key, id) entries, unordered,
// and a threshold (the k-th best key after the last compaction). Each thread owns whole query tiles, so no
// two threads touch one query's state. Ties keep the smaller id: rows arrive in increasing id order and a
// candidate must beat the threshold strictly.
#include "common.h"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <cblas.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace mrl {

// An entry packs (key, id) into one integer whose ascending order is key descending, then id ascending, so
// selection and sorting compare plain integers (no branches on ties).
using Entry = uint64_t;
static inline uint32_t floatBits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
static inline float bitsFloat(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
// Monotone map of floats to unsigned ints, complemented so that larger keys come first.
static inline Entry pack(float key, int32_t id) {
  uint32_t b = floatBits(key);
  uint32_t ordered = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (static_cast<uint64_t>(~ordered) << 32) | static_cast<uint32_t>(id);
}
static inline float keyOf(Entry e) {
  uint32_t ordered = ~static_cast<uint32_t>(e >> 32);
  return bitsFloat((ordered & 0x80000000u) ? (ordered & 0x7fffffffu) : ~ordered);
}
static inline int32_t idOf(Entry e) { return static_cast<int32_t>(static_cast<uint32_t>(e)); }

// Tiles of dot products are TILE_QUERIES x TILE_ROWS floats. Their size is fixed, and tiles start at fixed
// positions, because sgemm's rounding depends on the shapes it is given: so a distance is the same float
// whatever the thread count, and whatever the query chunks and database blocks (multiples of the tile) are.
// (search/nested.ts NESTED_TILE_QUERIES is this number.)
constexpr int64_t TILE_QUERIES = 256;
constexpr int64_t TILE_ROWS = 1024;

// 1 / |prefix| at every dim for each row, [s * rows + r], from float64 sums of squares.
static std::vector<float> prefixInvNorms(const float* x, int64_t rows, int64_t stride, const std::vector<int>& dims) {
  std::vector<float> inv(dims.size() * rows);
  for (int64_t r = 0; r < rows; r++) {
    const float* v = x + r * stride;
    double sum = 0;
    int c = 0;
    for (size_t s = 0; s < dims.size(); s++) {
      for (; c < dims[s]; c++) sum += static_cast<double>(v[c]) * v[c];
      inv[s * rows + r] = static_cast<float>(1 / std::sqrt(sum));
    }
  }
  return inv;
}

constexpr int64_t SLACK = 16;  // room for one group of 16 candidates beyond 2k (see scanRow)

struct State {
  Entry* entries;  // [slot * cap, slot * cap + count)
  int32_t* counts;
  float* thresholds;
  int64_t k, cap;
};

// Moves the k smallest entries (the k best) to the front, unordered, and returns the k-th. A histogram of the
// keys' high bits finds the bucket holding the k-th; only that bucket is searched exactly. `tmp`: scratch.
static Entry selectSmallest(Entry* e, int64_t n, int64_t k, std::vector<Entry>& tmp) {
  uint32_t mn = UINT32_MAX, mx = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t h = static_cast<uint32_t>(e[i] >> 32);
    mn = std::min(mn, h);
    mx = std::max(mx, h);
  }
  if (mn == mx) {
    std::nth_element(e, e + k - 1, e + n);
    return e[k - 1];
  }
  int shift = std::max(0, 32 - __builtin_clz(mx - mn) - 11);
  uint32_t hist[2048] = {};
  for (int64_t i = 0; i < n; i++) hist[(static_cast<uint32_t>(e[i] >> 32) - mn) >> shift]++;
  uint32_t bucket = 0;
  int64_t below = 0;
  while (below + hist[bucket] < static_cast<uint64_t>(k)) below += hist[bucket++];
  if (tmp.size() < static_cast<size_t>(n)) tmp.resize(n);
  int64_t front = 0, inBucket = 0;
  for (int64_t i = 0; i < n; i++) {  // branch-free: store always, advance where the entry belongs
    Entry v = e[i];
    uint32_t b = (static_cast<uint32_t>(v >> 32) - mn) >> shift;
    e[front] = v;
    front += b < bucket;
    tmp[inBucket] = v;
    inBucket += b == bucket;
  }
  int64_t need = k - below;
  std::nth_element(tmp.begin(), tmp.begin() + need - 1, tmp.begin() + inBucket);
  std::copy(tmp.begin(), tmp.begin() + need, e + front);
  return tmp[need - 1];
}

// Sorts entries ascending: a stable radix sort on the keys (relative to the smallest), then ids within equal keys.
static void sortEntries(Entry* e, int64_t n, std::vector<Entry>& tmp) {
  if (n < 64) {
    std::sort(e, e + n);
    return;
  }
  uint32_t mn = UINT32_MAX, mx = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t h = static_cast<uint32_t>(e[i] >> 32);
    mn = std::min(mn, h);
    mx = std::max(mx, h);
  }
  int width = mx == mn ? 0 : 32 - __builtin_clz(mx - mn);
  if (tmp.size() < static_cast<size_t>(n)) tmp.resize(n);
  Entry* src = e;
  Entry* dst = tmp.data();
  for (int shift = 0; shift < width; shift += 11) {
    uint32_t hist[2048] = {};
    for (int64_t i = 0; i < n; i++) hist[((static_cast<uint32_t>(src[i] >> 32) - mn) >> shift) & 2047]++;
    for (uint32_t d = 0, sum = 0; d < 2048; d++) {
      uint32_t c = hist[d];
      hist[d] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; i++) dst[hist[((static_cast<uint32_t>(src[i] >> 32) - mn) >> shift) & 2047]++] = src[i];
    std::swap(src, dst);
  }
  if (src != e) std::copy(src, src + n, e);
  for (int64_t i = 1; i < n; i++) {  // equal keys (rare): by id
    for (int64_t j = i; j > 0 && (e[j] >> 32) == (e[j - 1] >> 32) && e[j] < e[j - 1]; j--) std::swap(e[j], e[j - 1]);
  }
}

// Keeps the k best of a slot's entries and sets its threshold to the k-th best key.
static void compact(const State& st, int64_t slot, std::vector<Entry>& tmp) {
  int32_t& n = st.counts[slot];
  if (n <= st.k) return;
  Entry kth = selectSmallest(st.entries + slot * st.cap, n, st.k, tmp);
  n = static_cast<int32_t>(st.k);
  st.thresholds[slot] = keyOf(kth);
}

#ifdef __AVX512F__
// Eight (key, id) pairs packed as entries (see pack), in one vector.
static inline __m512i pack8(__m256 keys, __m256i ids) {
  __m256i b = _mm256_castps_si256(keys);
  __m256i negative = _mm256_srai_epi32(b, 31);
  __m256i ordered = _mm256_xor_si256(b, _mm256_or_si256(negative, _mm256_set1_epi32(INT32_MIN)));
  __m256i high = _mm256_xor_si256(ordered, _mm256_set1_epi32(-1));
  return _mm512_or_si512(_mm512_slli_epi64(_mm512_cvtepu32_epi64(high), 32), _mm512_cvtepu32_epi64(ids));
}
#endif

// Scans one query's row of dot products against the rows' inverse norms; appends keys above the threshold.
// The state holds 2k entries plus SLACK, so a group of 16 can be stored whole; it is compacted beyond 2k.
static void scanRow(const State& st, int64_t slot, const float* dots, const float* invNorms, int64_t rows, int32_t firstId,
                    std::vector<Entry>& tmp) {
  Entry* e = st.entries + slot * st.cap;
  int32_t& n = st.counts[slot];
  float thr = st.thresholds[slot];
  const int64_t full = 2 * st.k;
  int64_t j = 0;
#ifdef __AVX512F__
  __m512i ids = _mm512_add_epi32(_mm512_set1_epi32(firstId), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  for (; j + 16 <= rows; j += 16, ids = _mm512_add_epi32(ids, _mm512_set1_epi32(16))) {
    __m512 keys = _mm512_mul_ps(_mm512_loadu_ps(dots + j), _mm512_loadu_ps(invNorms + j));
    __mmask16 m = _mm512_cmp_ps_mask(keys, _mm512_set1_ps(thr), _CMP_GT_OQ);
    if (!m) continue;
    if (n > full) {
      compact(st, slot, tmp);
      thr = st.thresholds[slot];
      m = _mm512_cmp_ps_mask(keys, _mm512_set1_ps(thr), _CMP_GT_OQ);
    }
    __m512i low = pack8(_mm512_castps512_ps256(keys), _mm512_castsi512_si256(ids));
    __m512i high = pack8(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(keys), 1)), _mm512_extracti64x4_epi64(ids, 1));
    _mm512_mask_compressstoreu_epi64(e + n, static_cast<__mmask8>(m), low);
    n += __builtin_popcount(m & 0xff);
    _mm512_mask_compressstoreu_epi64(e + n, static_cast<__mmask8>(m >> 8), high);
    n += __builtin_popcount(m >> 8);
  }
#endif
  for (; j < rows; j++) {
    float key = dots[j] * invNorms[j];
    if (!(key > thr)) continue;
    if (n > full) {
      compact(st, slot, tmp);
      thr = st.thresholds[slot];
      if (!(key > thr)) continue;
    }
    e[n++] = pack(key, static_cast<int32_t>(firstId + j));
  }
}

// One sgemm of the plan: columns up to `end`. Grid steps (8, 16, 32, ... columns) extend the running sums;
// a requested dim off the grid is the running sums plus its own tail. `dim` is the index of the requested dim
// scanned after the step, or -1.
struct Step {
  int end;
  bool onGrid;
  int dim;
};

static std::vector<Step> slicePlan(const std::vector<int>& dims) {
  std::vector<Step> plan;
  size_t s = 0;
  for (int g = 8;; g *= 2) {
    for (; s < dims.size() && dims[s] < g; s++) plan.push_back({dims[s], false, static_cast<int>(s)});
    if (s == dims.size()) break;
    bool asked = dims[s] == g;
    plan.push_back({g, true, asked ? static_cast<int>(s) : -1});
    if (asked) s++;
  }
  return plan;
}

// Walks `plan` over one tile: product(from, to, out, beta) adds columns from..to-1 to `out` (beta 0: starts it);
// grid steps extend the running sums in `run`, an off-grid dim gets a copy of them (`floats` values) plus its
// tail in `tail`; scan(dim, out) then sees each requested dim's dot products.
template <class Product, class Scan>
static void walkSlices(const std::vector<Step>& plan, float* run, float* tail, int64_t floats, Product product, Scan scan) {
  int done = 0;
  for (const Step& step : plan) {
    float* out = run;
    if (!step.onGrid) {
      out = tail;
      if (done > 0) std::copy(run, run + floats, tail);
    }
    product(done, step.end, out, done == 0 ? 0.0f : 1.0f);
    if (step.onGrid) done = step.end;
    if (step.dim >= 0) scan(step.dim, out);
  }
}

// prefixInvNorms of `rows` rows into out[s * rows + r], the rows split between `threads` threads.
static void prefixInvNormsInto(const float* x, int64_t rows, int64_t stride, const std::vector<int>& dims, float* out, int threads) {
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, rows / 256)));
  fanOut(threads, [&](int t) {
    int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
    std::vector<float> part = prefixInvNorms(x + r0 * stride, r1 - r0, stride, dims);
    for (size_t s = 0; s < dims.size(); s++) std::copy(part.begin() + s * (r1 - r0), part.begin() + (s + 1) * (r1 - r0), out + s * rows + r0);
  });
}

// Batches of at most this many queries take the matrix-vector path (smallBatchBlock).
constexpr int64_t SMALL_BATCH = 4;

// A few queries (one query at a time: latency, serving): query tiles would put the whole block on one thread
// and repack it for sgemm. Here the threads split the block's rows instead: each computes its tiles' dot
// products with sgemv (one query) or a small sgemm, in the same column slices as the tiled path, into a
// [dim][query][row] buffer; then the (dim, query) slots are scanned, each by one thread.
static void smallBatchBlock(const State& st, const float* queries, int64_t nq, int64_t qStride, const float* block, int64_t nb, int64_t bStride,
                            int32_t firstId, const std::vector<Step>& plan, int64_t nd, const float* xInv, int64_t xInvStride, int threads) {
  static std::vector<float> dots;  // kept between calls: fresh pages are slow to touch on some virtual machines
  if (dots.size() < static_cast<size_t>(nd * nq * nb)) dots.resize(nd * nq * nb);
  const int64_t tiles = (nb + TILE_ROWS - 1) / TILE_ROWS;
  std::atomic<int64_t> next{0};
  fanOut(static_cast<int>(std::min<int64_t>(threads, tiles)), [&](int) {
    std::vector<float> run(nq * TILE_ROWS), tail(nq * TILE_ROWS);
    for (int64_t tile; (tile = next++) < tiles;) {
      int64_t j0 = tile * TILE_ROWS, mb = std::min(TILE_ROWS, nb - j0);
      const int64_t rowStride = nq == 1 ? mb : TILE_ROWS;
      walkSlices(plan, run.data(), tail.data(), nq * TILE_ROWS,
                 [&](int from, int to, float* out, float beta) {
                   if (nq == 1) {
                     cblas_sgemv(CblasRowMajor, CblasNoTrans, mb, to - from, 1.0f, block + j0 * bStride + from, bStride, queries + from, 1, beta, out, 1);
                   } else {
                     cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, mb, to - from, 1.0f, queries + from, qStride,
                                 block + j0 * bStride + from, bStride, beta, out, TILE_ROWS);
                   }
                 },
                 [&](int dim, const float* out) {
                   for (int64_t q = 0; q < nq; q++) std::copy(out + q * rowStride, out + q * rowStride + mb, dots.data() + (dim * nq + q) * nb + j0);
                 });
    }
  });
  std::atomic<int64_t> nextSlot{0};
  fanOut(static_cast<int>(std::min<int64_t>(threads, nd * nq)), [&](int) {
    std::vector<Entry> tmp;
    for (int64_t slot; (slot = nextSlot++) < nd * nq;) {
      const int64_t s = slot / nq;
      scanRow(st, slot, dots.data() + slot * nb, xInv + s * xInvStride, nb, firstId, tmp);
    }
  });
}

static int dimsArg(const Napi::CallbackInfo& info, size_t i, std::vector<int>& dims) {
  auto d = viewOf<int32_t>(info[i], napi_int32_array, "dims");
  dims.assign(d.data, d.data + d.length);
  require(!dims.empty(), info.Env(), "nestedKnn: no dims");
  for (size_t s = 0; s < dims.size(); s++) {
    require(dims[s] > 0 && (s == 0 || dims[s] > dims[s - 1]), info.Env(), "nestedKnn: dims must be positive and increasing");
  }
  return dims.back();
}

static State stateArgs(const Napi::CallbackInfo& info, size_t i, int64_t slots, int64_t k) {
  auto entries = viewOf<float>(info[i], napi_float32_array, "entries");  // opaque: two floats' bytes per entry
  auto counts = viewOf<int32_t>(info[i + 1], napi_int32_array, "counts");
  auto thresholds = viewOf<float>(info[i + 2], napi_float32_array, "thresholds");
  State st{reinterpret_cast<Entry*>(entries.data), counts.data, thresholds.data, k, 2 * k + SLACK};
  require(entries.length >= static_cast<size_t>(slots * st.cap * 2) && counts.length >= static_cast<size_t>(slots) &&
              thresholds.length >= static_cast<size_t>(slots), info.Env(), "nestedKnn: state arrays are too short");
  return st;
}

// nestedKnnBlock(queries, nq, qStride, block, nb, bStride, firstId, dims, k, entries, counts, thresholds, threads)
// Adds database rows firstId .. firstId + nb - 1 (`block`, row-major with stride bStride) to the running top-k
// of every query at every dim. State: entries Float32Array(dims * nq * (2k + 16) * 2), counts Int32Array(dims * nq),
// thresholds Float32Array(dims * nq); a new state is zero counts and -Infinity thresholds.
Napi::Value NestedKnnBlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto queries = viewOf<float>(info[0], napi_float32_array, "queries");
  int64_t nq = intArg(info, 1, "nq"), qStride = intArg(info, 2, "qStride");
  auto block = viewOf<float>(info[3], napi_float32_array, "block");
  int64_t nb = intArg(info, 4, "nb"), bStride = intArg(info, 5, "bStride"), firstId = intArg(info, 6, "firstId");
  std::vector<int> dims;
  int maxDim = dimsArg(info, 7, dims);
  int64_t k = intArg(info, 8, "k");
  int64_t nd = static_cast<int64_t>(dims.size());
  State st = stateArgs(info, 9, nd * nq, k);
  int threads = static_cast<int>(intArg(info, 12, "threads"));
  require(nq > 0 && nb >= 0 && k > 0 && threads > 0 && qStride >= maxDim && bStride >= maxDim, env, "nestedKnnBlock: bad shape");
  require(static_cast<size_t>((nq - 1) * qStride + maxDim) <= queries.length, env, "nestedKnnBlock: queries are too short");
  require(nb == 0 || static_cast<size_t>((nb - 1) * bStride + maxDim) <= block.length, env, "nestedKnnBlock: block is too short");
  require(firstId >= 0 && firstId + nb <= std::numeric_limits<int32_t>::max(), env, "nestedKnnBlock: ids beyond int32");
  if (nb == 0) return env.Undefined();

  // The key needs only the rows' norms: a query's own norm scales all its rows alike. Given (invNorms, their
  // stride: [s * stride + r] for row r of this block) when the caller keeps them across calls, else computed.
  std::vector<float> computed;
  const float* xInv;
  int64_t xInvStride;
  if (info.Length() > 14 && info[13].IsTypedArray()) {
    auto given = viewOf<float>(info[13], napi_float32_array, "invNorms");
    xInvStride = intArg(info, 14, "invNormsStride");
    require(xInvStride >= nb && given.length >= static_cast<size_t>((nd - 1) * xInvStride + nb), env, "nestedKnnBlock: invNorms are too short");
    xInv = given.data;
  } else {
    computed.resize(nd * nb);
    prefixInvNormsInto(block.data, nb, bStride, dims, computed.data(), threads);
    xInv = computed.data();
    xInvStride = nb;
  }
  // Each thread runs its own single-threaded sgemm on its own tiles.
  int blasThreads = openblas_get_num_threads();
  openblas_set_num_threads(1);
  std::vector<Step> plan = slicePlan(dims);
  if (nq <= SMALL_BATCH) {
    smallBatchBlock(st, queries.data, nq, qStride, block.data, nb, bStride, static_cast<int32_t>(firstId), plan, nd, xInv, xInvStride, threads);
    openblas_set_num_threads(blasThreads);
    return env.Undefined();
  }
  const int64_t tileQueries = TILE_QUERIES;
  int64_t tiles = (nq + tileQueries - 1) / tileQueries;
  std::atomic<int64_t> next{0};
  bool anyTail = std::any_of(plan.begin(), plan.end(), [](const Step& p) { return !p.onGrid; });
  // Tiles of dot products are kept between calls: fresh pages are slow to touch on some virtual machines.
  static std::vector<std::vector<float>> scratch, tailScratch;
  int workers = static_cast<int>(std::min<int64_t>(threads, tiles));
  if (static_cast<int>(scratch.size()) < workers) scratch.resize(workers), tailScratch.resize(workers);
  for (int t = 0; t < workers; t++) {
    if (scratch[t].size() < static_cast<size_t>(tileQueries * TILE_ROWS)) scratch[t].resize(tileQueries * TILE_ROWS);
    if (anyTail && tailScratch[t].size() < static_cast<size_t>(tileQueries * TILE_ROWS)) tailScratch[t].resize(tileQueries * TILE_ROWS);
  }
  fanOut(workers, [&](int t) {
    std::vector<float>& dots = scratch[t];
    std::vector<float>& tails = tailScratch[t];
    std::vector<Entry> tmp;
    for (int64_t tile; (tile = next++) < tiles;) {
      int64_t q0 = tile * tileQueries, mq = std::min(tileQueries, nq - q0);
      for (int64_t j0 = 0; j0 < nb; j0 += TILE_ROWS) {
        int64_t mb = std::min(TILE_ROWS, nb - j0);
        // Columns are summed in the fixed slices of `plan`, so a dim's dot products do not depend on
        // which other dims were asked for (sgemm's rounding depends on the slices it is given).
        walkSlices(plan, dots.data(), tails.data(), mq * TILE_ROWS,
                   [&](int from, int to, float* out, float beta) {
                     cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mq, mb, to - from, 1.0f, queries.data + q0 * qStride + from, qStride,
                                 block.data + j0 * bStride + from, bStride, beta, out, TILE_ROWS);
                   },
                   [&](int dim, const float* out) {
                     for (int64_t q = 0; q < mq; q++) {
                       scanRow(st, dim * nq + q0 + q, out + q * TILE_ROWS, xInv + dim * xInvStride + j0, mb, static_cast<int32_t>(firstId + j0), tmp);
                     }
                   });
      }
    }
  });
  openblas_set_num_threads(blasThreads);
  return env.Undefined();
}

// nestedKnnFinish(queries, nq, qStride, dims, k, entries, counts, thresholds, distances, labels, threads)
// Writes each (dim, query)'s k nearest as squared L2 distances between the normalized prefixes, ascending,
// ties by id: distances Float32Array(dims * nq * k), labels Int32Array(dims * nq * k) (-1 / Infinity where
// fewer than k rows were seen).
Napi::Value NestedKnnFinish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto queries = viewOf<float>(info[0], napi_float32_array, "queries");
  int64_t nq = intArg(info, 1, "nq"), qStride = intArg(info, 2, "qStride");
  std::vector<int> dims;
  int maxDim = dimsArg(info, 3, dims);
  int64_t k = intArg(info, 4, "k");
  int64_t nd = static_cast<int64_t>(dims.size());
  State st = stateArgs(info, 5, nd * nq, k);
  auto distances = viewOf<float>(info[8], napi_float32_array, "distances");
  auto labels = viewOf<int32_t>(info[9], napi_int32_array, "labels");
  int threads = static_cast<int>(intArg(info, 10, "threads"));
  require(nq > 0 && k > 0 && threads > 0 && qStride >= maxDim, env, "nestedKnnFinish: bad shape");
  require(static_cast<size_t>((nq - 1) * qStride + maxDim) <= queries.length, env, "nestedKnnFinish: queries are too short");
  require(distances.length >= static_cast<size_t>(nd * nq * k) && labels.length >= static_cast<size_t>(nd * nq * k), env,
          "nestedKnnFinish: outputs are too short");
  std::vector<float> qInv = prefixInvNorms(queries.data, nq, qStride, dims);
  std::atomic<int64_t> next{0};
  fanOut(threads, [&](int) {
    std::vector<Entry> tmp;
    for (int64_t slot; (slot = next++) < nd * nq;) {
      compact(st, slot, tmp);
      Entry* e = st.entries + slot * st.cap;
      int64_t n = st.counts[slot];
      sortEntries(e, n, tmp);
      float scale = 2 * qInv[slot];  // slot = s * nq + q, as is qInv's layout
      float* d = distances.data + slot * k;
      int32_t* l = labels.data + slot * k;
      for (int64_t i = 0; i < k; i++) {
        d[i] = i < n ? std::max(0.0f, 2 - scale * keyOf(e[i])) : std::numeric_limits<float>::infinity();
        l[i] = i < n ? idOf(e[i]) : -1;
        // distinct keys can round to one distance: keep such runs in id order
        for (int64_t j = i; j > 0 && d[j] == d[j - 1] && l[j] < l[j - 1]; j--) std::swap(l[j], l[j - 1]);
      }
    }
  });
  return env.Undefined();
}

// prefixInvNorms(x, rows, stride, dims, out, threads): out[s * rows + r] = 1 / |first dims[s] values of row r|
// (float64 sums), the rows' part of the engine's keys, for callers that search the same rows many times.
Napi::Value PrefixInvNorms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = viewOf<float>(info[0], napi_float32_array, "x");
  int64_t rows = intArg(info, 1, "rows"), stride = intArg(info, 2, "stride");
  std::vector<int> dims;
  int maxDim = dimsArg(info, 3, dims);
  auto out = viewOf<float>(info[4], napi_float32_array, "out");
  int threads = static_cast<int>(intArg(info, 5, "threads"));
  require(rows >= 0 && stride >= maxDim && threads > 0, env, "prefixInvNorms: bad shape");
  require(rows == 0 || static_cast<size_t>((rows - 1) * stride + maxDim) <= x.length, env, "prefixInvNorms: x is too short");
  require(out.length >= dims.size() * rows, env, "prefixInvNorms: out is too short");
  prefixInvNormsInto(x.data, rows, stride, dims, out.data, threads);
  return env.Undefined();
}

// Floors for the benchmark (bench/retrieval.ts), measured with the engine's own pieces.

// sgemmSeconds(m, n, kdim, threads): seconds of one float32 product m x kdim by (n x kdim)^T through OpenBLAS
// on `threads` threads (random inputs), the GEMM rate the engine's products are compared with.
Napi::Value SgemmSeconds(const Napi::CallbackInfo& info) {
  int64_t m = intArg(info, 0, "m"), n = intArg(info, 1, "n"), kd = intArg(info, 2, "kdim");
  int threads = static_cast<int>(intArg(info, 3, "threads"));
  require(m > 0 && n > 0 && kd > 0 && threads > 0, info.Env(), "sgemmSeconds: bad shape");
  std::vector<float> a(m * kd), b(n * kd), c(m * n);
  for (size_t i = 0; i < a.size(); i++) a[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<float>((i * 40503u) % 1000) / 1000.0f;
  int blasThreads = openblas_get_num_threads();
  openblas_set_num_threads(threads);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, std::min<int64_t>(n, 1024), kd, 1.0f, a.data(), kd, b.data(), kd, 0.0f, c.data(), n);  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, kd, 1.0f, a.data(), kd, b.data(), kd, 0.0f, c.data(), n);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  openblas_set_num_threads(blasThreads);
  return Napi::Number::New(info.Env(), seconds);
}

// selectPass(scores, nq, nb, k, threads): the engine's top-k selection alone over a precomputed nq x nb matrix
// of keys (larger is nearer), with the same running state, compaction and final sort as a search; returns the
// labels (nq x k) so that the work cannot be skipped.
Napi::Value SelectPass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto scores = viewOf<float>(info[0], napi_float32_array, "scores");
  int64_t nq = intArg(info, 1, "nq"), nb = intArg(info, 2, "nb"), k = intArg(info, 3, "k");
  int threads = static_cast<int>(intArg(info, 4, "threads"));
  require(nq > 0 && nb > 0 && k > 0 && k <= nb && threads > 0 && scores.length >= static_cast<size_t>(nq * nb), env, "selectPass: bad shape");
  auto labels = Napi::Int32Array::New(env, nq * k);
  int32_t* out = labels.Data();
  std::vector<float> ones(TILE_ROWS, 1.0f);
  std::atomic<int64_t> next{0};
  fanOut(threads, [&](int) {
    // one query at a time per thread: a single slot of state, reused
    std::vector<Entry> entries(2 * k + SLACK), tmp;
    int32_t count;
    float threshold;
    State st{entries.data(), &count, &threshold, k, 2 * k + SLACK};
    for (int64_t q; (q = next++) < nq;) {
      count = 0;
      threshold = -std::numeric_limits<float>::infinity();
      for (int64_t j0 = 0; j0 < nb; j0 += TILE_ROWS) {
        scanRow(st, 0, scores.data + q * nb + j0, ones.data(), std::min(TILE_ROWS, nb - j0), static_cast<int32_t>(j0), tmp);
      }
      compact(st, 0, tmp);
      sortEntries(entries.data(), count, tmp);
      for (int64_t i = 0; i < k; i++) out[q * k + i] = idOf(entries[i]);
    }
  });
  return labels;
}

}  // namespace mrl
