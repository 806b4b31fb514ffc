// CudaBackend: the fused kernels of composite ops:
//   dropout        kernels/dropout.h, the CPU's Philox mask, regenerated in the backward;
//   cross_entropy  kernels/cross_entropy.h: logits [N, C], targets int64 [N], weights [C];
//                  the forward saves the rows' log-sum-exp [N] and the weight sum [];
//   Adam           kernels/adam.h: every parameter of the step in one multi-tensor launch.
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/adam.h"
#include "kernels/cross_entropy.h"
#include "kernels/dropout.h"

namespace melgrad::cuda {

namespace {

const float* cf32(const Tensor& t) {
  return t.defined() ? static_cast<const float*>(t.raw_data()) : nullptr;
}
float* f32(const Tensor& t) { return t.defined() ? static_cast<float*>(t.raw_data()) : nullptr; }
Tensor contiguous_or_undefined(const Tensor& t) {
  return t.defined() ? contiguous_on_device(t) : t;
}

}  // namespace

Tensor CudaBackend::fused_dropout(const Tensor& x, double p, uint64_t seed,
                                  const uint64_t* seed_on_device) {
  require_f32("dropout", {&x});
  const Tensor xc = contiguous_on_device(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::DropoutParams k;
  k.x = cf32(xc);
  k.y = f32(y);
  k.n = x.numel();
  k.p = p;
  k.seed = seed;
  k.seed_on_device = seed_on_device;
  kernels::dropout_forward(k, stream());
  return y;
}

Tensor CudaBackend::fused_dropout_backward(const Tensor& dy, double p, uint64_t seed,
                                           const uint64_t* seed_on_device) {
  require_f32("dropout backward", {&dy});
  const Tensor dyc = contiguous_on_device(dy);
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype(), dy.device());
  kernels::DropoutBackwardParams k;
  k.dy = cf32(dyc);
  k.dx = f32(dx);
  k.n = dy.numel();
  k.p = p;
  k.seed = seed;
  k.seed_on_device = seed_on_device;
  kernels::dropout_backward(k, stream());
  return dx;
}

std::vector<Tensor> CudaBackend::fused_cross_entropy(const Tensor& logits, const Tensor& targets,
                                                     const Tensor& weights) {
  require_f32("cross_entropy", {&logits});
  if (weights.defined()) require_f32("cross_entropy", {&weights});
  const Tensor x = contiguous_on_device(logits), t = contiguous_on_device(targets),
               w = contiguous_or_undefined(weights);
  const int64_t N = logits.size(0), C = logits.size(1);
  Tensor loss = Tensor::empty({}, DType::f32, logits.device());
  Tensor lse = Tensor::empty({N}, DType::f32, logits.device());
  Tensor weight_sum = w.defined() ? Tensor::empty({}, DType::f32, logits.device()) : Tensor();
  kernels::CrossEntropyParams p;
  p.logits = cf32(x);
  p.targets = static_cast<const int64_t*>(t.raw_data());
  p.weight = cf32(w);
  p.loss = f32(loss);
  p.lse = f32(lse);
  p.weight_sum = f32(weight_sum);
  p.n = N;
  p.c = C;
  kernels::cross_entropy_forward(p, stream());
  return {loss, lse, weight_sum};
}

Tensor CudaBackend::fused_cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                                 const Tensor& weights,
                                                 const std::vector<Tensor>& saved,
                                                 const Tensor& grad_loss) {
  require_f32("cross_entropy backward", {&logits, &grad_loss});
  const Tensor x = contiguous_on_device(logits), t = contiguous_on_device(targets),
               w = contiguous_or_undefined(weights), g = contiguous_on_device(grad_loss);
  Tensor dx = Tensor::empty(logits.shape(), DType::f32, logits.device());
  kernels::CrossEntropyBackwardParams p;
  p.logits = cf32(x);
  p.targets = static_cast<const int64_t*>(t.raw_data());
  p.weight = cf32(w);
  p.lse = cf32(saved.at(0));
  p.weight_sum = cf32(saved.at(1));
  p.grad_loss = cf32(g);
  p.dlogits = f32(dx);
  p.n = logits.size(0);
  p.c = logits.size(1);
  kernels::cross_entropy_backward(p, stream());
  return dx;
}

bool CudaBackend::fused_adam_step(const std::vector<Tensor>& params,
                                  const std::vector<Tensor>& grads,
                                  const std::vector<Tensor>& exp_avg,
                                  const std::vector<Tensor>& exp_avg_sq, const AdamStepArgs& args) {
  std::vector<kernels::AdamTensor> tensors;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor &p = params[i], &g = grads.at(i), &m = exp_avg.at(i), &v = exp_avg_sq.at(i);
    require_f32("Adam", {&p, &g, &m, &v});
    for (const Tensor* t : {&p, &g, &m, &v})
      if (!t->is_contiguous() || t->numel() != p.numel())
        throw std::logic_error("cuda backend: Adam: " + t->str() + " is not a contiguous [" +
                               std::to_string(p.numel()) + "] tensor");
    tensors.push_back({f32(p), cf32(g), f32(m), f32(v), p.numel()});
  }
  kernels::AdamParams k;
  k.tensors = tensors.data();
  k.count = static_cast<int64_t>(tensors.size());
  k.lr = args.lr;
  k.beta1 = args.beta1;
  k.beta2 = args.beta2;
  k.eps = args.eps;
  k.weight_decay = args.weight_decay;
  k.decoupled_weight_decay = args.decoupled_weight_decay;
  k.step = args.step;
  kernels::adam_step(k, stream());
  return true;
}

}  // namespace melgrad::cuda
