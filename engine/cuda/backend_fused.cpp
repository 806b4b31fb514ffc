// CudaBackend: the fused kernels of composite ops: dropout with the CPU's Philox mask
// (kernels/dropout.h), regenerated in the backward instead of stored.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/dropout.h"

namespace melgrad::cuda {

Tensor CudaBackend::fused_dropout(const Tensor& x, double p, uint64_t seed) {
  require_f32("dropout", {&x});
  const Tensor xc = contiguous_on_device(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::DropoutParams k;
  k.x = static_cast<const float*>(xc.raw_data());
  k.y = static_cast<float*>(y.raw_data());
  k.n = x.numel();
  k.p = p;
  k.seed = seed;
  kernels::dropout_forward(k, stream());
  return y;
}

Tensor CudaBackend::fused_dropout_backward(const Tensor& dy, double p, uint64_t seed) {
  require_f32("dropout backward", {&dy});
  const Tensor dyc = contiguous_on_device(dy);
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  kernels::DropoutBackwardParams k;
  k.dy = static_cast<const float*>(dyc.raw_data());
  k.dx = static_cast<float*>(dx.raw_data());
  k.n = dy.numel();
  k.p = p;
  k.seed = seed;
  kernels::dropout_backward(k, stream());
  return dx;
}

}  // namespace melgrad::cuda
