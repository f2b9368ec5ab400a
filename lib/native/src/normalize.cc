// The nested representation at one size: the first `dim` columns of every row, L2-normalized.
#include "common.h"
#include <cmath>

namespace mrl {

// prefixNormalize(src, rows, srcStride, dim, dst, threads) -> index of the first row whose prefix is zero or
// not finite (those rows are left unnormalized), or -1. dst is rows x dim; it may be src when srcStride == dim.
// Same arithmetic as core/matrix.ts l2NormalizeRows: float64 sum of squares, x * (1 / sqrt(sum)) rounded to float.
Napi::Value PrefixNormalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto src = viewOf<float>(info[0], napi_float32_array, "src");
  int64_t rows = intArg(info, 1, "rows"), stride = intArg(info, 2, "srcStride"), dim = intArg(info, 3, "dim");
  auto dst = viewOf<float>(info[4], napi_float32_array, "dst");
  int threads = static_cast<int>(intArg(info, 5, "threads"));
  require(rows >= 0 && dim > 0 && stride >= dim && threads > 0, env, "prefixNormalize: bad shape");
  require(rows == 0 || static_cast<size_t>((rows - 1) * stride + dim) <= src.length, env, "prefixNormalize: src is too short");
  require(static_cast<size_t>(rows * dim) <= dst.length, env, "prefixNormalize: dst is too short");
  require(src.data != dst.data || stride == dim, env, "prefixNormalize: in place needs srcStride == dim");
  std::vector<int64_t> firstBad(threads, -1);
  fanOut(threads, [&](int t) {
    int64_t r0 = rows * t / threads, r1 = rows * (t + 1) / threads;
    for (int64_t r = r0; r < r1; r++) {
      const float* x = src.data + r * stride;
      float* y = dst.data + r * dim;
      double sum = 0;
      for (int64_t c = 0; c < dim; c++) sum += static_cast<double>(x[c]) * x[c];
      if (!(sum > 0) || !std::isfinite(sum)) {
        if (firstBad[t] < 0) firstBad[t] = r;
        if (y != x) for (int64_t c = 0; c < dim; c++) y[c] = x[c];
        continue;
      }
      double inv = 1 / std::sqrt(sum);
      for (int64_t c = 0; c < dim; c++) y[c] = static_cast<float>(x[c] * inv);
    }
  });
  for (int64_t b : firstBad) if (b >= 0) return Napi::Number::New(env, static_cast<double>(b));
  return Napi::Number::New(env, -1);
}

}  // namespace mrl
