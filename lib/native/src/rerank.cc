// Adaptive and funnel reranking over the caller's typed arrays (the engine of rerank/rerank.ts): each query's
// candidates reordered by the L2 distance between the unit-normalized dim-prefixes of query and row,
// |x/|x| - q/|q||, squared; a funnel repeats that with growing dims and shrinking shortlists.
//
// Distances come from differences, sum over c of (x[c] / |x| - q[c] / |q|)^2, as the original's
// np.linalg.norm(c - q) does, not from 2 - 2 cos: near-duplicates lie ~1e-4 apart, which 1 - cos in float32
// cannot resolve. The original does not re-normalize the query prefix (q' = q_d / |q_whole row|, |q'| = r <= 1):
// with unit candidates that ranks them by cos exactly as here, except a zero row, which sklearn's normalize
// leaves at zero, so its distance is r. It lands before x iff cos(x) < 1 / (2r), so here it gets
// 2 - 1/r: the original's place, on the unit-sphere scale. Candidate id -1 (FAISS: not found) is skipped: the
// real candidates are reranked and -1 fills the tail.
//
// The arithmetic of each precision is fixed (RerankPrecision in experiment/types.ts; test/reference.ts writes it
// out as scalar loops, and the kernel must equal them bit for bit):
// - float64: squared norm and squared distance are float64 sums in dimension order from +0; SIMD runs ACROSS
//   candidates (eight per register, each lane its own candidate's chain), never across dims. Eight rows at a
//   time are transposed in registers for that.
// - float32: sixteen float32 partial sums per candidate (lane = dim mod 16, the prefix padded with zeros),
//   combined by a fixed tree (combine16); x / |x| is x * float(1 / sqrt(norm^2)), each product and difference
//   rounded to float32. One 16-lane register per candidate is exactly those sums.
// The addon is compiled with -ffp-contract=off: a fused multiply-add would round differently.
// Ties keep shortlist order (stable sort); a funnel step keeps the smallest by (distance, position) first.
#include "common.h"
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <immintrin.h>

namespace mrl {
namespace {  // internal types: other files of the addon have their own (e.g. nested_knn.cc's Step)

// Queries a thread takes from the shared counter at a time: small, so that the threads stay close together in
// the locality order (sharing cached rows) and a thread slowed by other work takes fewer chunks.
constexpr int64_t CHUNK = 8;

// Reranking 2048-d rows is bound by memory: the rows ahead are prefetched, within a row PREFETCH_AHEAD floats
// ahead of the sums (every 16 dims: one line), and the first NEXT_LINES lines of the next group's rows.
constexpr int64_t PREFETCH_AHEAD = 256;
constexpr int NEXT_LINES = 8;

static inline void prefetch(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

// Squared norms of the database rows' prefixes at one dim, computed on first use and shared by the threads
// (-1 = not yet). Two threads may compute the same row at once; both store the same value.
class NormCache {
 public:
  explicit NormCache(int64_t rows) : values_(new std::atomic<double>[rows]) {
    for (int64_t r = 0; r < rows; r++) values_[r].store(-1.0, std::memory_order_relaxed);
  }
  double get(int32_t row) const { return values_[row].load(std::memory_order_relaxed); }
  void set(int32_t row, double v) { values_[row].store(v, std::memory_order_relaxed); }
  bool known(int32_t row) const { return get(row) != -1.0; }

 private:
  std::unique_ptr<std::atomic<double>[]> values_;
};

// ---- float64 ---------------------------------------------------------------------------------------------

// 8 x 8 floats in r[0..8) (row u, dims c..c+7) -> r[k] = dim c+k of rows 0..7.
static inline void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Adds dims c..c+n-1 (n <= 8; `mask` selects them) of 8 rows to their float64 sums, lane u = row u:
// NORMS: the squared norms x^2; otherwise the squared differences (x * inv_u - q')^2.
template <bool NORMS, bool FULL>
static inline void accumulate8(const float* const* rows, int64_t c, __mmask8 mask, int n, const double* q, __m512d inv, __m512d& acc) {
  __m256 r[8];
  for (int u = 0; u < 8; u++) r[u] = FULL ? _mm256_loadu_ps(rows[u] + c) : _mm256_maskz_loadu_ps(mask, rows[u] + c);
  transpose8(r);
  for (int k = 0; k < (FULL ? 8 : n); k++) {
    __m512d x = _mm512_cvtps_pd(r[k]);
    __m512d e = NORMS ? x : _mm512_sub_pd(_mm512_mul_pd(x, inv), _mm512_set1_pd(q[c + k]));
    acc = _mm512_add_pd(acc, _mm512_mul_pd(e, e));
  }
}

// float64 sums over dims 0..dim-1 in order for 8 rows (one per lane): NORMS their squared norms, otherwise
// their squared distances to q' once scaled by inv. One group of 8 at a time: rows 8 KiB apart share L1 sets,
// and 16 rows read together would evict each other.
template <bool NORMS>
static void sumsF64(const float* const* rows, const double* q, const double* inv, int64_t dim, double* out) {
  __m512d acc = _mm512_setzero_pd(), scale = _mm512_loadu_pd(inv);
  int64_t c = 0;
  for (; c + 8 <= dim; c += 8) {
    if ((c & 15) == 0 && c + PREFETCH_AHEAD < dim) for (int u = 0; u < 8; u++) prefetch(rows[u] + c + PREFETCH_AHEAD);
    accumulate8<NORMS, true>(rows, c, 0xff, 8, q, scale, acc);
  }
  if (c < dim) accumulate8<NORMS, false>(rows, c, static_cast<__mmask8>((1u << (dim - c)) - 1), static_cast<int>(dim - c), q, scale, acc);
  _mm512_storeu_pd(out, acc);
}

// ---- float32 ---------------------------------------------------------------------------------------------

// The 16 lanes' float32 sum as a fixed tree: t8[i] = s[i] + s[i+8], t4[i] = t8[i] + t8[i+4],
// t2[i] = t4[i] + t4[i+2], then t2[0] + t2[1].
static inline float combine16(__m512 s) {
  __m256 lo = _mm512_castps512_ps256(s), hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1));
  __m256 t8 = _mm256_add_ps(lo, hi);
  __m128 t4 = _mm_add_ps(_mm256_castps256_ps128(t8), _mm256_extractf128_ps(t8, 1));
  __m128 t2 = _mm_add_ps(t4, _mm_movehl_ps(t4, t4));
  return _mm_cvtss_f32(_mm_add_ss(t2, _mm_shuffle_ps(t2, t2, 1)));
}

// float32 sums over dims 0..dim-1 for 8 rows, sixteen partial sums per row (lane = dim mod 16, the prefix
// padded with zeros to a multiple of 16), combined by combine16: NORMS their squared norms x^2, otherwise their
// squared differences (x * inv_u - q')^2, each product and difference rounded to float32.
template <bool NORMS>
static void sumsF32(const float* const* rows, const float* q, const float* inv, int64_t dim, double* out) {
  __m512 acc[8], scale[8];
  for (int u = 0; u < 8; u++) acc[u] = _mm512_setzero_ps(), scale[u] = _mm512_set1_ps(inv[u]);
  auto step = [&](int64_t c, __mmask16 mask) {
    __m512 qv = NORMS ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, q + c);
    for (int u = 0; u < 8; u++) {
      __m512 x = _mm512_maskz_loadu_ps(mask, rows[u] + c);
      __m512 e = NORMS ? x : _mm512_sub_ps(_mm512_mul_ps(x, scale[u]), qv);
      acc[u] = _mm512_add_ps(acc[u], _mm512_mul_ps(e, e));
    }
  };
  int64_t c = 0;
  for (; c + 16 <= dim; c += 16) {
    if (c + PREFETCH_AHEAD < dim) for (int u = 0; u < 8; u++) prefetch(rows[u] + c + PREFETCH_AHEAD);
    step(c, 0xffff);
  }
  if (c < dim) step(c, static_cast<__mmask16>((1u << (dim - c)) - 1));  // padding: 0 * inv - 0 = +0
  for (int u = 0; u < 8; u++) out[u] = combine16(acc[u]);
}

// ---- ordering --------------------------------------------------------------------------------------------

// Sorts dist[0..n) ascending, moving the positions in `order` along: stable (equal distances keep shortlist
// order). Insertion sort on runs of 16, then bottom-up merges; the same algorithm as before the native
// kernel, so that even NaN distances land where they did.
static void sortByDistance(double* dist, int32_t* order, double* distTmp, int32_t* orderTmp, int64_t n) {
  const int64_t RUN = 16;
  for (int64_t s = 0; s < n; s += RUN) {
    int64_t e = std::min(n, s + RUN);
    for (int64_t i = s + 1; i < e; i++) {
      double key = dist[i];
      int32_t pos = order[i];
      int64_t k = i - 1;
      while (k >= s && key < dist[k]) {
        dist[k + 1] = dist[k];
        order[k + 1] = order[k];
        k--;
      }
      dist[k + 1] = key;
      order[k + 1] = pos;
    }
  }
  double *srcD = dist, *dstD = distTmp;
  int32_t *srcO = order, *dstO = orderTmp;
  for (int64_t width = RUN; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      int64_t mid = std::min(n, lo + width), hi = std::min(n, lo + 2 * width);
      int64_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi) {
        if (srcD[b] < srcD[a]) {
          dstD[k] = srcD[b];
          dstO[k++] = srcO[b++];
        } else {
          dstD[k] = srcD[a];
          dstO[k++] = srcO[a++];
        }
      }
      while (a < mid) dstD[k] = srcD[a], dstO[k++] = srcO[a++];
      while (b < hi) dstD[k] = srcD[b], dstO[k++] = srcO[b++];
    }
    std::swap(srcD, dstD);
    std::swap(srcO, dstO);
  }
  if (srcO != order) {
    std::copy(srcO, srcO + n, order);
    std::copy(srcD, srcD + n, dist);
  }
}

// Moves the `keep` smallest of dist[0..n) by (distance, position) to the front, in position order, with their
// positions in `order` (0..n-1 on entry); returns keep. A stable sort of those equals the first `keep` of a
// stable sort of all n. No NaN allowed (the caller then sorts everything).
static int64_t keepSmallest(double* dist, int32_t* order, double* d, int32_t* p, int64_t n, int64_t keep) {
  std::copy(dist, dist + n, d);
  std::copy(order, order + n, p);
  int64_t l = 0, r = n - 1;
  const int64_t nth = keep - 1;
  while (r > l) {
    int64_t m = (l + r) >> 1;
    double pd = d[m];
    int32_t pp = p[m];
    int64_t i = l, j = r;
    while (i <= j) {
      while (d[i] < pd || (d[i] == pd && p[i] < pp)) i++;
      while (pd < d[j] || (pd == d[j] && pp < p[j])) j--;
      if (i <= j) {
        std::swap(d[i], d[j]);
        std::swap(p[i], p[j]);
        i++;
        j--;
      }
    }
    if (nth <= j) r = j;
    else if (nth >= i) l = i;
    else break;
  }
  double td = d[nth];
  int32_t tp = p[nth];
  int64_t k = 0;
  for (int64_t q = 0; q < n; q++) {
    double v = dist[q];
    if (v < td || (v == td && q <= tp)) {
      dist[k] = v;
      order[k++] = static_cast<int32_t>(q);
    }
  }
  return k;
}

// ---- one query -------------------------------------------------------------------------------------------

struct Arrays {
  const float* db;
  int64_t rows, stride;
  const float* queries;
  int64_t qStride;
  bool f32;
};

// Per-thread buffers, sized for the longest shortlist and dim.
struct Scratch {
  std::vector<double> dist, distTmp, qd;
  std::vector<int32_t> order, orderTmp, real, kept[2];
  std::vector<float> qf;
  Scratch(int64_t shortlist, int64_t dim)
      : dist(shortlist), distTmp(shortlist), qd(dim), order(shortlist), orderTmp(shortlist), real(shortlist), qf(dim) {
    kept[0].resize(shortlist);
    kept[1].resize(shortlist);
  }
};

// The squared distances of rows ids[j0 .. j0 + count) (count <= 8) to the unit query prefix in s.qf / s.qd, into
// s.dist[j0..], a zero row's being zeroDist; the missing rows of a group repeat the last one. Rows whose squared
// norm is not yet known get it first (a pass of their own: the distances need 1/|x| before they start).
static void distancesOfGroup(const Arrays& a, Scratch& s, const int32_t* ids, int64_t j0, int64_t count, int64_t dim, NormCache& norms,
                             double zeroDist) {
  const float* rows[8];
  bool needNorms = false;
  for (int64_t u = 0; u < 8; u++) {
    int32_t id = ids[j0 + std::min(u, count - 1)];
    rows[u] = a.db + static_cast<int64_t>(id) * a.stride;
    needNorms |= u < count && !norms.known(id);
  }
  double sums[8];
  if (needNorms) {
    a.f32 ? sumsF32<true>(rows, nullptr, nullptr, dim, sums) : sumsF64<true>(rows, nullptr, nullptr, dim, sums);
    for (int64_t u = 0; u < count; u++) norms.set(ids[j0 + u], sums[u]);
  }
  double inv[8];
  float invf[8];
  bool zero[8];
  for (int64_t u = 0; u < 8; u++) {
    double nn = norms.get(ids[j0 + std::min(u, count - 1)]);
    zero[u] = nn == 0;
    inv[u] = nn > 0 ? 1 / std::sqrt(nn) : 0;
    invf[u] = static_cast<float>(inv[u]);
  }
  a.f32 ? sumsF32<false>(rows, s.qf.data(), invf, dim, sums) : sumsF64<false>(rows, s.qd.data(), inv, dim, sums);
  for (int64_t u = 0; u < count; u++) s.dist[j0 + u] = zero[u] ? zeroDist : sums[u];
}

// Query i at one dim: orders the real candidates among ids[0..shortlist) (id -1 = missing, skipped) by
// distance; writes the first `keep` to out, then -1 where fewer than `keep` were real.
static void rerankQuery(const Arrays& a, Scratch& s, int64_t i, double wholeNorm, const int32_t* ids, int64_t dim, int64_t shortlist,
                        int64_t keep, int32_t* out, NormCache& norms) {
  const float* q = a.queries + i * a.qStride;
  double qq = 0;
  for (int64_t c = 0; c < dim; c++) qq += static_cast<double>(q[c]) * q[c];
  const double qNorm = std::sqrt(qq);
  for (int64_t c = 0; c < dim; c++) {
    s.qd[c] = qNorm > 0 ? q[c] / qNorm : 0;
    s.qf[c] = static_cast<float>(s.qd[c]);
  }
  // r = |q prefix| / |q whole row|; r = 0 (a zero query prefix): the original puts zero rows first
  const double r = wholeNorm > 0 ? qNorm / wholeNorm : 0;
  const double zeroDist = r > 0 ? 2 - 1 / r : -HUGE_VAL;
  int32_t* real = s.real.data();
  int64_t n = 0;
  for (int64_t p = 0; p < shortlist; p++) if (ids[p] >= 0) real[n++] = ids[p];
  for (int64_t j = 0; j < n; j += 8) {
    for (int64_t u = j + 8; u < std::min(n, j + 16); u++) {
      for (int l = 0; l < NEXT_LINES && 16 * l < dim; l++) prefetch(a.db + static_cast<int64_t>(real[u]) * a.stride + 16 * l);
    }
    distancesOfGroup(a, s, real, j, std::min<int64_t>(8, n - j), dim, norms, zeroDist);
  }
  double* dist = s.dist.data();
  int32_t* order = s.order.data();
  bool nan = false;
  for (int64_t p = 0; p < n; p++) {
    nan |= dist[p] != dist[p];
    order[p] = static_cast<int32_t>(p);
  }
  const int64_t wanted = std::min(keep, n);
  int64_t sorted = n;
  if (wanted < n && !nan) sorted = keepSmallest(dist, order, s.distTmp.data(), s.orderTmp.data(), n, wanted);
  sortByDistance(dist, order, s.distTmp.data(), s.orderTmp.data(), sorted);
  for (int64_t p = 0; p < wanted; p++) out[p] = real[order[p]];
  for (int64_t p = wanted; p < keep; p++) out[p] = -1;
}

}  // namespace

// rerank(database, rows, stride, queries, qStride, nq, candidates, candidateCols, dims, shortlists, float32, order, out, threads,
//        queryNorms)
// -> -1, or the index in `candidates` of the first id outside -1..rows-1 (then nothing is computed).
// queryNorms[i]: |query i| over its whole row (float64), which may be wider than qStride; empty: the rows of
// `queries` are whole (their norms are summed here, float64 in column order).
// A funnel over every query: rerank at dims[0] keeping shortlists[0] of its candidates, then dims[1] keeping
// shortlists[1], ... (one step: adaptive retrieval). out: nq x shortlists[last]. order: the order to process
// queries in (a permutation of 0..nq-1, e.g. locality order; empty = 0..nq-1): only the speed depends on it.
// Threads take CHUNK queries at a time in that order from a shared counter. All steps of a query run before
// the next query, so the rows the first step read are still in cache for the later ones.
Napi::Value Rerank(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto db = viewOf<float>(info[0], napi_float32_array, "database");
  int64_t rows = intArg(info, 1, "rows"), stride = intArg(info, 2, "stride");
  auto queries = viewOf<float>(info[3], napi_float32_array, "queries");
  int64_t qStride = intArg(info, 4, "qStride"), nq = intArg(info, 5, "nq");
  auto candidates = viewOf<int32_t>(info[6], napi_int32_array, "candidates");
  int64_t candidateCols = intArg(info, 7, "candidateCols");
  auto dimsView = viewOf<int32_t>(info[8], napi_int32_array, "dims");
  auto shortlistsView = viewOf<int32_t>(info[9], napi_int32_array, "shortlists");
  if (!info[10].IsBoolean()) throw Napi::TypeError::New(env, "float32 must be a boolean");
  bool f32 = info[10].As<Napi::Boolean>().Value();
  auto order = viewOf<int32_t>(info[11], napi_int32_array, "order");
  auto out = viewOf<int32_t>(info[12], napi_int32_array, "out");
  int threads = static_cast<int>(intArg(info, 13, "threads"));
  auto queryNorms = viewOf<double>(info[14], napi_float64_array, "queryNorms");

  std::vector<int64_t> dims(dimsView.data, dimsView.data + dimsView.length);
  std::vector<int64_t> shortlists(shortlistsView.data, shortlistsView.data + shortlistsView.length);
  require(!dims.empty() && dims.size() == shortlists.size(), env, "rerank: dims and shortlists must be non-empty and of one length");
  int64_t maxDim = 0;
  for (size_t s = 0; s < dims.size(); s++) {
    require(dims[s] > 0 && dims[s] <= stride && dims[s] <= qStride, env, "rerank: a dim is outside the rows");
    require(shortlists[s] > 0 && (s == 0 || shortlists[s] < shortlists[s - 1]), env, "rerank: shortlists must be positive and decreasing");
    maxDim = std::max(maxDim, dims[s]);
  }
  const int64_t first = shortlists[0], last = shortlists.back();
  require(rows >= 0 && nq >= 0 && threads > 0 && candidateCols >= first, env, "rerank: bad shape");
  require(static_cast<size_t>(rows * stride) <= db.length, env, "rerank: the database is too short");
  require(nq == 0 || static_cast<size_t>((nq - 1) * qStride + maxDim) <= queries.length, env, "rerank: queries are too short");
  require(nq == 0 || static_cast<size_t>((nq - 1) * candidateCols + first) <= candidates.length, env, "rerank: candidates are too short");
  require(static_cast<size_t>(nq * last) <= out.length, env, "rerank: out is too short");
  require(order.length == 0 || static_cast<int64_t>(order.length) == nq, env, "rerank: order must hold every query once");
  require(queryNorms.length == 0 || static_cast<int64_t>(queryNorms.length) >= nq, env, "rerank: queryNorms is too short");
  if (order.length > 0) {
    std::vector<bool> seen(nq);
    for (int64_t t = 0; t < nq; t++) {
      int32_t i = order.data[t];
      require(i >= 0 && i < nq && !seen[i], env, "rerank: order must hold every query once");
      seen[i] = true;
    }
  }
  for (int64_t i = 0; i < nq; i++) {
    for (int64_t j = 0; j < first; j++) {
      int32_t id = candidates.data[i * candidateCols + j];
      if (id < -1 || id >= rows) return Napi::Number::New(env, static_cast<double>(i * candidateCols + j));
    }
  }
  if (nq == 0) return Napi::Number::New(env, -1);

  const Arrays a{db.data, rows, stride, queries.data, qStride, f32};
  std::map<int64_t, NormCache> caches;  // one per distinct dim
  std::vector<NormCache*> stepNorms;
  for (int64_t d : dims) stepNorms.push_back(&caches.try_emplace(d, rows).first->second);
  int workers = static_cast<int>(std::min<int64_t>(threads, (nq + CHUNK - 1) / CHUNK));
  std::vector<Scratch> scratch;
  for (int t = 0; t < workers; t++) scratch.emplace_back(first, maxDim);
  std::atomic<int64_t> next{0};
  const int64_t steps = static_cast<int64_t>(dims.size());
  fanOut(workers, [&](int t) {
    Scratch& s = scratch[t];
    for (int64_t from; (from = next.fetch_add(CHUNK)) < nq;) {
      for (int64_t pos = from; pos < std::min(nq, from + CHUNK); pos++) {
        int64_t i = order.length > 0 ? order.data[pos] : pos;
        const int32_t* ids = candidates.data + i * candidateCols;
        double wholeNorm = 0;  // once per query, for all its steps
        if (queryNorms.length > 0) wholeNorm = queryNorms.data[i];
        else {
          const float* q = queries.data + i * qStride;
          for (int64_t c = 0; c < qStride; c++) wholeNorm += static_cast<double>(q[c]) * q[c];
          wholeNorm = std::sqrt(wholeNorm);
        }
        for (int64_t st = 0; st < steps; st++) {
          bool final = st == steps - 1;
          // a step before the last only needs the candidates the next one keeps, in order
          int32_t* target = final ? out.data + i * last : s.kept[st % 2].data();
          rerankQuery(a, s, i, wholeNorm, ids, dims[st], shortlists[st], final ? last : shortlists[st + 1], target, *stepNorms[st]);
          ids = target;
        }
      }
    }
  });
  return Napi::Number::New(env, -1);
}

}  // namespace mrl
