// Query order for reranking (kernels/locality.ts): reranking 2048-d rows is bound by memory traffic, so
// queries that share candidates are processed one after the other and find those rows still in cache.
// Native so that a first rerank call does not wait for the JIT (~50 ms for 2000 queries, ~1 ms here).
#include "common.h"
#include <algorithm>
#include <limits>

namespace mrl {
namespace {

// Rearranges order[lo..hi) so that order[nth] is the element a sort by (key, index) would put there, smaller
// ones before it and larger ones after (quickselect, middle pivot; deterministic).
void selectNth(int32_t* order, const double* key, int64_t lo, int64_t hi, int64_t nth) {
  auto less = [key](int32_t a, int32_t b) { return key[a] < key[b] || (key[a] == key[b] && a < b); };
  int64_t l = lo, r = hi - 1;
  while (r > l) {
    const int32_t pivot = order[(l + r) >> 1];
    int64_t i = l, j = r;
    while (i <= j) {
      while (less(order[i], pivot)) i++;
      while (less(pivot, order[j])) j--;
      if (i <= j) {
        std::swap(order[i], order[j]);
        i++;
        j--;
      }
    }
    if (nth <= j) r = j;
    else if (nth >= i) l = i;
    else return;
  }
}

struct Tree {
  const float* points;  // nq x cols, the columns used, contiguous
  int64_t cols, leaf;
  int32_t* order;
  std::vector<double> key, min, max;

  // Splits order[lo..hi) at the median of the column with the largest range, then each half, down to leaves.
  void split(int64_t lo, int64_t hi) {
    if (hi - lo <= leaf) return;
    std::fill(min.begin(), min.end(), std::numeric_limits<double>::infinity());
    std::fill(max.begin(), max.end(), -std::numeric_limits<double>::infinity());
    for (int64_t t = lo; t < hi; t++) {
      const float* p = points + order[t] * cols;
      for (int64_t c = 0; c < cols; c++) {
        double v = p[c];
        if (v < min[c]) min[c] = v;
        if (v > max[c]) max[c] = v;
      }
    }
    int64_t best = 0;
    double range = -1;
    for (int64_t c = 0; c < cols; c++) {
      if (max[c] - min[c] > range) {
        range = max[c] - min[c];
        best = c;
      }
    }
    if (!(range > 0)) return;  // all equal (or NaN): nothing to split on
    for (int64_t t = lo; t < hi; t++) {
      double v = points[order[t] * cols + best];
      key[order[t]] = v == v ? v : std::numeric_limits<double>::infinity();  // NaN with the largest
    }
    const int64_t mid = (lo + hi) >> 1;
    selectNth(order, key.data(), lo, hi, mid);
    split(lo, mid);
    split(mid, hi);
  }
};

}  // namespace

// localityOrder(queries, stride, nq, dims, leaf, order): writes to order (Int32Array(nq)) a cache-friendly order
// of the nq queries (rows of `stride` floats): the leaves of a k-d tree over their first `dims` columns, each
// node split at the median of the column with the largest range, leaves of at most `leaf` queries.
Napi::Value LocalityOrder(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto queries = viewOf<float>(info[0], napi_float32_array, "queries");
  int64_t stride = intArg(info, 1, "stride"), nq = intArg(info, 2, "nq"), dims = intArg(info, 3, "dims"), leaf = intArg(info, 4, "leaf");
  auto order = viewOf<int32_t>(info[5], napi_int32_array, "order");
  require(nq >= 0 && nq <= std::numeric_limits<int32_t>::max() && stride > 0 && dims > 0 && leaf > 0, env, "localityOrder: bad shape");
  require(nq == 0 || static_cast<size_t>((nq - 1) * stride + std::min(dims, stride)) <= queries.length, env, "localityOrder: queries are too short");
  require(order.length >= static_cast<size_t>(nq), env, "localityOrder: order is too short");
  const int64_t cols = std::min(dims, stride);
  std::vector<float> points(nq * cols);
  for (int64_t i = 0; i < nq; i++) {
    order.data[i] = static_cast<int32_t>(i);
    for (int64_t c = 0; c < cols; c++) points[i * cols + c] = queries.data[i * stride + c];
  }
  Tree tree{points.data(), cols, leaf, order.data, std::vector<double>(nq), std::vector<double>(cols), std::vector<double>(cols)};
  tree.split(0, nq);
  return env.Undefined();
}

}  // namespace mrl
