// 2-D convolution (cross-correlation, PyTorch's Conv2d without dilation or groups) for
// contiguous float32 NCHW tensors, forward and both backward passes:
//   x  [N, C, H, W]     weight [O, C, kh, kw]     bias [O] (optional)
//   y  [N, O, Ho, Wo]   Ho = (H + 2 pad_h - kh) / stride_h + 1,  Wo likewise (floor)
//   forward:          y  = conv(x, weight) + bias, optionally ReLU'd (fused epilogue)
//   backward-data:    dx = d(sum(y * dy)) / dx            (overwritten)
//   backward-filter:  dweight, dbias = gradients of weight and bias (each optional, overwritten)
// With `relu_y` set, the backward passes treat dy as the gradient w.r.t. relu(conv + bias)
// whose output is relu_y, i.e. they use dy * (relu_y > 0): the fused ReLU's backward.
//
// Kernels (kernels/conv.cu, kernels/conv_backward.cu): implicit GEMM, the im2col matrix is
// never materialised; tiles of it are gathered into shared memory as the K loop runs:
//   forward         [O, K] x [K, N*Ho*Wo]   K = C kh kw
//   backward-data   [C, K] x [K, N*H*W]     K = O kh kw   (gathers dy through the stride)
//   backward-filter [O, N*Ho*Wo] x [N*Ho*Wo, C kh kw + 1]  split over K, partial tiles
//                   summed in a fixed order (deterministic); the extra column is dbias.
// Each has a variant compiled for 3x3 / stride 1 / padding 1 (the study's layers) and a
// general one; the single-input-channel first layer (C == 1, O <= 32) has direct kernels
// for forward and backward-filter (an implicit GEMM with K = 9 would idle its tiles).
// ConvAlgo forces one of them (tests, benchmarks); automatic picks by shape.
//
// Implementations (DnnImpl, see kernels/cudnn.h): melgrad (these kernels; the only one in
// the emulator build) or cudnn (the reference and fast path of the nvcc build), per call
// or for the process through MELGRAD_CONV=melgrad|cudnn.
// Launchers validate (std::invalid_argument naming the launcher and field) and launch on
// `stream`. Tensors must each hold fewer than 2^31 elements. The CPU references (plain
// loops, double accumulation) are in kernels/cnn_reference.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/layer_shapes.h"
#include "kernels/cudnn.h"
#include "kernels/runtime.h"

namespace melgrad::kernels {

// The convolution's shape: common/layer_shapes.h (the engine's and the CPU kernels' too).
using melgrad::Conv2dShape;

enum class ConvAlgo : int {
  automatic,      // by shape: first_layer for C == 1 (O <= 32), 3x3 when it applies, else general
  implicit_gemm,  // the general implicit-GEMM kernels (any kernel, stride, padding)
  implicit_gemm_3x3,  // compiled for 3x3 / stride 1 / padding 1 (other shapes: rejected)
  first_layer,        // C == 1, O <= kConvFirstLayerMaxO (forward and backward-filter only)
};
constexpr int64_t kConvFirstLayerMaxO = 32;

struct Conv2dForwardParams {
  const float* x = nullptr;
  const float* weight = nullptr;
  const float* bias = nullptr;  // optional
  float* y = nullptr;
  Conv2dShape shape;
  bool relu = false;  // y = max(conv + bias, 0): the fused epilogue
  DnnImpl impl = DnnImpl::automatic;
  // cudnn only: run bit-reproducible algorithms (the engine passes its determinism setting,
  // engine/determinism.h); false lets cuDNN run its fastest. The melgrad kernels always are.
  bool deterministic = true;
  ConvAlgo algo = ConvAlgo::automatic;  // melgrad only
};

struct Conv2dBackwardDataParams {
  const float* dy = nullptr;      // [N, O, Ho, Wo]
  const float* weight = nullptr;  // [O, C, kh, kw]
  const float* relu_y = nullptr;  // optional: the fused forward's output (masks dy)
  float* dx = nullptr;            // [N, C, H, W]
  Conv2dShape shape;
  DnnImpl impl = DnnImpl::automatic;
  ConvAlgo algo = ConvAlgo::automatic;  // melgrad: automatic, implicit_gemm, implicit_gemm_3x3
  bool deterministic = true;            // as in Conv2dForwardParams
};

struct Conv2dBackwardFilterParams {
  const float* x = nullptr;       // [N, C, H, W]
  const float* dy = nullptr;      // [N, O, Ho, Wo]
  const float* relu_y = nullptr;  // optional: the fused forward's output (masks dy)
  float* dweight = nullptr;       // [O, C, kh, kw], optional
  float* dbias = nullptr;         // [O], optional
  Conv2dShape shape;
  // Scratch for the split-K partial sums (conv2d_backward_filter_workspace_bytes). When
  // null and some is needed, the launcher allocates and frees it itself (slower).
  float* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  int split_k = 0;  // melgrad: K splits, 0 = chosen by shape (tests force several)
  DnnImpl impl = DnnImpl::automatic;
  ConvAlgo algo = ConvAlgo::automatic;
  bool deterministic = true;  // as in Conv2dForwardParams
};

void conv2d_forward(const Conv2dForwardParams& p, Stream stream = nullptr);
void conv2d_backward_data(const Conv2dBackwardDataParams& p, Stream stream = nullptr);
void conv2d_backward_filter(const Conv2dBackwardFilterParams& p, Stream stream = nullptr);
// Scratch bytes conv2d_backward_filter needs for p (its implementation and split).
std::size_t conv2d_backward_filter_workspace_bytes(const Conv2dBackwardFilterParams& p);

// What DnnImpl::automatic resolves to for convolutions (MELGRAD_CONV, read once).
DnnImpl default_conv_impl();

}  // namespace melgrad::kernels
