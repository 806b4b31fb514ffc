// Optimisers with PyTorch's update rules, gradient-norm clipping and learning-rate
// schedules. Parameters are updated in place (outside autograd); parameters without a
// gradient are skipped, as in PyTorch.
//
//   Adam   (weight_decay as L2: g += wd * p)        — torch.optim.Adam
//   AdamW  (decoupled: p *= 1 - lr * wd)            — torch.optim.AdamW
//   SGD    (momentum, dampening 0, optional Nesterov, L2 weight decay) — torch.optim.SGD
#pragma once

#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace melgrad::optim {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  const std::vector<Tensor>& params() const { return params_; }
  int64_t steps_taken() const { return steps_; }

 protected:
  std::vector<Tensor> params_;
  double lr_;
  int64_t steps_ = 0;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool decoupled_weight_decay = false;  // true = AdamW
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options);
  void step() override;
  const AdamOptions& options() const { return options_; }
  // First and second moment of parameter i (for checkpoints and tests).
  Tensor& exp_avg(size_t i) { return m_.at(i); }
  Tensor& exp_avg_sq(size_t i) { return v_.at(i); }
  void set_steps_taken(int64_t t) { steps_ = t; }

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
};

// AdamW: Adam with decoupled weight decay (PyTorch's default wd 1e-2).
std::unique_ptr<Adam> make_adamw(std::vector<Tensor> params, double lr, double weight_decay = 1e-2);

struct SgdOptions {
  double lr = 1e-2;
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SgdOptions options);
  void step() override;

 private:
  SgdOptions options_;
  std::vector<Tensor> buf_;
};

// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm
// before clipping (as torch.nn.utils.clip_grad_norm_). Throws if the norm is NaN/Inf.
// Off the CPU this reads the norm back (a synchronisation); see clip_grad_norm_on_device.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);
// The same for parameters on a device, without waiting for it: the norm (float32, a 0-d
// tensor on the device) and the factor min(1, max_norm / (norm + 1e-6)) stay there. A
// non-finite norm is not reported: it makes the gradients, and so the next loss, NaN.
// On the CPU: clip_grad_norm's result as a 0-d float64 tensor.
Tensor clip_grad_norm_on_device(const std::vector<Tensor>& params, double max_norm);

// Learning-rate schedules, stepped once per epoch.
class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  virtual double lr_at(int64_t epoch) const = 0;
  void apply(Optimizer& opt, int64_t epoch) const { opt.set_lr(lr_at(epoch)); }
};

class StepLR : public LrSchedule {  // base * gamma^(epoch / step_size)
 public:
  StepLR(double base_lr, int64_t step_size, double gamma);
  double lr_at(int64_t epoch) const override;

 private:
  double base_, gamma_;
  int64_t step_size_;
};

class CosineLR : public LrSchedule {  // eta_min + (base - eta_min)(1 + cos(pi t / T)) / 2
 public:
  CosineLR(double base_lr, int64_t t_max, double eta_min = 0);
  double lr_at(int64_t epoch) const override;

 private:
  double base_, eta_min_;
  int64_t t_max_;
};

}  // namespace melgrad::optim
