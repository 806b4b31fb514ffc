// CudaBackend: the batch_norm layer kernels on kernels/batchnorm.h (melgrad's Welford kernels,
// or cuDNN where MELGRAD_BATCHNORM / the build choose it and it can do the call):
//   x [N, C, ...] viewed as [N, C, S]; weight, bias, running stats, saved stats [C].
// The forward computes the statistics (or takes the running ones), updates the running
// statistics in training and applies the scale/shift; the backward gives dx, dweight,
// dbias. Their per-channel reductions use a workspace from the caching allocator.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/batchnorm.h"

namespace melgrad::cuda {

namespace {

int64_t spatial_size(const Tensor& x) {
  int64_t s = 1;
  for (int64_t d = 2; d < x.dim(); ++d) s *= x.size(d);
  return s;
}

void require_f32_if_defined(const char* kernel, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined()) require_f32(kernel, {t});
}

std::size_t bytes_of(const Tensor& scratch) {
  return scratch.defined() ? static_cast<std::size_t>(scratch.numel()) * sizeof(float) : 0;
}

}  // namespace

void CudaBackend::batch_norm_forward(const BatchNormTensors& bn) {
  if (bn.x.dtype() != DType::f32) unsupported(*this, "batch_norm", bn.x.dtype());
  require_f32("batch_norm", {&bn.x, &bn.y, &bn.save_mean, &bn.save_invstd});
  require_f32_if_defined("batch_norm", {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var});
  kernels::BatchNormForwardParams p;
  p.x = f32_ptr(bn.x);
  p.y = f32_ptr(bn.y);
  p.weight = f32_ptr(bn.weight);
  p.bias = f32_ptr(bn.bias);
  p.running_mean = f32_ptr(bn.running_mean);
  p.running_var = f32_ptr(bn.running_var);
  p.save_mean = f32_ptr(bn.save_mean);
  p.save_invstd = f32_ptr(bn.save_invstd);
  p.N = bn.x.size(0), p.C = bn.x.size(1), p.S = spatial_size(bn.x);
  p.training = bn.training;
  p.momentum = bn.momentum;
  p.eps = bn.eps;
  const Tensor scratch = workspace(kernels::batch_norm_forward_workspace_bytes(p));
  p.workspace = f32_ptr(scratch);
  p.workspace_bytes = bytes_of(scratch);
  kernels::batch_norm_forward(p, stream());
}

void CudaBackend::batch_norm_backward(const Tensor& gy, const BatchNormTensors& forward,
                                      bool batch_stats, const Tensor& gx, const Tensor& gw,
                                      const Tensor& gb) {
  if (gy.dtype() != DType::f32) unsupported(*this, "batch_norm", gy.dtype());
  require_f32("batch_norm backward", {&gy, &forward.x, &forward.save_mean, &forward.save_invstd});
  require_f32_if_defined("batch_norm backward", {&forward.weight, &gx, &gw, &gb});
  kernels::BatchNormBackwardParams p;
  p.x = f32_ptr(forward.x);
  p.dy = f32_ptr(gy);
  p.weight = f32_ptr(forward.weight);
  p.save_mean = f32_ptr(forward.save_mean);
  p.save_invstd = f32_ptr(forward.save_invstd);
  p.dx = f32_ptr(gx);
  p.dweight = f32_ptr(gw);
  p.dbias = f32_ptr(gb);
  p.N = forward.x.size(0), p.C = forward.x.size(1), p.S = spatial_size(forward.x);
  p.batch_stats = batch_stats;
  p.eps = forward.eps;
  const Tensor scratch = workspace(kernels::batch_norm_backward_workspace_bytes(p));
  p.workspace = f32_ptr(scratch);
  p.workspace_bytes = bytes_of(scratch);
  kernels::batch_norm_backward(p, stream());
}

}  // namespace melgrad::cuda
