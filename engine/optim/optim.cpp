// Optimisers, clipping and schedules (see optim.h). The updates are the parameters'
// device backend's (Backend::adam_step, sgd_step, clip_grad_norm: fused loops on the CPU,
// one multi-tensor kernel for Adam and the elementwise kernels on CUDA); nothing here reads
// device memory back except clip_grad_norm's returned norm.
#include "engine/optim/optim.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/ops.h"

namespace melgrad::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : params_(std::move(params)), lr_(lr) {
  if (!(lr >= 0))
    throw std::invalid_argument("optimizer: learning rate must be >= 0, got " + std::to_string(lr));
  for (const Tensor& p : params_)
    if (!p.requires_grad() || !p.is_leaf() || !p.is_contiguous())
      throw std::invalid_argument("optimizer: parameter " + p.str() +
                                  " is not a contiguous leaf that requires grad");
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

Adam::Adam(std::vector<Tensor> params, AdamOptions o)
    : Optimizer(std::move(params), o.lr), options_(o) {
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1))
    throw std::invalid_argument("Adam: betas must be in [0, 1)");
  if (!(o.eps >= 0) || !(o.weight_decay >= 0))
    throw std::invalid_argument("Adam: eps and weight_decay must be >= 0");
  for (const Tensor& p : params_) {
    m_.push_back(Tensor::zeros_like(p));
    v_.push_back(Tensor::zeros_like(p));
  }
}

void Adam::step() {
  ++steps_;
  NoGradGuard no_grad;
  std::vector<Tensor> params, grads, exp_avg, exp_avg_sq;  // one multi-tensor step
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    if (!params.empty() && !(params[0].device() == p.device()))
      throw std::invalid_argument("Adam: parameters on " + params[0].device().str() + " and " +
                                  p.device().str() + "; one optimiser updates one device");
    params.push_back(p);
    grads.push_back(p.grad().contiguous());
    exp_avg.push_back(m_[i]);
    exp_avg_sq.push_back(v_[i]);
  }
  if (params.empty()) return;
  const AdamStepArgs args{lr_,          options_.beta1,        options_.beta2,
                          options_.eps, options_.weight_decay, options_.decoupled_weight_decay,
                          steps_};
  backend_for(params[0].device()).adam_step(params, grads, exp_avg, exp_avg_sq, args);
}

std::unique_ptr<Adam> make_adamw(std::vector<Tensor> params, double lr, double weight_decay) {
  return std::make_unique<Adam>(
      std::move(params),
      AdamOptions{.lr = lr, .weight_decay = weight_decay, .decoupled_weight_decay = true});
}

SGD::SGD(std::vector<Tensor> params, SgdOptions o)
    : Optimizer(std::move(params), o.lr), options_(o) {
  if (o.nesterov && o.momentum <= 0)
    throw std::invalid_argument("SGD: Nesterov needs momentum > 0");
  buf_.resize(params_.size());
}

void SGD::step() {
  ++steps_;
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const bool first = !buf_[i].defined();
    if (first && options_.momentum > 0) buf_[i] = Tensor::empty_like(p);  // set by the step
    const SgdStepArgs args{lr_, options_.momentum, options_.weight_decay, options_.nesterov, first};
    backend_for(p.device()).sgd_step(p, p.grad().contiguous(), buf_[i], args);
  }
}

Tensor clip_grad_norm_on_device(const std::vector<Tensor>& params, double max_norm) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return Tensor::scalar(0.0, DType::f64);
  NoGradGuard no_grad;
  return backend_for(grads[0].device()).clip_grad_norm(grads, max_norm);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  const double norm = clip_grad_norm_on_device(params, max_norm).item();
  if (!std::isfinite(norm))
    throw std::runtime_error("clip_grad_norm: the gradient norm is " + std::to_string(norm));
  return norm;
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
