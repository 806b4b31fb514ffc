// CPU kernels of 2-D max pooling (PyTorch's MaxPool2d without dilation), float and double.
//
//   x [N, C, H, W] -> y [N, C, Ho, Wo] and argmax [N, C, Ho, Wo] (int64: the flat index
//   h * W + w of the maximum inside its (n, c) plane, as PyTorch's return_indices).
//
// Windows start at oh * sh - ph and are clipped to the input (padding never wins). Ties go
// to the first maximum in row-major window order; NaN counts as the maximum (as PyTorch).
// The planes (n, c) are split over the OpenMP threads (inputs of >= 1M values). Tensors are
// contiguous; outputs are allocated by the caller.
// Their reference (plain loops, the tests compare with it): kernels/cnn_reference.h.
#pragma once

#include "common/layer_shapes.h"
#include "engine/tensor.h"

namespace melgrad::cpu {

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const Pool2dShape& shape);
// gx (overwritten) = the gradients gy routed to the argmax positions (summed where windows
// overlap).
void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                         const Pool2dShape& shape);

}  // namespace melgrad::cpu
