// Optimisers against PyTorch's documented update rules written out by hand in float64
// (Adam with L2 decay, AdamW with decoupled decay, SGD with weight decay, momentum and
// Nesterov, over several steps of a gradient that changes with p), clipping, schedules.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops/ops.h"
#include "engine/optim/optim.h"

using namespace melgrad;

static Tensor param(std::vector<double> v) {
  Shape s{int64_t(v.size())};
  return Tensor::from_vector(v, s).requires_grad_();
}

TEST_CASE("Adam follows PyTorch's rule with L2 weight decay over several steps") {
  Tensor p = param({1.0, -2.0});
  optim::Adam opt({p}, {.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.01});
  double ref[2] = {1.0, -2.0}, m[2] = {0, 0}, v[2] = {0, 0};
  for (int t = 1; t <= 3; ++t) {
    opt.zero_grad();
    sum(pow(p, 2.0) * 0.5).backward();  // grad = p
    opt.step();
    for (int i = 0; i < 2; ++i) {
      double g = ref[i] + 0.01 * ref[i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.99 * v[i] + 0.01 * g * g;
      double denom = std::sqrt(v[i]) / std::sqrt(1 - std::pow(0.99, t)) + 1e-8;
      ref[i] -= 0.1 / (1 - std::pow(0.9, t)) * m[i] / denom;
    }
    CHECK(p.to_vector()[0] == doctest::Approx(ref[0]).epsilon(1e-12));
    CHECK(p.to_vector()[1] == doctest::Approx(ref[1]).epsilon(1e-12));
  }
  CHECK(opt.steps_taken() == 3);
}

// A loss whose gradient is nonzero and changes with p: sum(0.5 c p^2 + b p), grad = c p + b.
struct Quadratic {
  std::vector<double> c{1.5, 0.4, 3.0}, b{0.3, -1.2, 0.05};
  Tensor loss(const Tensor& p) const {
    const Shape s{int64_t(c.size())};
    return sum(pow(p, 2.0) * Tensor::from_vector(c, s) * 0.5 + p * Tensor::from_vector(b, s));
  }
  double grad(size_t i, double p) const { return c[i] * p + b[i]; }
};

TEST_CASE("AdamW follows PyTorch's algorithm with a nonzero gradient over several steps") {
  // torch.optim.AdamW: g = grad(p_{t-1}); p <- p - lr wd p; m, v as Adam;
  // p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). wd = 0.5 and lr = 0.1 make
  // the order visible: decaying after the Adam step, or decay as L2 in the gradient (Adam),
  // moves p by >= 1e-3 from this, far above the float64 rounding allowed (rel 1e-12).
  const Quadratic q;
  Tensor p = param({1.0, -2.0, 0.5});
  auto opt = optim::make_adamw({p}, 0.1, 0.5);
  CHECK(opt->options().decoupled_weight_decay);
  double ref[3] = {1.0, -2.0, 0.5}, m[3] = {}, v[3] = {};
  for (int t = 1; t <= 5; ++t) {
    CAPTURE(t);
    opt->zero_grad();
    q.loss(p).backward();
    opt->step();
    for (int i = 0; i < 3; ++i) {
      const double g = q.grad(i, ref[i]);
      ref[i] -= 0.1 * 0.5 * ref[i];
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double m_hat = m[i] / (1 - std::pow(0.9, t)), v_hat = v[i] / (1 - std::pow(0.999, t));
      ref[i] -= 0.1 * m_hat / (std::sqrt(v_hat) + 1e-8);
    }
    for (int i = 0; i < 3; ++i) CHECK(p.to_vector()[i] == doctest::Approx(ref[i]).epsilon(1e-12));
  }
  // Same run as Adam with L2 decay: must differ (decoupled decay is not L2).
  Tensor p2 = param({1.0, -2.0, 0.5});
  optim::Adam l2({p2}, {.lr = 0.1, .weight_decay = 0.5});
  for (int t = 1; t <= 5; ++t) {
    l2.zero_grad();
    q.loss(p2).backward();
    l2.step();
  }
  CHECK(std::abs(p2.to_vector()[0] - ref[0]) > 1e-3);
}

TEST_CASE("AdamW with a zero gradient only decays the weights") {
  Tensor p = param({2.0});
  auto opt = optim::make_adamw({p}, 0.1, 0.5);
  sum(p * 0.0).backward();  // zero gradient: only the decay moves p
  opt->step();
  CHECK(p.item() == doctest::Approx(2.0 * (1 - 0.1 * 0.5)));
  CHECK(optim::make_adamw({p}, 0.1)->options().weight_decay == 1e-2);  // PyTorch's default
}

// torch.optim.SGD (dampening 0): g = grad + wd p; b = g at step 1, else mu b + g;
// d = g + mu b (Nesterov) or b; p <- p - lr d. Written out in float64 for five steps.
static void check_sgd_against_formula(double momentum, double weight_decay, bool nesterov) {
  CAPTURE(momentum);
  CAPTURE(weight_decay);
  CAPTURE(nesterov);
  const Quadratic q;
  const double lr = 0.05;
  Tensor p = param({1.0, -2.0, 0.5});
  optim::SGD opt(
      {p}, {.lr = lr, .momentum = momentum, .weight_decay = weight_decay, .nesterov = nesterov});
  double ref[3] = {1.0, -2.0, 0.5}, buf[3] = {};
  for (int t = 1; t <= 5; ++t) {
    CAPTURE(t);
    opt.zero_grad();
    q.loss(p).backward();
    opt.step();
    for (int i = 0; i < 3; ++i) {
      double g = q.grad(i, ref[i]) + weight_decay * ref[i];
      if (momentum != 0) {
        buf[i] = t == 1 ? g : momentum * buf[i] + g;
        g = nesterov ? g + momentum * buf[i] : buf[i];
      }
      ref[i] -= lr * g;
    }
    for (int i = 0; i < 3; ++i) CHECK(p.to_vector()[i] == doctest::Approx(ref[i]).epsilon(1e-12));
  }
}

TEST_CASE("SGD follows PyTorch's algorithm: weight decay, momentum, Nesterov") {
  check_sgd_against_formula(0.0, 0.1, false);  // plain SGD with L2 weight decay
  check_sgd_against_formula(0.9, 0.0, false);
  check_sgd_against_formula(0.9, 0.1, false);
  check_sgd_against_formula(0.8, 0.1, true);
}

TEST_CASE("SGD with momentum: the first step copies the gradient into the buffer") {
  Tensor p = param({1.0});
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  double ref = 1.0, buf = 0;
  for (int t = 0; t < 3; ++t) {
    opt.zero_grad();
    sum(p * 3.0).backward();  // grad = 3
    opt.step();
    buf = t == 0 ? 3.0 : 0.9 * buf + 3.0;
    ref -= 0.1 * buf;
    CHECK(p.item() == doctest::Approx(ref));
  }
  CHECK_THROWS_AS(optim::SGD({p}, {.momentum = 0, .nesterov = true}), std::invalid_argument);
}

TEST_CASE("parameters without gradients are left alone") {
  Tensor a = param({1.0}), b = param({5.0});
  optim::Adam opt({a, b}, {.lr = 0.1});
  sum(a).backward();
  opt.step();
  CHECK(a.item() != 1.0);
  CHECK(b.item() == 5.0);
}

TEST_CASE("clip_grad_norm scales to the max norm and returns the old norm") {
  Tensor a = param({0.0, 0.0}), b = param({0.0});
  sum(a * 3.0).backward();  // grads (3, 3) and (4)
  sum(b * 4.0).backward();
  double norm = optim::clip_grad_norm({a, b}, 1.0);
  CHECK(norm == doctest::Approx(std::sqrt(34.0)));
  double after = std::sqrt(std::pow(a.grad().to_vector()[0], 2) * 2 + std::pow(b.grad().item(), 2));
  CHECK(after == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(optim::clip_grad_norm({a, b}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));  // no-op
}

TEST_CASE("learning-rate schedules") {
  optim::StepLR step(0.1, 10, 0.5);
  CHECK(step.lr_at(9) == doctest::Approx(0.1));
  CHECK(step.lr_at(10) == doctest::Approx(0.05));
  optim::CosineLR cos(1.0, 10, 0.0);
  CHECK(cos.lr_at(0) == doctest::Approx(1.0));
  CHECK(cos.lr_at(5) == doctest::Approx(0.5));
  CHECK(cos.lr_at(10) == doctest::Approx(0.0));
}

TEST_CASE("optimiser arguments are validated") {
  Tensor p = param({1.0});
  CHECK_THROWS_AS(optim::Adam({p}, {.lr = -1}), std::invalid_argument);
  CHECK_THROWS_AS(optim::Adam({p}, {.beta1 = 1.0}), std::invalid_argument);
  CHECK_THROWS_WITH_AS(optim::SGD({Tensor::zeros({1})}, {}), doctest::Contains("requires grad"),
                       std::invalid_argument);
}
