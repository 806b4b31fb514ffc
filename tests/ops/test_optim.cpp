// Optimisers against PyTorch's update rules written out by hand, clipping, schedules.
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

TEST_CASE("AdamW decays the weights before the Adam step") {
  Tensor p = param({2.0});
  auto opt = optim::make_adamw({p}, 0.1, 0.5);
  sum(p * 0.0).backward();  // zero gradient: only the decay moves p
  opt->step();
  CHECK(p.item() == doctest::Approx(2.0 * (1 - 0.1 * 0.5)));
}

TEST_CASE("SGD with momentum and Nesterov") {
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
  Tensor q = param({1.0});
  optim::SGD nes({q}, {.lr = 0.1, .momentum = 0.5, .nesterov = true});
  sum(q * 2.0).backward();
  nes.step();
  CHECK(q.item() == doctest::Approx(1.0 - 0.1 * (2.0 + 0.5 * 2.0)));
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
