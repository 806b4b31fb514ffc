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
// Their reference (plain loops, the tests compare with it): kernels/cnn_reference.h.
#pragma once

#include "common/layer_shapes.h"
#include "engine/tensor.h"

namespace melgrad::cpu {

// y = conv(x, weight) + bias; bias may be undefined. relu: y = max(y, 0), applied to each
// panel of outputs as it is written (conv2d_relu's fused epilogue).
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                    const Conv2dShape& shape, bool relu = false);
// The backward passes take relu_y, conv2d_relu's output, or undefined (plain conv2d): when
// defined, gy is read as gy * (relu_y > 0), the fused ReLU's backward (the product with
// the 0/1 mask, as relu's own backward computes it, so the gradients equal those of conv2d
// then relu bit for bit).
// gx = d(sum(y * gy)) / dx (overwritten).
void conv2d_backward_input(const Tensor& gy, const Tensor& relu_y, const Tensor& weight,
                           const Tensor& gx, const Conv2dShape& shape);
// gw, gb (either may be undefined) = gradients of weight and bias (overwritten).
// Deterministic for a fixed thread count (per-thread partial sums added in thread order).
void conv2d_backward_weight(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                            const Tensor& gw, const Tensor& gb, const Conv2dShape& shape);

}  // namespace melgrad::cpu
