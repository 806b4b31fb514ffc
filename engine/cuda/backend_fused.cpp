// CudaBackend: what it supports, and the fused kernels of composite ops:
//   dropout        kernels/dropout.h, the CPU's Philox mask, regenerated in the backward;
//   cross_entropy  kernels/cross_entropy.h: logits [N, C], targets int64 [N], weights [C];
//                  the forward saves the rows' log-sum-exp [N] and the weight sum []; learned
//                  class weights' gradient from the primitives (cross_entropy_weights_grad).
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
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

bool CudaBackend::supports(const std::string& /*op*/, DType dtype) const {
  // Every op of the registry has float32 kernels here (int64 for indices, targets, lengths
  // and argmax); none computes in float64: such tensors can be stored and copied, not used.
  return dtype != DType::f64;
}

std::vector<Tensor> CudaBackend::dropout(const Tensor& x, double p, uint64_t seed,
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
  return {y};  // nothing saved: the backward regenerates the mask
}

Tensor CudaBackend::dropout_backward(const Tensor& dy, const std::vector<Tensor>& /*saved*/,
                                     double p, uint64_t seed, const uint64_t* seed_on_device) {
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

std::vector<Tensor> CudaBackend::cross_entropy(const Tensor& logits, const Tensor& targets,
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

std::vector<Tensor> CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets,
                                                        const Tensor& weights, const Tensor& loss,
                                                        const std::vector<Tensor>& saved,
                                                        const Tensor& grad_loss,
                                                        bool weights_grad) {
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
  if (!weights_grad) return {dx, Tensor()};
  // The picked log-probabilities lp_i = logits[i, t_i] - lse_i.
  const int64_t N = logits.size(0);
  Tensor picked = Tensor::empty({N, 1}, DType::f32, logits.device());
  gather(x, 1, t.as_strided({N, 1}, {1, 1}, t.offset()), picked);
  Tensor log_probs = Tensor::empty({N}, DType::f32, logits.device());
  binary(BinaryOp::sub, picked.as_strided({N}, {1}, 0), saved.at(0), log_probs);
  return {dx, cross_entropy_weights_grad(*this, log_probs, t, loss, saved.at(1), grad_loss,
                                         logits.size(1))};
}

}  // namespace melgrad::cuda
