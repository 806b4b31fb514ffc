// CudaBackend: the max_pool2d layer hooks on kernels/pool.h:
//   x [N, C, H, W] (or [C, H, W]: N = 1) -> y [N, C, Ho, Wo] and argmax int64 (y's shape,
//   h * W + w in the plane); the backward gathers dy through argmax (deterministic).
// The engine keeps the indices, so both passes run melgrad's kernels (cuDNN gives none).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/pool.h"

namespace melgrad::cuda {

namespace {

kernels::MaxPool2dShape pool_shape(const Shape& x_shape, const Pool2dOptions& opt) {
  kernels::MaxPool2dShape s;
  const std::size_t r = x_shape.size();
  s.N = r == 4 ? x_shape[0] : 1;
  s.C = x_shape[r - 3];
  s.H = x_shape[r - 2];
  s.W = x_shape[r - 1];
  s.kh = opt.kernel[0], s.kw = opt.kernel[1];
  s.stride_h = opt.stride[0], s.stride_w = opt.stride[1];
  s.pad_h = opt.padding[0], s.pad_w = opt.padding[1];
  s.ceil_mode = opt.ceil_mode;
  return s;
}

}  // namespace

bool CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                                     const Pool2dOptions& opt) {
  require_f32("max_pool2d", {&x, &y});
  kernels::MaxPool2dForwardParams p;
  p.x = f32_ptr(x);
  p.y = f32_ptr(y);
  p.argmax = i64_ptr(argmax);
  p.shape = pool_shape(x.shape(), opt);
  p.impl = kernels::DnnImpl::melgrad;  // the only implementation that returns indices
  kernels::max_pool2d_forward(p, stream());
  return true;
}

bool CudaBackend::max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                                      const Pool2dOptions& opt) {
  require_f32("max_pool2d backward", {&gy, &gx});
  kernels::MaxPool2dBackwardParams p;
  p.dy = f32_ptr(gy);
  p.argmax = i64_ptr(argmax);
  p.dx = f32_ptr(gx);
  p.shape = pool_shape(gx.shape(), opt);
  p.impl = kernels::DnnImpl::melgrad;
  kernels::max_pool2d_backward(p, stream());
  return true;
}

}  // namespace melgrad::cuda
