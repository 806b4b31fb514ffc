// Optimisers, clipping and schedules (see optim.h). The CPU updates are single fused loops
// per parameter (split over the threads for large ones). On other devices Adam is one fused
// multi-tensor kernel of the device's backend (Backend::fused_adam_step), and SGD and clipping use
// its elementwise kernels; nothing here reads device memory back except clip_grad_norm's returned
// norm.
#include "engine/optim/optim.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/parallel.h"
#include "engine/ops/ops.h"

namespace melgrad::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  if (!(lr >= 0)) throw std::invalid_argument("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  for (const Tensor& p : params_)
    if (!p.requires_grad() || !p.is_leaf() || !p.is_contiguous())
      throw std::invalid_argument("optimizer: parameter " + p.str() +
                                  " is not a contiguous leaf that requires grad");
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

Adam::Adam(std::vector<Tensor> params, AdamOptions o) : Optimizer(std::move(params), o.lr), options_(o) {
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1))
    throw std::invalid_argument("Adam: betas must be in [0, 1)");
  if (!(o.eps >= 0) || !(o.weight_decay >= 0))
    throw std::invalid_argument("Adam: eps and weight_decay must be >= 0");
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros_like(p));
    v_.push_back(Tensor::zeros_like(p));
  }
}

template <class T>
static void adam_update(T* p, const T* g, T* m, T* v, int64_t n, const AdamOptions& o, double lr,
                        int64_t t) {
  const T b1 = T(o.beta1), b2 = T(o.beta2), wd = T(o.weight_decay), eps = T(o.eps);
  const T step_size = T(lr / (1 - std::pow(o.beta1, double(t))));
  const T bc2_sqrt = T(std::sqrt(1 - std::pow(o.beta2, double(t))));
  const T decay = T(1 - lr * o.weight_decay);
  const bool decoupled = o.decoupled_weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if (decoupled) p[i] *= decay;
    else gi += wd * p[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
  }
}

void Adam::step() {
  ++steps_;
  NoGradGuard no_grad;
  std::vector<Tensor> dev_p, dev_g, dev_m, dev_v;  // off the CPU: one fused multi-tensor step
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    Tensor g = p.grad().contiguous();
    if (!p.device().is_cpu()) {
      if (!dev_p.empty() && !(dev_p[0].device() == p.device()))
        throw std::invalid_argument("Adam: parameters on " + dev_p[0].device().str() + " and " +
                                    p.device().str() + "; one optimiser updates one device");
      dev_p.push_back(p);
      dev_g.push_back(g);
      dev_m.push_back(m_[i]);
      dev_v.push_back(v_[i]);
      continue;
    }
    dispatch_floating(p.dtype(), "Adam", [&]<class T>() {
      T *pp = p.data<T>(), *pm = m_[i].data<T>(), *pv = v_[i].data<T>();
      const T* pg = g.data<T>();
      cpu::parallel_range(p.numel(), [&](int64_t lo, int64_t hi) {
        adam_update<T>(pp + lo, pg + lo, pm + lo, pv + lo, hi - lo, options_, lr_, steps_);
      });
    });
  }
  if (dev_p.empty()) return;
  const AdamStepArgs args{lr_, options_.beta1, options_.beta2, options_.eps,
                          options_.weight_decay, options_.decoupled_weight_decay, steps_};
  if (!backend_for(dev_p[0].device()).fused_adam_step(dev_p, dev_g, dev_m, dev_v, args))
    throw std::runtime_error("Adam: no update kernel for device " + dev_p[0].device().str());
}

std::unique_ptr<Adam> make_adamw(std::vector<Tensor> params, double lr, double weight_decay) {
  return std::make_unique<Adam>(std::move(params),
                                AdamOptions{.lr = lr, .weight_decay = weight_decay,
                                            .decoupled_weight_decay = true});
}

SGD::SGD(std::vector<Tensor> params, SgdOptions o) : Optimizer(std::move(params), o.lr), options_(o) {
  if (o.nesterov && o.momentum <= 0) throw std::invalid_argument("SGD: Nesterov needs momentum > 0");
  buf_.resize(params_.size());
}

void SGD::step() {
  ++steps_;
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    Tensor g = p.grad().contiguous();
    const bool first = !buf_[i].defined();
    if (!p.device().is_cpu()) {  // the same update from the device's elementwise kernels
      Tensor d = options_.weight_decay != 0 ? g + p * options_.weight_decay : g;
      if (options_.momentum > 0) {
        buf_[i] = first ? clone(d) : buf_[i] * options_.momentum + d;
        d = options_.nesterov ? d + buf_[i] * options_.momentum : buf_[i];
      }
      p.copy_(p - d * lr_);
      continue;
    }
    if (first && options_.momentum > 0) buf_[i] = Tensor::zeros_like(p);
    dispatch_floating(p.dtype(), "SGD", [&]<class T>() {
      T* pp = p.data<T>();
      const T* gg = g.data<T>();
      T* b = options_.momentum > 0 ? buf_[i].data<T>() : nullptr;
      const T mu = T(options_.momentum), wd = T(options_.weight_decay), lr = T(lr_);
      for (int64_t k = 0; k < p.numel(); ++k) {
        T d = gg[k] + wd * pp[k];
        if (b) {
          b[k] = first ? d : mu * b[k] + d;  // PyTorch: the first step copies the gradient
          d = options_.nesterov ? d + mu * b[k] : b[k];
        }
        pp[k] -= lr * d;
      }
    });
  }
}

Tensor clip_grad_norm_on_device(const std::vector<Tensor>& params, double max_norm) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty() || grads[0].device().is_cpu())
    return Tensor::scalar(clip_grad_norm(params, max_norm), DType::f64);
  NoGradGuard no_grad;
  Tensor total;
  for (const Tensor& g : grads) {
    const Tensor s = sum(g * g);
    total = total.defined() ? total + s : s;
  }
  const Tensor norm = sqrt(total);
  const Tensor coef = clamp(max_norm / (norm + 1e-6), 0.0, 1.0);  // NaN stays NaN
  for (const Tensor& g : grads)
    backend_for(g.device()).binary(BinaryOp::mul, g, expand(coef, g.shape()), g);
  return norm;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  for (const Tensor& p : params)
    if (p.grad().defined() && !p.grad().device().is_cpu()) {
      const double norm = clip_grad_norm_on_device(params, max_norm).item();
      if (!std::isfinite(norm))
        throw std::runtime_error("clip_grad_norm: the gradient norm is " + std::to_string(norm));
      return norm;
    }
  double total = 0;
  for (const Tensor& p : params)
    if (p.grad().defined())
      for (double v : p.grad().to_vector()) total += v * v;
  total = std::sqrt(total);
  if (!std::isfinite(total))
    throw std::runtime_error("clip_grad_norm: the gradient norm is " + std::to_string(total));
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    NoGradGuard no_grad;
    for (const Tensor& p : params)
      if (p.grad().defined()) {
        Tensor g = p.grad();
        dispatch_floating(g.dtype(), "clip_grad_norm", [&]<class T>() {
          Tensor c = g.contiguous();  // leaf gradients are contiguous; copy back otherwise
          T* d = c.data<T>();
          for (int64_t k = 0; k < c.numel(); ++k) d[k] *= T(coef);
          if (!c.same(g)) g.copy_(c);
        });
      }
  }
  return total;
}

StepLR::StepLR(double base_lr, int64_t step_size, double gamma)
    : base_(base_lr), gamma_(gamma), step_size_(step_size) {
  if (step_size <= 0) throw std::invalid_argument("StepLR: step_size must be positive");
}
double StepLR::lr_at(int64_t epoch) const {
  return base_ * std::pow(gamma_, double(epoch / step_size_));
}

CosineLR::CosineLR(double base_lr, int64_t t_max, double eta_min)
    : base_(base_lr), eta_min_(eta_min), t_max_(t_max) {
  if (t_max <= 0) throw std::invalid_argument("CosineLR: t_max must be positive");
}
double CosineLR::lr_at(int64_t epoch) const {
  double t = double(std::min(epoch, t_max_));
  return eta_min_ + (base_ - eta_min_) * (1 + std::cos(M_PI * t / double(t_max_))) / 2;
}

}  // namespace melgrad::optim
