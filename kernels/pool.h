// 2-D max pooling (PyTorch's MaxPool2d without dilation) for contiguous float32 planes:
//   x [N, C, H, W] -> y [N, C, Ho, Wo], argmax [N, C, Ho, Wo] (int64: the flat index
//   h * W + w of the window's maximum inside its (n, c) plane, as return_indices)
//   Ho = floor((H + 2 pad_h - kh) / stride_h) + 1                       floor mode
//   Ho = ceil((H + 2 pad_h - kh) / stride_h) + 1, minus one if that last window would start
//        at or beyond H + pad_h                                         ceil mode
// Windows are clipped to the input (padding never wins; padding <= kernel / 2). Ties go to
// the first maximum in row-major window order; a NaN is the maximum and the last NaN of
// the window gives the index (PyTorch's `(val > maxval) || isnan(val)`, as engine/cpu/pool.cpp).
// Backward: dx[plane, idx] = sum of dy over the windows whose argmax is idx, gathered per
// input element in (oh, ow) order: deterministic, no atomics.
//
// Implementations (kernels/cudnn.h, MELGRAD_POOL=melgrad|cudnn): melgrad (kernels/pool.cu)
// or cudnn. cuDNN gives no indices (forward with argmax != nullptr, or a backward given
// only argmax, runs melgrad) and no ceil mode (unless it changes nothing); its backward
// recomputes the maxima from x and y, and on ties may route the gradient differently.
// Launchers validate (std::invalid_argument); the CPU references: kernels/cnn_reference.h.
#pragma once

#include <cstdint>

#include "common/layer_shapes.h"
#include "kernels/cudnn.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

// The pooling's shape: common/layer_shapes.h (the engine's and the CPU kernels' too).
using melgrad::Pool2dShape;

struct MaxPool2dForwardParams {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t* argmax = nullptr;  // required by melgrad; must be null for cudnn
  Pool2dShape shape;
  DnnImpl impl = DnnImpl::automatic;
};

struct MaxPool2dBackwardParams {
  const float* dy = nullptr;        // [N, C, Ho, Wo]
  const int64_t* argmax = nullptr;  // melgrad: the forward's indices
  const float* x = nullptr;         // cudnn: the forward's input and output
  const float* y = nullptr;
  float* dx = nullptr;  // [N, C, H, W], overwritten
  Pool2dShape shape;
  DnnImpl impl = DnnImpl::automatic;
};

void max_pool2d_forward(const MaxPool2dForwardParams& p, Stream stream = nullptr);
void max_pool2d_backward(const MaxPool2dBackwardParams& p, Stream stream = nullptr);

// What DnnImpl::automatic resolves to for pooling (MELGRAD_POOL, read once).
DnnImpl default_pool_impl();

}  // namespace melgrad::kernels
