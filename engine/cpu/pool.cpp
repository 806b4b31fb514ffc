// CPU max-pooling kernels (see pool.h): x [planes, H, W] -> y, argmax [planes, Ho, Wo].
#include "engine/cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace melgrad::cpu {

namespace {

using G = Pool2dGeometry;

// Max of one plane. Generic windows; the 2x2 / stride 2 / no-padding case (the study's
// pool 2) is unrolled.
template <class T>
void pool_plane(const T* x, T* y, int64_t* idx, const G& g) {
  if (g.kh == 2 && g.kw == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 &&
      g.pad_w == 0 && 2 * g.Ho <= g.H && 2 * g.Wo <= g.W) {
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      const T* r0 = x + 2 * oh * g.W;
      const T* r1 = r0 + g.W;
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const int64_t c = 2 * ow;
        int64_t best = 2 * oh * g.W + c;
        T m = r0[c];
        // (v > m) || isnan(v) keeps the first maximum and lets NaN win.
        if (r0[c + 1] > m || std::isnan(r0[c + 1])) m = r0[c + 1], best = 2 * oh * g.W + c + 1;
        if (r1[c] > m || std::isnan(r1[c])) m = r1[c], best = (2 * oh + 1) * g.W + c;
        if (r1[c + 1] > m || std::isnan(r1[c + 1])) m = r1[c + 1], best = (2 * oh + 1) * g.W + c + 1;
        y[oh * g.Wo + ow] = m;
        idx[oh * g.Wo + ow] = best;
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
      // (v > m) || isnan(v): the first maximum wins, and the first NaN ends the scan.
      for (int64_t h = h0; h < h1 && !std::isnan(m); ++h)
        for (int64_t w = w0; w < w1 && !std::isnan(m); ++w) {
          const T v = x[h * g.W + w];
          if (v > m || std::isnan(v)) m = v, best = h * g.W + w;
        }
      y[oh * g.Wo + ow] = m;
      idx[oh * g.Wo + ow] = best;
    }
  }
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax, const G& g) {
  dispatch_floating(x.dtype(), "max_pool2d_forward", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    int64_t* pi = argmax.data<int64_t>();
    const int64_t in_plane = g.H * g.W, out_plane = g.Ho * g.Wo;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p)
      pool_plane(px + p * in_plane, py + p * out_plane, pi + p * out_plane, g);
  });
}

void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx, const G& g) {
  dispatch_floating(gy.dtype(), "max_pool2d_backward", [&]<class T>() {
    const T* pg = gy.data<T>();
    const int64_t* pi = argmax.data<int64_t>();
    T* px = gx.data<T>();
    const int64_t in_plane = g.H * g.W, out_plane = g.Ho * g.Wo;
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < g.planes; ++p) {
      T* dst = px + p * in_plane;
      std::fill(dst, dst + in_plane, T(0));
      const T* src = pg + p * out_plane;
      const int64_t* idx = pi + p * out_plane;
      for (int64_t k = 0; k < out_plane; ++k) dst[idx[k]] += src[k];
    }
  });
}

template <class T>
void max_pool2d_forward_reference(const T* x, T* y, int64_t* argmax, const G& g) {
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.Ho; ++oh)
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        T m = 0;
        int64_t best = -1;
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t h = oh * g.stride_h - g.pad_h + i, w = ow * g.stride_w - g.pad_w + j;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
            const T v = x[(p * g.H + h) * g.W + w];
            if (best < 0 || v > m) m = v, best = h * g.W + w;
          }
        y[(p * g.Ho + oh) * g.Wo + ow] = m;
        argmax[(p * g.Ho + oh) * g.Wo + ow] = best;
      }
}

template void max_pool2d_forward_reference<float>(const float*, float*, int64_t*, const G&);
template void max_pool2d_forward_reference<double>(const double*, double*, int64_t*, const G&);

}  // namespace melgrad::cpu
