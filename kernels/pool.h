// 2-D pooling (PyTorch's pooling without dilation) for contiguous float32 planes, every
// PoolKind (common/layer_shapes.h) through one launcher pair:
//   x [N, C, H, W] -> y [N, C, Ho, Wo], and for the kinds that keep indices
//   (Pool2dShape::has_indices(): max) argmax [N, C, Ho, Wo] (int64: the flat index h * W + w
//   of the window's winner inside its (n, c) plane, as return_indices)
//   Ho: Pool2dShape::out_h() (floor or ceil mode, padding <= kernel / 2)
// Each kind's window rule: kernels/pool.cu's header and its CPU reference in
// kernels/cnn_reference.h. Backward: dx from dy (and argmax where kept), gathered per input
// element in (oh, ow) order: deterministic, no atomics.
//
// Implementations (kernels/cudnn.h, MELGRAD_POOL=melgrad|cudnn): melgrad (kernels/pool.cu)
// or cudnn, for max pooling only. cuDNN gives no indices (forward with argmax != nullptr, or
// a backward given only argmax, runs melgrad) and no ceil mode (unless it changes nothing);
// its backward recomputes the maxima from x and y, and on ties may route the gradient
// differently. Launchers validate (std::invalid_argument).
#pragma once

#include <cstdint>

#include "common/layer_shapes.h"
#include "kernels/cudnn.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

// The pooling's shape: common/layer_shapes.h (the engine's and the CPU kernels' too).
using melgrad::Pool2dShape;

struct Pool2dForwardParams {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t* argmax = nullptr;  // kinds with indices: required by melgrad, null for cudnn
  Pool2dShape shape;
  DnnImpl impl = DnnImpl::automatic;
};

struct Pool2dBackwardParams {
  const float* dy = nullptr;        // [N, C, Ho, Wo]
  const int64_t* argmax = nullptr;  // melgrad, kinds with indices: the forward's
  const float* x = nullptr;         // cudnn (max): the forward's input and output
  const float* y = nullptr;
  float* dx = nullptr;  // [N, C, H, W], overwritten
  Pool2dShape shape;
  DnnImpl impl = DnnImpl::automatic;
};

void pool2d_forward(const Pool2dForwardParams& p, Stream stream = nullptr);
void pool2d_backward(const Pool2dBackwardParams& p, Stream stream = nullptr);

// What DnnImpl::automatic resolves to for pooling (MELGRAD_POOL, read once).
DnnImpl default_pool_impl();

}  // namespace melgrad::kernels
