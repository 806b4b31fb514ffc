// CudaBackend: the optimiser steps of engine/optim and gradient clipping:
//   Adam      kernels/adam.h: every parameter of the step in one multi-tensor launch;
//   SGD       PyTorch's rule from the elementwise kernels (d = g + wd p; buf = mu buf + d,
//             the gradient on the first step; d = d + mu buf (Nesterov) or buf; p -= lr d);
//   clipping  the joint L2 norm and the factor min(1, max / (norm + 1e-6)) stay on the
//             device (float32, no read-back), the gradients are scaled in place.
#include <stdexcept>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_runtime.h"
#include "engine/cuda/kernel_layout.h"
#include "kernels/adam.h"

namespace melgrad::cuda {

void CudaBackend::adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
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
    tensors.push_back({f32_ptr(p), f32_ptr(g), f32_ptr(m), f32_ptr(v), p.numel()});
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
}

void CudaBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,
                           const SgdStepArgs& args) {
  require_f32("SGD", {&param, &grad});
  const Shape& s = param.shape();
  auto scaled = [&](const Tensor& t, double factor) {  // factor * t
    Tensor out = Tensor::empty(s, DType::f32, param.device());
    unary(UnaryOp::affine, t, out, factor, 0.0);
    return out;
  };
  auto plus = [&](const Tensor& a, const Tensor& b) {
    Tensor out = Tensor::empty(s, DType::f32, param.device());
    binary(BinaryOp::add, a, b, out);
    return out;
  };
  Tensor d = args.weight_decay != 0 ? plus(grad, scaled(param, args.weight_decay)) : grad;
  if (args.momentum > 0) {
    if (args.first_step)
      copy(d, momentum_buf);
    else
      binary(BinaryOp::add, scaled(momentum_buf, args.momentum), d, momentum_buf);
    d = args.nesterov ? plus(d, scaled(momentum_buf, args.momentum)) : momentum_buf;
  }
  binary(BinaryOp::sub, param, scaled(d, args.lr), param);
}

Tensor CudaBackend::clip_grad_norm(const std::vector<Tensor>& grads, double max_norm) {
  const Device dev = grads.at(0).device();
  Tensor total;
  for (const Tensor& g : grads) {  // total += sum(g * g)
    require_f32("clip_grad_norm", {&g});
    Tensor squares = Tensor::empty(g.shape(), DType::f32, dev);
    binary(BinaryOp::mul, g, g, squares);
    Tensor s = Tensor::empty(Shape(g.dim(), 1), DType::f32, dev);
    reduce(ReduceOp::sum, squares, s);
    s = s.as_strided({}, {}, 0);
    if (total.defined())
      binary(BinaryOp::add, total, s, total);
    else
      total = s;
  }
  Tensor norm = Tensor::empty({}, DType::f32, dev), shifted = Tensor::empty({}, DType::f32, dev);
  unary(UnaryOp::sqrt, total, norm, 0, 0);
  unary(UnaryOp::affine, norm, shifted, 1.0, 1e-6);
  Tensor limit = Tensor::empty({}, DType::f32, dev), coef = Tensor::empty({}, DType::f32, dev);
  fill(limit, max_norm);
  binary(BinaryOp::div, limit, shifted, coef);
  unary(UnaryOp::clamp, coef, coef, 0.0, 1.0);  // a NaN norm stays NaN
  for (const Tensor& g : grads) binary(BinaryOp::mul, g, broadcast_view(coef, g.shape()), g);
  return norm;
}

}  // namespace melgrad::cuda
