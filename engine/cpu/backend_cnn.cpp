// CpuBackend: the CNN layer kernels (engine/backend.h) on the CPU's own kernels:
//   conv2d      x [N, C, H, W], weight [O, C, kh, kw] -> y [N, O, Ho, Wo]  (cpu/conv.cpp)
//   pool2d      x [N, C, H, W] -> y [N, C, Ho, Wo] (max: and argmax)     (cpu/pool.cpp)
//   batch_norm  x [N, C, ...] viewed as [N, C, S], statistics [C]          (cpu/norm.cpp)
// All operands arrive contiguous from the ops (engine/ops/{conv,pool,norm}.cpp), float32 or
// float64. conv2d_relu's ReLU runs in the forward kernel's epilogue, and its mask
// (relu_y > 0) in the backward kernels, as on the CUDA backend.
#include "engine/cpu/conv.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/norm.h"
#include "engine/cpu/pool.h"

namespace melgrad::cpu {

void CpuBackend::conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Tensor& y, const Conv2dShape& shape, bool relu) {
  cpu::conv2d_forward(x, weight, bias, y, shape, relu);
}

void CpuBackend::conv2d_backward_input(const Tensor& gy, const Tensor& relu_y, const Tensor& weight,
                                       const Tensor& gx, const Conv2dShape& shape) {
  cpu::conv2d_backward_input(gy, relu_y, weight, gx, shape);
}

void CpuBackend::conv2d_backward_weight(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                                        const Tensor& gw, const Tensor& gb,
                                        const Conv2dShape& shape) {
  cpu::conv2d_backward_weight(gy, relu_y, x, gw, gb, shape);
}

void CpuBackend::pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                                const Pool2dShape& shape) {
  cpu::pool2d_forward(x, y, argmax, shape);
}

void CpuBackend::pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& gx,
                                 const Pool2dShape& shape) {
  cpu::pool2d_backward(gy, argmax, gx, shape);
}

namespace {

BatchNormGeometry batch_norm_geometry(const Tensor& x) {
  BatchNormGeometry g{x.size(0), x.size(1), 1};
  for (int64_t d = 2; d < x.dim(); ++d) g.S *= x.size(d);
  return g;
}

}  // namespace

void CpuBackend::batch_norm_forward(const BatchNormTensors& bn) {
  const BatchNormGeometry g = batch_norm_geometry(bn.x);
  const bool batch_stats = bn.training || !bn.running_mean.defined();
  Tensor var;
  if (batch_stats) {
    var = Tensor::empty({g.C}, bn.x.dtype(), bn.x.device());
    batch_norm_stats(bn.x, bn.save_mean, var, g);
    if (bn.training && bn.running_mean.defined())
      batch_norm_update_running(bn.running_mean, bn.running_var, bn.save_mean, var, bn.momentum, g);
  } else {
    copy(bn.running_mean, bn.save_mean);
    var = bn.running_var;
  }
  // invstd = (var + eps)^-0.5 through the elementwise kernels, as pow(var + eps, -0.5).
  unary(UnaryOp::affine, var, bn.save_invstd, 1.0, bn.eps);
  unary(UnaryOp::pow_scalar, bn.save_invstd, bn.save_invstd, -0.5, 0.0);
  batch_norm_apply(bn.x, bn.save_mean, bn.save_invstd, bn.weight, bn.bias, bn.y, g);
}

void CpuBackend::batch_norm_backward(const Tensor& gy, const BatchNormTensors& forward,
                                     bool batch_stats, const Tensor& gx, const Tensor& gw,
                                     const Tensor& gb) {
  cpu::batch_norm_backward(gy, forward.x, forward.save_mean, forward.save_invstd, forward.weight,
                           gx, gw, gb, batch_stats, batch_norm_geometry(forward.x));
}

}  // namespace melgrad::cpu
