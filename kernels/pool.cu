// Pooling kernels (kernels/pool.h): x [N, C, H, W] -> y [N, C, Ho, Wo] (max: and argmax),
// and the backward dx [N, C, H, W] (CPU references: kernels/cnn_reference.h), per PoolKind:
//   max_pool_forward:  one thread per output element (grid-stride), the window clipped to
//                      the input, scanned row-major with (v > m || isnan(v)), PyTorch's
//                      rule (the last NaN wins): engine/cpu/pool.cpp's, bit for bit.
//   max_pool_backward: one thread per input element gathers dy from the windows that
//                      contain it and chose it, in (oh, ow) order: the CPU scatter's order
//                      of additions, so overlapping windows give the same sums, without
//                      atomics.
//   avg_pool_forward:  one thread per output element, the window clipped to the input summed
//                      row-major in float, divided by the window clipped to the padded
//                      input (count_include_pad): engine/cpu/pool.cpp's float32, bit for bit.
//   avg_pool_backward: one thread per input element gathers dy / divisor from the windows
//                      that contain it, in (oh, ow) order: the CPU scatter's sums.
// clang-format off: the CUDA / emulator shim comes first
#include "kernels/emu/cuda_compat.h"
// clang-format on
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cudnn_layers.h"
#include "kernels/launch_checks.h"
#include "kernels/pool.h"

namespace melgrad::kernels {
namespace {

constexpr int kThreads = 256;

struct PoolArgs {
  int H, W, Ho, Wo, kh, kw, sh, sw, ph, pw;
};

PoolArgs pool_args(const Pool2dShape& s) {
  return {static_cast<int>(s.H),        static_cast<int>(s.W),        static_cast<int>(s.out_h()),
          static_cast<int>(s.out_w()),  static_cast<int>(s.kh),       static_cast<int>(s.kw),
          static_cast<int>(s.stride_h), static_cast<int>(s.stride_w), static_cast<int>(s.pad_h),
          static_cast<int>(s.pad_w)};
}

// Output element e of the pooled planes [planes, Ho, Wo]: its plane, its position (oh, ow)
// and its window's input rows [h0, h1) and columns [w0, w1), clipped to the input.
struct OutputWindow {
  int64_t plane;
  int oh, ow, h0, h1, w0, w1;
};
__device__ __forceinline__ OutputWindow output_window(int64_t e, const PoolArgs& a) {
  const int hw = a.Ho * a.Wo;
  const int64_t plane = e / hw;
  const int rem = static_cast<int>(e - plane * hw), oh = rem / a.Wo, ow = rem - oh * a.Wo;
  return {plane,
          oh,
          ow,
          max(oh * a.sh - a.ph, 0),
          min(oh * a.sh - a.ph + a.kh, a.H),
          max(ow * a.sw - a.pw, 0),
          min(ow * a.sw - a.pw + a.kw, a.W)};
}

// Input element e of the planes [planes, H, W]: its plane, its index h * W + w in the
// plane, and the output rows [oh0, oh1] and columns [ow0, ow1] whose windows
// [oh sh - ph, oh sh - ph + kh) x [ow sw - pw, ow sw - pw + kw) contain it.
struct WindowsCovering {
  int64_t plane;
  int idx, oh0, oh1, ow0, ow1;
};
__device__ __forceinline__ WindowsCovering windows_covering(int64_t e, const PoolArgs& a) {
  const int in_hw = a.H * a.W;
  const int64_t plane = e / in_hw;
  const int idx = static_cast<int>(e - plane * in_hw), h = idx / a.W, w = idx - h * a.W;
  return {plane,
          idx,
          max(0, (h + a.ph - a.kh + a.sh) / a.sh),
          min(a.Ho - 1, (h + a.ph) / a.sh),
          max(0, (w + a.pw - a.kw + a.sw) / a.sw),
          min(a.Wo - 1, (w + a.pw) / a.sw)};
}

__global__ void __launch_bounds__(kThreads)
    max_pool_forward(const float* x, float* y, int64_t* argmax, int64_t total, PoolArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const OutputWindow win = output_window(e, a);
    const float* xp = x + win.plane * a.H * a.W;
    float m = -INFINITY;
    int best = win.h0 * a.W + win.w0;
    for (int h = win.h0; h < win.h1; ++h) {
      for (int w = win.w0; w < win.w1; ++w) {
        const float v = xp[h * a.W + w];
        if (v > m || v != v) {  // PyTorch's rule: a later NaN replaces an earlier one
          m = v;
          best = h * a.W + w;
        }
      }
    }
    y[e] = m;
    argmax[e] = best;
  }
}

__global__ void __launch_bounds__(kThreads)
    max_pool_backward(const float* dy, const int64_t* argmax, float* dx, int64_t total,
                      PoolArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const WindowsCovering cover = windows_covering(e, a);
    const int64_t base = cover.plane * a.Ho * a.Wo;
    float s = 0.0f;
    for (int oh = cover.oh0; oh <= cover.oh1; ++oh) {
      for (int ow = cover.ow0; ow <= cover.ow1; ++ow) {
        const int64_t o = base + oh * a.Wo + ow;
        if (argmax[o] == cover.idx) s += dy[o];
      }
    }
    dx[e] = s;
  }
}

// Window (oh, ow) of avg pooling: its first input row / column (may be negative: padding)
// and its divisor, the window clipped to the padded input (PyTorch's pool_size).
__device__ __forceinline__ int avg_divisor(int oh, int ow, const PoolArgs& a) {
  const int hs = oh * a.sh - a.ph, ws = ow * a.sw - a.pw;
  return (min(hs + a.kh, a.H + a.ph) - hs) * (min(ws + a.kw, a.W + a.pw) - ws);
}

__global__ void __launch_bounds__(kThreads)
    avg_pool_forward(const float* x, float* y, int64_t total, PoolArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const OutputWindow win = output_window(e, a);
    const float* xp = x + win.plane * a.H * a.W;
    float sum = 0.0f;
    for (int h = win.h0; h < win.h1; ++h)
      for (int w = win.w0; w < win.w1; ++w) sum += xp[h * a.W + w];
    y[e] = sum / static_cast<float>(avg_divisor(win.oh, win.ow, a));
  }
}

__global__ void __launch_bounds__(kThreads)
    avg_pool_backward(const float* dy, float* dx, int64_t total, PoolArgs a) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const WindowsCovering cover = windows_covering(e, a);
    const float* dyp = dy + cover.plane * a.Ho * a.Wo;
    float s = 0.0f;
    for (int oh = cover.oh0; oh <= cover.oh1; ++oh)
      for (int ow = cover.ow0; ow <= cover.ow1; ++ow)
        s += dyp[oh * a.Wo + ow] / static_cast<float>(avg_divisor(oh, ow, a));
    dx[e] = s;
  }
}

// Returns false when there is nothing to compute.
bool validate(const char* fn, const Pool2dShape& s) {
  require_non_negative(fn, "shape.N", s.N);
  require_non_negative(fn, "shape.C", s.C);
  if (s.H < 1 || s.W < 1) {
    invalid_params(fn, "input planes must be at least 1x1 (got " + std::to_string(s.H) + "x" +
                           std::to_string(s.W) + ")");
  }
  if (s.kh < 1 || s.kw < 1 || s.stride_h < 1 || s.stride_w < 1 || s.pad_h < 0 || s.pad_w < 0) {
    invalid_params(fn, "kernel " + std::to_string(s.kh) + "x" + std::to_string(s.kw) +
                           " and stride " + std::to_string(s.stride_h) + "x" +
                           std::to_string(s.stride_w) + " must be >= 1, padding >= 0");
  }
  if (2 * s.pad_h > s.kh || 2 * s.pad_w > s.kw) {
    invalid_params(fn, "padding " + std::to_string(s.pad_h) + "x" + std::to_string(s.pad_w) +
                           " must be at most half of the kernel " + std::to_string(s.kh) + "x" +
                           std::to_string(s.kw));
  }
  if (s.out_h() < 1 || s.out_w() < 1) {
    invalid_params(fn, "input " + std::to_string(s.H) + "x" + std::to_string(s.W) +
                           " is too small for the kernel (output " + std::to_string(s.out_h()) +
                           "x" + std::to_string(s.out_w()) + ")");
  }
  if (s.H * s.W >= (int64_t{1} << 31))
    invalid_params(fn, "planes of 2^31 elements or more are not supported");
  return s.N * s.C > 0;
}

unsigned grid_for(int64_t total) {
  const int64_t blocks = std::min(ceil_div(total, kThreads), int64_t{32} * device_sm_count());
  return static_cast<unsigned>(std::max<int64_t>(blocks, 1));
}

// cuDNN pools with floor-mode output sizes: ceil mode is fine only when it changes nothing.
bool cudnn_shape_ok(const Pool2dShape& s) {
  if (!s.ceil_mode) return true;
  Pool2dShape floor = s;
  floor.ceil_mode = false;
  return floor.out_h() == s.out_h() && floor.out_w() == s.out_w();
}

}  // namespace

DnnImpl default_pool_impl() {
  static const DnnImpl impl = detail::dnn_impl_from_env("MELGRAD_POOL");
  return impl;
}

void pool2d_forward(const Pool2dForwardParams& p, Stream stream) {
  const std::string name = std::string(pool_kind_name(p.shape.kind)) + "_pool2d_forward";
  const char* fn = name.c_str();
  if (!validate(fn, p.shape)) return;
  require_pointer(fn, "x", p.x);
  require_pointer(fn, "y", p.y);
  const bool is_max = p.shape.kind == PoolKind::max;
  const bool cudnn_ok = is_max && p.argmax == nullptr && cudnn_shape_ok(p.shape);
  const DnnImpl impl = detail::resolve_dnn_impl(
      fn, p.impl, default_pool_impl(), cudnn_ok,
      !is_max               ? "it runs max pooling only here"
      : p.argmax != nullptr ? "it gives no argmax indices (pass argmax = nullptr)"
                            : "ceil mode");
  if (impl == DnnImpl::cudnn) {
    detail::cudnn_max_pool2d_forward(p, stream);
    return;
  }
  if (p.shape.has_indices()) require_pointer(fn, "argmax", p.argmax);
  const int64_t total = p.shape.N * p.shape.C * p.shape.out_h() * p.shape.out_w();
  switch (p.shape.kind) {
    case PoolKind::max:
      MG_LAUNCH(max_pool_forward, grid_for(total), kThreads, 0, stream)
      (p.x, p.y, p.argmax, total, pool_args(p.shape));
      break;
    case PoolKind::avg:
      MG_LAUNCH(avg_pool_forward, grid_for(total), kThreads, 0, stream)
      (p.x, p.y, total, pool_args(p.shape));
      break;
  }
  MG_CHECK_LAUNCH(fn);
}

void pool2d_backward(const Pool2dBackwardParams& p, Stream stream) {
  const std::string name = std::string(pool_kind_name(p.shape.kind)) + "_pool2d_backward";
  const char* fn = name.c_str();
  if (!validate(fn, p.shape)) return;
  require_pointer(fn, "dy", p.dy);
  require_pointer(fn, "dx", p.dx);
  const bool is_max = p.shape.kind == PoolKind::max;
  const bool cudnn_ok = is_max && p.x != nullptr && p.y != nullptr && cudnn_shape_ok(p.shape);
  const DnnImpl impl =
      detail::resolve_dnn_impl(fn, p.impl, default_pool_impl(), cudnn_ok,
                               !is_max                   ? "it runs max pooling only here"
                               : cudnn_shape_ok(p.shape) ? "it needs the forward's x and y"
                                                         : "ceil mode");
  if (impl == DnnImpl::cudnn) {
    detail::cudnn_max_pool2d_backward(p, stream);
    return;
  }
  if (p.shape.has_indices()) require_pointer(fn, "argmax", p.argmax);
  const int64_t total = p.shape.N * p.shape.C * p.shape.H * p.shape.W;
  switch (p.shape.kind) {
    case PoolKind::max:
      MG_LAUNCH(max_pool_backward, grid_for(total), kThreads, 0, stream)
      (p.dy, p.argmax, p.dx, total, pool_args(p.shape));
      break;
    case PoolKind::avg:
      MG_LAUNCH(avg_pool_backward, grid_for(total), kThreads, 0, stream)
      (p.dy, p.dx, total, pool_args(p.shape));
      break;
  }
  MG_CHECK_LAUNCH(fn);
}

}  // namespace melgrad::kernels
