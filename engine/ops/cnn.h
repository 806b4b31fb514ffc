// The CNN layers' fused ops, with PyTorch's semantics and output sizes:
//   ops/conv.cpp  conv2d       x [N, C, H, W], weight [O, C, kh, kw], bias [O] -> [N, O, Ho, Wo]
//                              Ho = (H + 2 ph - kh) / sh + 1 (floor), Wo likewise
//                 conv2d_relu  the same, then ReLU, fused
//   ops/pool.cpp  max_pool2d   x [N, C, H, W] (or [C, H, W]) -> [N, C, Ho, Wo]
//                              Ho = floor_or_ceil((H + 2 ph - kh) / sh) + 1; in ceil mode the
//                              last window must start inside the input or the left padding
//                 avg_pool2d   the same windows and sizes, averaged
//   ops/norm.cpp  batch_norm   x [N, C, ...] normalised per channel C
// Each op checks its arguments, describes the layer to the kernels with one shape struct
// (common/layer_shapes.h: Conv2dShape, Pool2dShape) and calls the layer kernels of the
// input's backend (engine/backend.h): one forward call, one call per gradient.
#pragma once

#include <array>
#include <cstdint>

#include "engine/tensor.h"

namespace melgrad {

// The user-facing arguments of conv2d (what PyTorch's Conv2d takes besides the tensors);
// the op turns them, with the tensors' sizes, into the kernels' Conv2dShape.
struct Conv2dOptions {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
};
// x [N, C, H, W], weight [O, C, kh, kw], bias [O] or undefined -> [N, O, Ho, Wo].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Conv2dOptions opt = {});
// relu(conv2d(x, weight, bias, opt)) as one op: the ReLU runs in the conv kernel's epilogue
// and its mask in the backward kernels (nn::Sequential uses it for Conv2d then ReLU).
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                   Conv2dOptions opt = {});

// The user-facing arguments of max_pool2d / avg_pool2d (PyTorch's MaxPool2d / AvgPool2d
// without dilation, divisor_override or count_include_pad=False); the op
// resolves the stride and turns them, with the input's sizes, into the kernels' Pool2dShape.
struct Pool2dOptions {
  std::array<int64_t, 2> kernel{1, 1};
  std::array<int64_t, 2> stride{0, 0};  // 0 = kernel
  std::array<int64_t, 2> padding{0, 0};
  bool ceil_mode = false;
};
// Max over each window; padding counts as -inf (at most half the kernel, as PyTorch).
// Ties go to the first maximum in row-major window order and NaN wins, the last NaN of a
// window giving the index (PyTorch's `(val > maxval) || isnan(val)`); the
// backward routes each gradient to the argmax index kept from the forward.
Tensor max_pool2d(const Tensor& x, Pool2dOptions opt);
// Mean over each window, padding counting as zeros (PyTorch's count_include_pad=True): the
// window's sum divided by the window clipped to the padded input, so ceil mode's last
// windows divide by less than kh * kw. The backward spreads gy / divisor over each window.
Tensor avg_pool2d(const Tensor& x, Pool2dOptions opt);

// x [N, C, ...]; weight/bias [C] or undefined; running_mean/var: pointers to [C] buffers or
// nullptr (track_running_stats=false).
// Uses batch statistics when training or when running stats are absent; in training with
// running stats, updates them in place like PyTorch:
//   running = (1 - momentum) * running + momentum * stat, with the unbiased batch variance;
// normalisation uses the biased variance. In eval with running stats, uses them.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor* running_mean,
                  Tensor* running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace melgrad
