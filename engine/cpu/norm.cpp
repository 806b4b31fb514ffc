// CPU batch-normalisation kernels (see norm.h). x viewed as [N, C, S]; channel c's values
// are the N runs x[n, c, 0:S].
#include "engine/cpu/norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

namespace melgrad::cpu {

namespace {

using G = BatchNormGeometry;

// Runs of at most this many values are summed in T (vectorised) before being added in
// double.
constexpr int64_t kBlock = 2048;

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Calls f(block pointer(s) offset, length) over channel c's values in blocks.
template <class F>
void for_channel_blocks(const G& g, int64_t c, F&& f) {
  for (int64_t n = 0; n < g.N; ++n) {
    const int64_t base = (n * g.C + c) * g.S;
    for (int64_t s = 0; s < g.S; s += kBlock) f(base + s, std::min(kBlock, g.S - s));
  }
}

// Below 64K values the kernel runs on the calling thread: a fork/join (a few µs on idle
// cores) would cost more than it saves. 1M before 2026-12-06, tuned on shared cores where a
// join could cost a scheduler time slice; on a quiet machine it left cnn-beat's second
// thread idle (docs/PERFORMANCE.md).
constexpr int64_t kParallelValues = int64_t{1} << 16;

bool split_channels(const G& g) { return g.C > 1 && g.N * g.C * g.S >= kParallelValues; }

}  // namespace

void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var, const G& g) {
  dispatch_floating(x.dtype(), "batch_norm_stats", [&]<class T>() {
    const T* px = x.data<T>();
    T* pm = mean.data<T>();
    T* pv = var.data<T>();
    const double count = static_cast<double>(g.N * g.S);
#pragma omp parallel for schedule(static) if (split_channels(g))
    for (int64_t c = 0; c < g.C; ++c) {
      const T shift = px[c * g.S];  // shifted sums keep sum(d^2) - sum(d)^2 / M accurate
      double s1 = 0, s2 = 0;
      for_channel_blocks(g, c, [&](int64_t off, int64_t len) {
        T a = 0, b = 0;
        const T* p = px + off;
#pragma omp simd reduction(+ : a, b)
        for (int64_t i = 0; i < len; ++i) {
          const T d = p[i] - shift;
          a += d;
          b += d * d;
        }
        s1 += a;
        s2 += b;
      });
      const double m = s1 / count;
      pm[c] = static_cast<T>(shift + m);
      pv[c] = static_cast<T>(std::max(0.0, s2 / count - m * m));
    }
  });
}

void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& invstd,
                      const Tensor& weight, const Tensor& bias, const Tensor& y, const G& g) {
  dispatch_floating(x.dtype(), "batch_norm_apply", [&]<class T>() {
    const T *px = x.data<T>(), *pm = mean.data<T>(), *pi = invstd.data<T>();
    const T *pw = ptr_or_null<T>(weight), *pb = ptr_or_null<T>(bias);
    T* py = y.data<T>();
#pragma omp parallel for collapse(2) schedule(static) if (g.N * g.C * g.S >= kParallelValues)
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t c = 0; c < g.C; ++c) {
        const T scale = (pw ? pw[c] : T(1)) * pi[c];
        const T shift = (pb ? pb[c] : T(0)) - pm[c] * scale;
        const T* src = px + (n * g.C + c) * g.S;
        T* dst = py + (n * g.C + c) * g.S;
#pragma omp simd
        for (int64_t i = 0; i < g.S; ++i) dst[i] = src[i] * scale + shift;
      }
  });
}

void batch_norm_update_running(const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& mean, const Tensor& var, double momentum, const G& g) {
  dispatch_floating(mean.dtype(), "batch_norm_update_running", [&]<class T>() {
    T *rm = running_mean.data<T>(), *rv = running_var.data<T>();
    const T *pm = mean.data<T>(), *pv = var.data<T>();
    const double count = static_cast<double>(g.N * g.S);
    const double unbias = count > 1 ? count / (count - 1) : 1.0;
    for (int64_t c = 0; c < g.C; ++c) {
      rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * pm[c]);
      rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * pv[c] * unbias);
    }
  });
}

void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean,
                         const Tensor& invstd, const Tensor& weight, const Tensor& gx,
                         const Tensor& gweight, const Tensor& gbias, bool batch_stats, const G& g) {
  dispatch_floating(gy.dtype(), "batch_norm_backward", [&]<class T>() {
    const T *pg = gy.data<T>(), *px = x.data<T>(), *pm = mean.data<T>(), *pi = invstd.data<T>(),
            *pw = ptr_or_null<T>(weight);
    T* pgx = gx.defined() ? gx.data<T>() : nullptr;
    T* pgw = gweight.defined() ? gweight.data<T>() : nullptr;
    T* pgb = gbias.defined() ? gbias.data<T>() : nullptr;
    const double count = static_cast<double>(g.N * g.S);
    const bool need_sums = pgw || pgb || (pgx && batch_stats);
#pragma omp parallel for schedule(static) if (split_channels(g))
    for (int64_t c = 0; c < g.C; ++c) {
      const T m = pm[c], is = pi[c];
      double sum_gy = 0, sum_gy_xmu = 0;  // sum(gy), sum(gy * (x - mean))
      if (need_sums)
        for_channel_blocks(g, c, [&](int64_t off, int64_t len) {
          T a = 0, b = 0;
          const T *gp = pg + off, *xp = px + off;
#pragma omp simd reduction(+ : a, b)
          for (int64_t i = 0; i < len; ++i) {
            a += gp[i];
            b += gp[i] * (xp[i] - m);
          }
          sum_gy += a;
          sum_gy_xmu += b;
        });
      if (pgb) pgb[c] = static_cast<T>(sum_gy);
      if (pgw) pgw[c] = static_cast<T>(sum_gy_xmu * is);
      if (!pgx) continue;
      const T k = (pw ? pw[c] : T(1)) * is;
      // gx = k * (gy - a - (x - mean) * b); a = b = 0 with running statistics.
      const T a = batch_stats ? static_cast<T>(sum_gy / count) : T(0);
      const T b = batch_stats ? static_cast<T>(sum_gy_xmu / count * is * is) : T(0);
      for (int64_t n = 0; n < g.N; ++n) {
        const int64_t base = (n * g.C + c) * g.S;
        const T *gp = pg + base, *xp = px + base;
        T* dst = pgx + base;
#pragma omp simd
        for (int64_t i = 0; i < g.S; ++i) dst[i] = k * (gp[i] - a - (xp[i] - m) * b);
      }
    }
  });
}

}  // namespace melgrad::cpu
