// CPU pooling kernels (see pool.h): x [planes, H, W] -> y [planes, Ho, Wo], per PoolKind:
//   max  windows start at oh * sh - ph and are clipped to the input (padding never wins);
//        ties go to the first maximum in row-major window order, NaN counts as the maximum
//        (as PyTorch); argmax [planes, Ho, Wo] keeps the winner, the backward routes dy there.
//   avg  the sum of the window clipped to the input (row-major, in T) divided by the window
//        clipped to the padded input (count_include_pad); the backward adds dy / divisor to
//        each input of the window, windows in (oh, ow) order (kernels/pool.cu's order).
#include "engine/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace melgrad::cpu {

namespace {

// The shape with its output size computed once (the loops below read it often).
struct G : Pool2dShape {
  int64_t Ho, Wo;
  explicit G(const Pool2dShape& s) : Pool2dShape(s), Ho(s.out_h()), Wo(s.out_w()) {}
};

// Below 64K values the kernel runs on the calling thread: a fork/join (a few µs on idle
// cores) would cost more than it saves. 1M before 2026-12-06, tuned on shared cores where a
// join could cost a scheduler time slice; on a quiet machine it left cnn-beat's second
// thread idle (docs/PERFORMANCE.md).
constexpr int64_t kParallelValues = int64_t{1} << 16;

// The rule every window applies to each value in row-major order, PyTorch's
// `(val > maxval) || isnan(val)`: the first maximum wins ties, a NaN wins over numbers, and
// a later NaN over an earlier one (so the last NaN of a window gives the index).
template <class T>
inline bool takes_over(T v, T m) {
  return v > m || std::isnan(v);
}

#if defined(__AVX2__)
// Eight 2x2 windows at once (float): output columns [ow, ow + 8) of output row oh, whose
// top input row is r0 and bottom r1. Same rule as takes_over, as vector selects.
inline void pool2x2_avx2(const float* r0, const float* r1, int64_t ow, int64_t top, int64_t W,
                         float* y, int64_t* idx) {
  auto split = [](const float* r, __m256& even, __m256& odd) {
    const __m256 lo = _mm256_loadu_ps(r), hi = _mm256_loadu_ps(r + 8);
    // shuffle_ps works per 128-bit lane: fix the order of the 64-bit pairs afterwards.
    even = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))),
                              _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(
        _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))),
                              _MM_SHUFFLE(3, 1, 2, 0)));
  };
  __m256 a, b, d, e;
  split(r0 + 2 * ow, a, b);
  split(r1 + 2 * ow, d, e);
  __m256 m = a;
  __m256i k = _mm256_setzero_si256();  // offset of the winner inside the window
  auto take = [&](__m256 v, int64_t offset) {
    const __m256 t =
        _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    m = _mm256_blendv_ps(m, v, t);
    k = _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(k),
                         _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(offset))), t));
  };
  take(b, 1);
  take(d, W);
  take(e, W + 1);
  _mm256_storeu_ps(y + ow, m);
  // index = top + 2 (ow + lane) + offset, widened to int64
  const __m256i col = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(2 * ow)),
                                       _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
  const __m256i rel = _mm256_add_epi32(col, k);
  const __m256i base = _mm256_set1_epi64x(top);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + ow),
                      _mm256_add_epi64(base, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(rel))));
  _mm256_storeu_si256(
      reinterpret_cast<__m256i*>(idx + ow + 4),
      _mm256_add_epi64(base, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(rel, 1))));
}
#endif

// Max of one plane. Generic windows; the 2x2 / stride 2 / no-padding case (the study's
// pool 2) is unrolled and branch-free (selects instead of jumps: random data would
// mispredict every other comparison).
template <class T>
void pool_plane(const T* x, T* y, int64_t* idx, const G& g) {
  if (g.kh == 2 && g.kw == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
      g.pad_w == 0 && 2 * g.Ho <= g.H && 2 * g.Wo <= g.W) {
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const T* r0 = x + 2 * oh * g.W;
      const T* r1 = r0 + g.W;
      T* yr = y + oh * g.Wo;
      int64_t* ir = idx + oh * g.Wo;
      const int64_t top = 2 * oh * g.W;
      int64_t ow = 0;
#if defined(__AVX2__)
      if constexpr (std::is_same_v<T, float>)  // in-plane offsets fit int32 (checked below)
        if (g.H * g.W < (int64_t{1} << 31))
          for (; ow + 8 <= g.Wo; ow += 8) pool2x2_avx2(r0, r1, ow, top, g.W, yr, ir);
#endif
      for (; ow < g.Wo; ++ow) {
        const int64_t c = 2 * ow;
        const T a = r0[c], b = r0[c + 1], d = r1[c], e = r1[c + 1];
        T m = a;
        int64_t k = 0;  // 0, 1: top row; 2, 3: bottom row
        bool t = takes_over(b, m);
        m = t ? b : m, k = t ? 1 : k;
        t = takes_over(d, m);
        m = t ? d : m, k = t ? 2 : k;
        t = takes_over(e, m);
        m = t ? e : m, k = t ? 3 : k;
        yr[ow] = m;
        ir[ow] = top + c + (k & 1) + (k >> 1) * g.W;
      }
    }
    return;
  }
  for (int64_t oh = 0; oh < g.Ho; ++oh) {
    const int64_t h0 = std::max<int64_t>(oh * g.stride_h - g.pad_h, 0);
    const int64_t h1 = std::min<int64_t>(oh * g.stride_h - g.pad_h + g.kh, g.H);
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      const int64_t w0 = std::max<int64_t>(ow * g.stride_w - g.pad_w, 0);
      const int64_t w1 = std::min<int64_t>(ow * g.stride_w - g.pad_w + g.kw, g.W);
      T m = -std::numeric_limits<T>::infinity();
      int64_t best = h0 * g.W + w0;
      for (int64_t h = h0; h < h1; ++h)
        for (int64_t w = w0; w < w1; ++w) {
          const T v = x[h * g.W + w];
          const bool t = takes_over(v, m);
          m = t ? v : m, best = t ? h * g.W + w : best;
        }
      y[oh * g.Wo + ow] = m;
      idx[oh * g.Wo + ow] = best;
    }
  }
}

// Backward of K x K windows with stride K and no padding on one plane: every element of
// dst [H, W] is written once, gy at the window's argmax and zero elsewhere (selects, no
// branches).
template <int K, class T>
void scatter_tiles(const T* src, const int64_t* idx, T* dst, const G& g) {
  for (int64_t oh = 0; oh < g.Ho; ++oh) {
    const int64_t* io = idx + oh * g.Wo;
    const T* so = src + oh * g.Wo;
    T* rows = dst + K * oh * g.W;
    const int64_t top = K * oh * g.W;
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      const int64_t r = io[ow] - top - K * ow;  // i W + j for the winner at (i, j)
      const T v = so[ow];
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) rows[i * g.W + K * ow + j] = r == i * g.W + j ? v : T(0);
    }
    for (int i = 0; i < K; ++i) std::fill(rows + i * g.W + K * g.Wo, rows + (i + 1) * g.W, T(0));
  }
  std::fill(dst + K * g.Ho * g.W, dst + g.H * g.W, T(0));
}

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const Pool2dShape& shape) {
  const G g(shape);
  dispatch_floating(x.dtype(), "max_pool2d_forward", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pi = argmax.data<int64_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (g.planes() * in_plane >= kParallelValues)
    for (int64_t p = 0; p < g.planes(); ++p)
      pool_plane(px + p * in_plane, py + p * out_plane, pi + p * out_plane, g);
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                         const Pool2dShape& shape) {
  const G g(shape);
  // Windows that neither overlap nor leave gaps between them (stride = kernel, no padding):
  // each input element lies in at most one window, so one pass writes every element of
  // gx once (the gradient at the argmax, zero elsewhere, zero for rows and columns that
  // floor mode dropped). Otherwise gx is zero-filled and the gradients are added.
  const bool tiles = g.stride_h == g.kh && g.stride_w == g.kw && g.pad_h == 0 && g.pad_w == 0 &&
                     g.Ho * g.kh <= g.H && g.Wo * g.kw <= g.W;
  dispatch_floating(gy.dtype(), "max_pool2d_backward", [&]<class T>() {
    const T* pg = gy.data<T>();
    const int64_t* pi = argmax.data<int64_t>();
    T* px = gx.data<T>();
    const int64_t in_plane = g.H * g.W, out_plane = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (g.planes() * in_plane >= kParallelValues)
    for (int64_t p = 0; p < g.planes(); ++p) {
      T* dst = px + p * in_plane;
      const T* src = pg + p * out_plane;
      const int64_t* idx = pi + p * out_plane;
      if (!tiles) {
        std::fill(dst, dst + in_plane, T(0));
        for (int64_t k = 0; k < out_plane; ++k) dst[idx[k]] += src[k];
        continue;
      }
      if (g.kh == 2 && g.kw == 2) {  // the study's pools, branch-free
        scatter_tiles<2>(src, idx, dst, g);
        continue;
      }
      if (g.kh == 3 && g.kw == 3) {
        scatter_tiles<3>(src, idx, dst, g);
        continue;
      }
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t h = oh * g.kh + i;
          T* row = dst + h * g.W;
          for (int64_t ow = 0; ow < g.Wo; ++ow) {
            const int64_t at = idx[oh * g.Wo + ow] - h * g.W;  // column if in this row
            const T v = src[oh * g.Wo + ow];
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t w = ow * g.kw + j;
              row[w] = w == at ? v : T(0);
            }
          }
          std::fill(row + g.Wo * g.kw, row + g.W, T(0));
        }
      }
      std::fill(dst + g.Ho * g.kh * g.W, dst + in_plane, T(0));
    }
  });
}

// One avg-pooling window of output (oh, ow): the input rows [h0, h1) and columns [w0, w1)
// it covers and its divisor, the window clipped to the padded input (PyTorch's pool_size).
struct AvgWindow {
  int64_t h0, h1, w0, w1, divisor;
  AvgWindow(const G& g, int64_t oh, int64_t ow) {
    const int64_t hs = oh * g.stride_h - g.pad_h, ws = ow * g.stride_w - g.pad_w;
    const int64_t he = std::min(hs + g.kh, g.H + g.pad_h), we = std::min(ws + g.kw, g.W + g.pad_w);
    divisor = (he - hs) * (we - ws);
    h0 = std::max<int64_t>(hs, 0), h1 = std::min(he, g.H);
    w0 = std::max<int64_t>(ws, 0), w1 = std::min(we, g.W);
  }
};

void avg_pool2d_forward(const Tensor& x, const Tensor& y, const Pool2dShape& shape) {
  const G g(shape);
  dispatch_floating(x.dtype(), "avg_pool2d_forward", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t in_plane = g.H * g.W, out_plane = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (g.planes() * in_plane >= kParallelValues)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const T* src = px + p * in_plane;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const AvgWindow win(g, oh, ow);
          T sum = 0;
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) sum += src[h * g.W + w];
          py[p * out_plane + oh * g.Wo + ow] = sum / static_cast<T>(win.divisor);
        }
    }
  });
}

void avg_pool2d_backward(const Tensor& gy, const Tensor& gx, const Pool2dShape& shape) {
  const G g(shape);
  dispatch_floating(gy.dtype(), "avg_pool2d_backward", [&]<class T>() {
    const T* pg = gy.data<T>();
    T* px = gx.data<T>();
    const int64_t in_plane = g.H * g.W, out_plane = g.Ho * g.Wo;
#pragma omp parallel for schedule(static) if (g.planes() * in_plane >= kParallelValues)
    for (int64_t p = 0; p < g.planes(); ++p) {
      T* dst = px + p * in_plane;
      std::fill(dst, dst + in_plane, T(0));
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const AvgWindow win(g, oh, ow);
          const T v = pg[p * out_plane + oh * g.Wo + ow] / static_cast<T>(win.divisor);
          for (int64_t h = win.h0; h < win.h1; ++h)
            for (int64_t w = win.w0; w < win.w1; ++w) dst[h * g.W + w] += v;
        }
    }
  });
}

[[noreturn]] void unknown_kind(const char* fn, const Pool2dShape& shape) {
  throw std::invalid_argument(std::string(fn) + ": pool kind " +
                              std::to_string(static_cast<int>(shape.kind)) + " has no CPU kernel");
}

}  // namespace

void pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                    const Pool2dShape& shape) {
  switch (shape.kind) {
    case PoolKind::max:
      return max_pool2d_forward(x, y, argmax, shape);
    case PoolKind::avg:
      return avg_pool2d_forward(x, y, shape);
  }
  unknown_kind("pool2d_forward", shape);
}

void pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                     const Pool2dShape& shape) {
  switch (shape.kind) {
    case PoolKind::max:
      return max_pool2d_backward(gy, argmax, gx, shape);
    case PoolKind::avg:
      return avg_pool2d_backward(gy, gx, shape);
  }
  unknown_kind("pool2d_backward", shape);
}

}  // namespace melgrad::cpu
