// CudaBackend: the conv2d layer kernels on kernels/conv.h (implicit-GEMM kernels, the direct
// first-layer kernels, or cuDNN where MELGRAD_CONV / the build choose it):
//   x [N, C, H, W], weight [O, C, kh, kw], bias [O] (optional) -> y [N, O, Ho, Wo]
// All operands arrive contiguous from engine/ops/conv.cpp, float32 (another dtype:
// unsupported()). conv2d_relu turns the kernels' fused ReLU epilogue on (relu), and its
// backward passes hand the kernels the forward's output (relu_y), which masks dy as they
// read it: no separate ReLU pass either way. The backward-filter pass's split-K partial sums go to
// a workspace from the caching allocator. Each call passes the determinism setting
// (engine/determinism.h), which decides cuDNN's algorithms.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "engine/determinism.h"
#include "kernels/conv.h"

namespace melgrad::cuda {

Tensor workspace(std::size_t bytes) {
  if (bytes == 0) return Tensor();
  const int64_t floats = static_cast<int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
  return Tensor::empty({floats}, DType::f32, Device::cuda());
}

namespace {

// The kernels compute in float32: another dtype is an op this backend has no kernel for.
void require_f32_op(const Backend& backend, bool relu, const Tensor& t) {
  if (t.dtype() != DType::f32) unsupported(backend, relu ? "conv2d_relu" : "conv2d", t.dtype());
}

}  // namespace

void CudaBackend::conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const Tensor& y, const Conv2dShape& shape, bool relu) {
  require_f32_op(*this, relu, x);
  require_f32("conv2d", {&x, &weight, &y});
  if (bias.defined()) require_f32("conv2d", {&bias});
  kernels::Conv2dForwardParams p;
  p.x = f32_ptr(x);
  p.weight = f32_ptr(weight);
  p.bias = f32_ptr(bias);
  p.y = f32_ptr(y);
  p.shape = shape;
  p.relu = relu;
  p.deterministic = deterministic_algorithms();
  kernels::conv2d_forward(p, stream());
}

void CudaBackend::conv2d_backward_input(const Tensor& gy, const Tensor& relu_y,
                                        const Tensor& weight, const Tensor& gx,
                                        const Conv2dShape& shape) {
  require_f32_op(*this, relu_y.defined(), gy);
  require_f32("conv2d backward", {&gy, &weight, &gx});
  if (relu_y.defined()) require_f32("conv2d backward", {&relu_y});
  kernels::Conv2dBackwardDataParams p;
  p.dy = f32_ptr(gy);
  p.relu_y = f32_ptr(relu_y);
  p.weight = f32_ptr(weight);
  p.dx = f32_ptr(gx);
  p.shape = shape;
  p.deterministic = deterministic_algorithms();
  kernels::conv2d_backward_data(p, stream());
}

void CudaBackend::conv2d_backward_weight(const Tensor& gy, const Tensor& relu_y, const Tensor& x,
                                         const Tensor& gw, const Tensor& gb,
                                         const Conv2dShape& shape) {
  require_f32_op(*this, relu_y.defined(), gy);
  require_f32("conv2d backward", {&gy, &x});
  if (relu_y.defined()) require_f32("conv2d backward", {&relu_y});
  if (gw.defined()) require_f32("conv2d backward", {&gw});
  if (gb.defined()) require_f32("conv2d backward", {&gb});
  kernels::Conv2dBackwardFilterParams p;
  p.x = f32_ptr(x);
  p.dy = f32_ptr(gy);
  p.relu_y = f32_ptr(relu_y);
  p.dweight = f32_ptr(gw);
  p.dbias = f32_ptr(gb);
  p.shape = shape;
  p.deterministic = deterministic_algorithms();
  const Tensor scratch = workspace(kernels::conv2d_backward_filter_workspace_bytes(p));
  p.workspace = f32_ptr(scratch);
  p.workspace_bytes =
      scratch.defined() ? static_cast<std::size_t>(scratch.numel()) * sizeof(float) : 0;
  kernels::conv2d_backward_filter(p, stream());
}

}  // namespace melgrad::cuda
