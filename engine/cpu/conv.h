// CPU kernels of 2-D convolution (cross-correlation, as PyTorch's Conv2d), float and double.
//
//   x  [N, C, H, W]      weight [O, C, kh, kw]      bias [O] (optional)
//   y  [N, O, Ho, Wo]    Ho = (H + 2 ph - kh) / sh + 1,  Wo = (W + 2 pw - kw) / sw + 1
//
// Fast path: im2col + GEMM (Eigen) over panels of output columns: blocks of output rows of
// one image (sized so that the column buffer stays in L2 when K is small), or, when an
// image has few output pixels (the deep layers), several whole images per GEMM, so that
// every GEMM is at least ~1024 columns wide. The batch is split over the OpenMP threads in
// contiguous shares (one parallel region per call, single-threaded GEMMs inside); a batch
// smaller than the thread count runs on the calling thread. A single-input-
// channel layer (C == 1, the first layer of the study's CNN) takes a direct path instead
// (im2col would blow 1 channel up kh*kw times for a GEMM with K = 9).
// All tensors given to these kernels are contiguous; outputs are allocated by the caller.
// The *_reference functions are plain loops, kept for the tests.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace melgrad::cpu {

struct Conv2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t O = 0, kh = 0, kw = 0;       // weight
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t Ho = 0, Wo = 0;              // output
};

// y = conv(x, weight) + bias; bias may be undefined. relu: y = max(y, 0), applied to each
// panel of outputs as it is written (conv2d_relu's fused epilogue).
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dGeometry& g, bool relu = false);
// gx = d(sum(y * gy)) / dx (overwritten).
void conv2d_backward_input(const Tensor& gy, const Tensor& weight, const Tensor& gx,
                           const Conv2dGeometry& g);
// gw, gb (either may be undefined) = gradients of weight and bias (overwritten).
// Deterministic for a fixed thread count (per-thread partial sums added in thread order).
void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Tensor& gw,
                            const Tensor& gb, const Conv2dGeometry& g);

// Naive loops over raw contiguous buffers (b, gx, gw, gb may be null).
template <class T>
void conv2d_forward_reference(const T* x, const T* w, const T* b, T* y, const Conv2dGeometry& g);
template <class T>
void conv2d_backward_reference(const T* x, const T* w, const T* gy, T* gx, T* gw, T* gb,
                               const Conv2dGeometry& g);

}  // namespace melgrad::cpu
