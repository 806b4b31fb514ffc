// CPU kernels of 2-D max pooling (PyTorch's MaxPool2d without dilation), float and double.
//
//   x [N, C, H, W] -> y [N, C, Ho, Wo] and argmax [N, C, Ho, Wo] (int64: the flat index
//   h * W + w of the maximum inside its (n, c) plane, as PyTorch's return_indices).
//
// Windows start at oh * sh - ph and are clipped to the input (padding never wins). Ties go
// to the first maximum in row-major window order; NaN counts as the maximum (as PyTorch).
// The planes (n, c) are split over the OpenMP threads (inputs of >= 1M values). Tensors are
// contiguous; outputs are allocated by the caller.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace melgrad::cpu {

struct Pool2dGeometry {
  int64_t planes = 0, H = 0, W = 0;  // planes = N * C
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int64_t Ho = 0, Wo = 0;
};

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const Pool2dGeometry& g);
// gx (overwritten) = the gradients gy routed to the argmax positions (summed where windows
// overlap).
void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                         const Pool2dGeometry& g);

// Plain loops over raw contiguous buffers, for the tests.
template <class T>
void max_pool2d_forward_reference(const T* x, T* y, int64_t* argmax, const Pool2dGeometry& g);

}  // namespace melgrad::cpu
