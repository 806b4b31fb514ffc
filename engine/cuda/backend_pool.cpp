// CudaBackend: the max_pool2d layer kernels on kernels/pool.h:
//   x [N, C, H, W] (or [C, H, W]: N = 1) -> y [N, C, Ho, Wo] and argmax int64 (y's shape,
//   h * W + w in the plane); the backward gathers dy through argmax (deterministic).
// The engine keeps the indices, so both passes run melgrad's kernels (cuDNN gives none).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/pool.h"

namespace melgrad::cuda {

void CudaBackend::max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                                     const Pool2dShape& shape) {
  if (x.dtype() != DType::f32) unsupported(*this, "max_pool2d", x.dtype());
  require_f32("max_pool2d", {&x, &y});
  kernels::MaxPool2dForwardParams p;
  p.x = f32_ptr(x);
  p.y = f32_ptr(y);
  p.argmax = i64_ptr(argmax);
  p.shape = shape;
  p.impl = kernels::DnnImpl::melgrad;  // the only implementation that returns indices
  kernels::max_pool2d_forward(p, stream());
}

void CudaBackend::max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                                      const Pool2dShape& shape) {
  if (gy.dtype() != DType::f32) unsupported(*this, "max_pool2d", gy.dtype());
  require_f32("max_pool2d backward", {&gy, &gx});
  kernels::MaxPool2dBackwardParams p;
  p.dy = f32_ptr(gy);
  p.argmax = i64_ptr(argmax);
  p.dx = f32_ptr(gx);
  p.shape = shape;
  p.impl = kernels::DnnImpl::melgrad;
  kernels::max_pool2d_backward(p, stream());
}

}  // namespace melgrad::cuda
