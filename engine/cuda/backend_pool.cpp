// CudaBackend: the pooling layer kernels on kernels/pool.h, every PoolKind through one pair:
//   x [N, C, H, W] (or [C, H, W]: N = 1) -> y [N, C, Ho, Wo], and for the kinds that keep
//   indices (max) argmax int64 (y's shape, h * W + w in the plane), which the backward
//   gathers dy through; the other kinds' backward needs only dy and the shape.
// The engine keeps the indices, so both passes run melgrad's kernels (cuDNN gives none).
#include <string>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/pool.h"

namespace melgrad::cuda {

namespace {

std::string op_name(const Pool2dShape& shape) {
  return std::string(pool_kind_name(shape.kind)) + "_pool2d";
}

}  // namespace

void CudaBackend::pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                                 const Pool2dShape& shape) {
  const std::string op = op_name(shape);
  if (x.dtype() != DType::f32) unsupported(*this, op, x.dtype());
  require_f32(op.c_str(), {&x, &y});
  kernels::Pool2dForwardParams p;
  p.x = f32_ptr(x);
  p.y = f32_ptr(y);
  p.argmax = i64_ptr(argmax);
  p.shape = shape;
  p.impl = kernels::DnnImpl::melgrad;  // the only implementation that returns indices
  kernels::pool2d_forward(p, stream());
}

void CudaBackend::pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                                  const Pool2dShape& shape) {
  const std::string op = op_name(shape);
  if (gy.dtype() != DType::f32) unsupported(*this, op, gy.dtype());
  require_f32((op + " backward").c_str(), {&gy, &gx});
  kernels::Pool2dBackwardParams p;
  p.dy = f32_ptr(gy);
  p.argmax = i64_ptr(argmax);
  p.dx = f32_ptr(gx);
  p.shape = shape;
  p.impl = kernels::DnnImpl::melgrad;
  kernels::pool2d_backward(p, stream());
}

}  // namespace melgrad::cuda
