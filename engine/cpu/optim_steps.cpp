// CpuBackend: the optimiser steps of engine/optim (PyTorch's update rules), each one loop
// per parameter, split over the threads for large ones (parallel_range: the result does
// not depend on the thread count), and gradient-norm clipping, which sums the squares in
// float64 on the host.
#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/parallel.h"

namespace melgrad::cpu {

namespace {

template <class T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamStepArgs& a) {
  const T b1 = T(a.beta1), b2 = T(a.beta2), wd = T(a.weight_decay), eps = T(a.eps);
  const T step_size = T(a.lr / (1 - std::pow(a.beta1, double(a.step))));
  const T bc2_sqrt = T(std::sqrt(1 - std::pow(a.beta2, double(a.step))));
  const T decay = T(1 - a.lr * a.weight_decay);
  const bool decoupled = a.decoupled_weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if (decoupled)
      p[i] *= decay;
    else
      gi += wd * p[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

}  // namespace

void CpuBackend::adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                           const std::vector<Tensor>& exp_avg,
                           const std::vector<Tensor>& exp_avg_sq, const AdamStepArgs& args) {
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor &p = params[i], &g = grads.at(i), &m = exp_avg.at(i), &v = exp_avg_sq.at(i);
    dispatch_floating(p.dtype(), "Adam", [&]<class T>() {
      T *pp = p.data<T>(), *pm = m.data<T>(), *pv = v.data<T>();
      const T* pg = g.data<T>();
      parallel_range(p.numel(), [&](int64_t lo, int64_t hi) {
        adam_update<T>(pp + lo, pg + lo, pm + lo, pv + lo, hi - lo, args);
      });
    });
  }
}

void CpuBackend::sgd_step(const Tensor& param, const Tensor& grad, const Tensor& momentum_buf,
                          const SgdStepArgs& args) {
  dispatch_floating(param.dtype(), "SGD", [&]<class T>() {
    T* pp = param.data<T>();
    const T* gg = grad.data<T>();
    T* b = args.momentum > 0 ? momentum_buf.data<T>() : nullptr;
    const T mu = T(args.momentum), wd = T(args.weight_decay), lr = T(args.lr);
    for (int64_t k = 0; k < param.numel(); ++k) {
      T d = gg[k] + wd * pp[k];
      if (b) {
        b[k] = args.first_step ? d : mu * b[k] + d;  // PyTorch: the first step copies the gradient
        d = args.nesterov ? d + mu * b[k] : b[k];
      }
      pp[k] -= lr * d;
    }
  });
}

Tensor CpuBackend::clip_grad_norm(const std::vector<Tensor>& grads, double max_norm) {
  double total = 0;
  for (const Tensor& g : grads)
    for (double v : g.to_vector()) total += v * v;
  total = std::sqrt(total);
  if (!std::isfinite(total))
    throw std::runtime_error("clip_grad_norm: the gradient norm is " + std::to_string(total));
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1)
    for (const Tensor& g : grads)
      dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() {
        const Tensor c = contiguous_copy(g);  // leaf gradients are contiguous; copy back otherwise
        T* d = c.data<T>();
        for (int64_t k = 0; k < c.numel(); ++k) d[k] *= T(coef);
        if (!c.same(g)) copy(c, g);
      });
  return Tensor::scalar(total, DType::f64);
}

}  // namespace melgrad::cpu
