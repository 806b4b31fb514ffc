// The CPU references of the CNN layer kernels: the textbook loops, with double
// accumulation, on contiguous host buffers of float or double. One reference per kernel:
// the CUDA kernels' emulator tests (tests/kernels/test_{conv,pool}.cpp) and the CPU
// backend's kernel tests (tests/ops/test_cnn_kernels.cpp) both compare with these.
//   conv2d     x [N, C, H, W], weight [O, C, kh, kw], bias [O] -> y [N, O, Ho, Wo]
//              relu: y = max(conv + bias, 0); a non-null relu_y (that fused output) makes
//              the backward passes read dy as dy * (relu_y > 0)
//   pool2d     x [N, C, H, W] -> y [N, C, Ho, Wo], shape.kind's reduction of each window
//              (pool2d_forward_reference / pool2d_backward_reference pick the kind's pair):
//   max_pool2d and argmax [N, C, Ho, Wo] (int64 h * W + w in the plane); windows clipped to
//              the input, the first maximum in row-major window order, a NaN is the maximum
//              and the last NaN gives the index (PyTorch's rule)
//   avg_pool2d the sum over the window clipped to the input, divided by the window clipped
//              to the padded input [-pad, H + pad) (PyTorch's count_include_pad=True, so
//              ceil mode's last windows divide by less than kh * kw); no argmax
// Optional outputs and inputs (bias, relu_y, dweight, dbias, argmax) may be null. Header-only
// (templates), so that tests of either side include it without linking the kernels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/layer_shapes.h"

namespace melgrad::kernels {

namespace reference_detail {

// Calls f(x index, weight index, y index) for every term of the convolution sum.
template <class F>
void for_each_conv_term(const Conv2dShape& s, F&& f) {
  const int64_t Ho = s.out_h(), Wo = s.out_w();
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t o = 0; o < s.O; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow)
          for (int64_t c = 0; c < s.C; ++c)
            for (int64_t i = 0; i < s.kh; ++i)
              for (int64_t j = 0; j < s.kw; ++j) {
                const int64_t ih = oh * s.stride_h - s.pad_h + i,
                              iw = ow * s.stride_w - s.pad_w + j;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                f(((n * s.C + c) * s.H + ih) * s.W + iw, ((o * s.C + c) * s.kh + i) * s.kw + j,
                  ((n * s.O + o) * Ho + oh) * Wo + ow);
              }
}

// dy with the fused ReLU's mask applied (relu_y > 0), in double.
template <class T>
std::vector<double> masked_dy(const T* dy, const T* relu_y, const Conv2dShape& s) {
  std::vector<double> g(static_cast<std::size_t>(s.N * s.O * s.out_h() * s.out_w()));
  for (std::size_t i = 0; i < g.size(); ++i)
    g[i] = relu_y != nullptr && !(relu_y[i] > T(0)) ? 0.0 : double(dy[i]);
  return g;
}

template <class T>
void store(const std::vector<double>& v, T* out) {
  if (out == nullptr) return;
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
}

}  // namespace reference_detail

template <class T>
void conv2d_forward_reference(const T* x, const T* weight, const T* bias, T* y,
                              const Conv2dShape& s, bool relu = false) {
  const int64_t hw = s.out_h() * s.out_w();
  std::vector<double> acc(static_cast<std::size_t>(s.N * s.O * hw), 0.0);
  reference_detail::for_each_conv_term(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[static_cast<std::size_t>(yi)] += double(x[xi]) * double(weight[wi]);
  });
  for (std::size_t i = 0; i < acc.size(); ++i) {
    if (bias != nullptr) acc[i] += double(bias[(static_cast<int64_t>(i) / hw) % s.O]);
    if (relu && acc[i] < 0.0) acc[i] = 0.0;
  }
  reference_detail::store(acc, y);
}

// dx [N, C, H, W] = d(sum(y * dy)) / dx.
template <class T>
void conv2d_backward_data_reference(const T* dy, const T* relu_y, const T* weight, T* dx,
                                    const Conv2dShape& s) {
  const std::vector<double> g = reference_detail::masked_dy(dy, relu_y, s);
  std::vector<double> acc(static_cast<std::size_t>(s.N * s.C * s.H * s.W), 0.0);
  reference_detail::for_each_conv_term(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[static_cast<std::size_t>(xi)] += g[static_cast<std::size_t>(yi)] * double(weight[wi]);
  });
  reference_detail::store(acc, dx);
}

// dweight [O, C, kh, kw] and dbias [O] (either null: skipped).
template <class T>
void conv2d_backward_filter_reference(const T* x, const T* dy, const T* relu_y, T* dweight,
                                      T* dbias, const Conv2dShape& s) {
  const std::vector<double> g = reference_detail::masked_dy(dy, relu_y, s);
  std::vector<double> dw(static_cast<std::size_t>(s.O * s.C * s.kh * s.kw), 0.0),
      db(static_cast<std::size_t>(s.O), 0.0);
  reference_detail::for_each_conv_term(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    dw[static_cast<std::size_t>(wi)] += g[static_cast<std::size_t>(yi)] * double(x[xi]);
  });
  const int64_t hw = s.out_h() * s.out_w();
  for (std::size_t i = 0; i < g.size(); ++i)
    db[static_cast<std::size_t>((static_cast<int64_t>(i) / hw) % s.O)] += g[i];
  reference_detail::store(dw, dweight);
  reference_detail::store(db, dbias);
}

template <class T>
void max_pool2d_forward_reference(const T* x, T* y, int64_t* argmax, const Pool2dShape& s) {
  const int64_t Ho = s.out_h(), Wo = s.out_w();
  for (int64_t plane = 0; plane < s.planes(); ++plane) {
    const T* xp = x + plane * s.H * s.W;
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t h0 = std::max<int64_t>(oh * s.stride_h - s.pad_h, 0);
        const int64_t h1 = std::min<int64_t>(oh * s.stride_h - s.pad_h + s.kh, s.H);
        const int64_t w0 = std::max<int64_t>(ow * s.stride_w - s.pad_w, 0);
        const int64_t w1 = std::min<int64_t>(ow * s.stride_w - s.pad_w + s.kw, s.W);
        T m = -std::numeric_limits<T>::infinity();
        int64_t best = h0 * s.W + w0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const T v = xp[h * s.W + w];
            if (v > m || std::isnan(v)) m = v, best = h * s.W + w;
          }
        const int64_t o = (plane * Ho + oh) * Wo + ow;
        y[o] = m;
        if (argmax != nullptr) argmax[o] = best;
      }
  }
}

// dx [N, C, H, W] = dy routed to the argmax positions, summed where windows overlap.
template <class T>
void max_pool2d_backward_reference(const T* dy, const int64_t* argmax, T* dx,
                                   const Pool2dShape& s) {
  const int64_t in_hw = s.H * s.W, out_hw = s.out_h() * s.out_w();
  for (int64_t plane = 0; plane < s.planes(); ++plane) {
    T* dxp = dx + plane * in_hw;
    std::fill(dxp, dxp + in_hw, T(0));
    for (int64_t k = 0; k < out_hw; ++k) dxp[argmax[plane * out_hw + k]] += dy[plane * out_hw + k];
  }
}

// Calls f(window's first input row, last + 1, first column, last + 1, divisor, y index) for
// every window of avg pooling, in (plane, oh, ow) order.
template <class F>
void for_each_avg_window(const Pool2dShape& s, F&& f) {
  const int64_t Ho = s.out_h(), Wo = s.out_w();
  for (int64_t plane = 0; plane < s.planes(); ++plane)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const int64_t hs = oh * s.stride_h - s.pad_h, ws = ow * s.stride_w - s.pad_w;
        const int64_t he = std::min(hs + s.kh, s.H + s.pad_h),
                      we = std::min(ws + s.kw, s.W + s.pad_w);
        f(plane, std::max<int64_t>(hs, 0), std::min(he, s.H), std::max<int64_t>(ws, 0),
          std::min(we, s.W), double((he - hs) * (we - ws)), (plane * Ho + oh) * Wo + ow);
      }
}

template <class T>
void avg_pool2d_forward_reference(const T* x, T* y, const Pool2dShape& s) {
  for_each_avg_window(s, [&](int64_t plane, int64_t h0, int64_t h1, int64_t w0, int64_t w1,
                             double divisor, int64_t o) {
    double sum = 0.0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += double(x[(plane * s.H + h) * s.W + w]);
    y[o] = static_cast<T>(sum / divisor);
  });
}

// dx [N, C, H, W]: every window spreads dy / divisor over its input elements.
template <class T>
void avg_pool2d_backward_reference(const T* dy, T* dx, const Pool2dShape& s) {
  std::vector<double> acc(static_cast<std::size_t>(s.planes() * s.H * s.W), 0.0);
  for_each_avg_window(s, [&](int64_t plane, int64_t h0, int64_t h1, int64_t w0, int64_t w1,
                             double divisor, int64_t o) {
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w)
        acc[static_cast<std::size_t>((plane * s.H + h) * s.W + w)] += double(dy[o]) / divisor;
  });
  reference_detail::store(acc, dx);
}

// Every PoolKind's reference through one pair; argmax is written (forward) and read
// (backward) only for the kinds that keep indices (Pool2dShape::has_indices()).
template <class T>
void pool2d_forward_reference(const T* x, T* y, int64_t* argmax, const Pool2dShape& s) {
  switch (s.kind) {
    case PoolKind::max:
      return max_pool2d_forward_reference(x, y, argmax, s);
    case PoolKind::avg:
      return avg_pool2d_forward_reference(x, y, s);
  }
}

template <class T>
void pool2d_backward_reference(const T* dy, const int64_t* argmax, T* dx, const Pool2dShape& s) {
  switch (s.kind) {
    case PoolKind::max:
      return max_pool2d_backward_reference(dy, argmax, dx, s);
    case PoolKind::avg:
      return avg_pool2d_backward_reference(dy, dx, s);
  }
}

}  // namespace melgrad::kernels
