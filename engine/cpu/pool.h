// CPU kernels of 2-D pooling (PyTorch's pooling without dilation), float and double, one
// pair for every PoolKind (common/layer_shapes.h; each kind's rules in engine/cpu/pool.cpp):
//
//   x [N, C, H, W] -> y [N, C, Ho, Wo], and for the kinds that keep indices (max) argmax
//   [N, C, Ho, Wo] (int64: the flat index h * W + w inside its (n, c) plane, as PyTorch's
//   return_indices); argmax is undefined for the other kinds.
//
// The planes (n, c) are split over the OpenMP threads (inputs of >= 64K values). Tensors are
// contiguous; outputs are allocated by the caller.
// Their reference (plain loops, the tests compare with it): kernels/cnn_reference.h.
#pragma once

#include "common/layer_shapes.h"
#include "engine/tensor.h"

namespace melgrad::cpu {

void pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                    const Pool2dShape& shape);
// gx (overwritten) = d(sum(y * gy)) / dx (max: gy routed to the argmax positions, summed
// where windows overlap).
void pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                     const Pool2dShape& shape);

}  // namespace melgrad::cpu
