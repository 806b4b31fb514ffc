// The shapes of the CNN layer kernels: one description per layer kind, shared by the CPU
// kernels (engine/cpu), both backends (engine/backend.h) and the CUDA kernels (kernels/).
// The ops (engine/ops/cnn.h) check their arguments and build these; kernels take them as
// they are (all sizes >= 1, output sizes from the methods below).
//
//   Conv2dShape  x [N, C, H, W], weight [O, C, kh, kw] -> y [N, O, Ho, Wo]
//                Ho = (H + 2 pad_h - kh) / stride_h + 1 (floor), Wo likewise
//                (PyTorch's Conv2d without dilation or groups)
//   Pool2dShape  x [N, C, H, W] -> y [N, C, Ho, Wo], window kh x kw
//                Ho = floor((H + 2 pad_h - kh) / stride_h) + 1                  floor mode
//                Ho = ceil((H + 2 pad_h - kh) / stride_h) + 1, minus one if that last window
//                     would start at or beyond H + pad_h                         ceil mode
//                (PyTorch's pooling_output_shape without dilation)
//                kind: the window's reduction (PoolKind); each kind's rule, forward and
//                backward, is spelled out by its reference in kernels/cnn_reference.h
// Header-only, no dependencies: include it from anywhere.
#pragma once

#include <cstdint>

namespace melgrad {

struct Conv2dShape {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t O = 0, kh = 0, kw = 0;       // weight [O, C, kh, kw]
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;

  int64_t out_h() const { return (H + 2 * pad_h - kh) / stride_h + 1; }
  int64_t out_w() const { return (W + 2 * pad_w - kw) / stride_w + 1; }
  bool is_3x3_s1_p1() const {
    return kh == 3 && kw == 3 && stride_h == 1 && stride_w == 1 && pad_h == 1 && pad_w == 1;
  }
};

// The reductions a pooling window can apply. A new kind is an enumerator here, a name and
// an entry in kPoolKinds (which the kernel tests and benchmarks walk), and its kernels.
// max: the largest value (and its index); avg: the mean over the window, counting padding
// (PyTorch's count_include_pad=True), i.e. divided by the window clipped to the padded input.
enum class PoolKind { max, avg };
inline constexpr PoolKind kPoolKinds[] = {PoolKind::max, PoolKind::avg};
inline const char* pool_kind_name(PoolKind kind) {
  switch (kind) {
    case PoolKind::max:
      return "max";
    case PoolKind::avg:
      return "avg";
  }
  return "unknown";
}

struct Pool2dShape {
  int64_t N = 0, C = 0, H = 0, W = 0;  // a [C, H, W] input is N = 1
  int64_t kh = 1, kw = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  bool ceil_mode = false;
  PoolKind kind = PoolKind::max;

  // Whether the forward keeps each window's argmax for the backward (int64 h * W + w in the
  // plane); the other kinds' backward needs only the shape.
  bool has_indices() const { return kind == PoolKind::max; }
  int64_t planes() const { return N * C; }
  int64_t out_h() const { return pooled_size(H, kh, stride_h, pad_h, ceil_mode); }
  int64_t out_w() const { return pooled_size(W, kw, stride_w, pad_w, ceil_mode); }
  // PyTorch's pooling_output_shape without dilation.
  static int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode) {
    const int64_t num = in + 2 * p - k + (ceil_mode ? s - 1 : 0);
    int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil_mode && (out - 1) * s >= in + p) --out;
    return out;
  }
};

}  // namespace melgrad
