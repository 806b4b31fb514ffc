// Training on cuda (the kernel emulator in CI) against the CPU, from the same seed, data and
// initial weights: an MLP classifier on two spirals (Linear, ReLU, Dropout, cross-entropy,
// Adam) and a regression head (MSE, SGD with Nesterov momentum and weight decay, gradient
// clipping). Losses are compared at every step and the parameters at the end.
//
// Tolerance: both devices run the same float32 formulas, but sum in different orders
// (Eigen's blocked GEMM vs our tiles; sequential vs warp-tree reductions), so each step's
// values differ by a few ulp (~1e-7 relative); Adam and SGD carry such differences along
// without amplifying them much over 25 steps of a smooth problem. We require
// |loss_cuda - loss_cpu| <= 1e-4 |loss_cpu| at every step and parameters within
// 1e-4 (absolute + relative) at the end; the measured gaps are printed.
// Expected per build: the same bounds for the emulator and a GPU (cuBLAS or our GEMM tiles
// on a GPU: other orders, the same float32 scale of differences).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"

using namespace melgrad;

namespace {

// Two interleaved spirals, n points each: x [2n, 2] float32, labels int64 [2n] (0 or 1).
void make_spirals(int64_t n, Generator& gen, Tensor& x, Tensor& labels) {
  std::vector<float> xs;
  std::vector<int64_t> ys;
  for (int cls = 0; cls < 2; ++cls)
    for (int64_t i = 0; i < n; ++i) {
      const double r = 0.2 + 0.8 * double(i) / double(n),
                   t = 3.5 * double(i) / double(n) + cls * M_PI;
      xs.push_back(float(r * std::cos(t) + gen.normal(0, 0.03)));
      xs.push_back(float(r * std::sin(t) + gen.normal(0, 0.03)));
      ys.push_back(cls);
    }
  x = Tensor::from_vector(xs, {2 * n, 2});
  labels = Tensor::from_vector(ys, {2 * n});
}

struct Run {
  std::vector<double> losses;
  std::vector<Tensor> params;  // on the CPU, after training
};

Run train_spirals(Device device, int steps) {
  Generator gen(11);
  Tensor x, labels;
  make_spirals(100, gen, x, labels);
  nn::Sequential model({std::make_shared<nn::Linear>(2, 32, gen), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Dropout>(0.1, 5),
                        std::make_shared<nn::Linear>(32, 32, gen), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Linear>(32, 2, gen)});
  model.to(device);
  x = x.to(device);
  labels = labels.to(device);
  optim::Adam opt(model.parameters(), {.lr = 1e-2});
  Run run;
  for (int step = 0; step < steps; ++step) {
    Tensor loss = cross_entropy(model.forward(x), labels);
    run.losses.push_back(loss.item());
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  for (const Tensor& p : model.parameters()) run.params.push_back(p.to(Device::cpu()));
  return run;
}

Run train_regression(Device device, int steps) {
  Generator gen(12);
  const Tensor x = Tensor::normal({64, 8}, 0, 1, gen);
  const Tensor target = Tensor::normal({64, 3}, 0, 1, gen);
  nn::Sequential model({std::make_shared<nn::Linear>(8, 16, gen), std::make_shared<nn::ReLU>(),
                        std::make_shared<nn::Linear>(16, 3, gen)});
  model.to(device);
  const Tensor xd = x.to(device), td = target.to(device);
  optim::SGD opt(model.parameters(),
                 {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true});
  Run run;
  for (int step = 0; step < steps; ++step) {
    Tensor loss = mse_loss(model.forward(xd), td);
    run.losses.push_back(loss.item());
    opt.zero_grad();
    loss.backward();
    optim::clip_grad_norm(model.parameters(), 0.5);
    opt.step();
  }
  for (const Tensor& p : model.parameters()) run.params.push_back(p.to(Device::cpu()));
  return run;
}

void compare_runs(const Run& cpu, const Run& gpu) {
  REQUIRE(cpu.losses.size() == gpu.losses.size());
  double worst = 0;
  for (std::size_t i = 0; i < cpu.losses.size(); ++i) {
    CAPTURE(i);
    const double rel = std::abs(gpu.losses[i] - cpu.losses[i]) / std::abs(cpu.losses[i]);
    worst = std::max(worst, rel);
    CHECK(rel <= 1e-4);
  }
  double param_gap = 0;
  REQUIRE(cpu.params.size() == gpu.params.size());
  for (std::size_t i = 0; i < cpu.params.size(); ++i) {
    param_gap = std::max(param_gap, max_abs_diff(gpu.params[i], cpu.params[i]));
    CHECK(allclose(gpu.params[i], cpu.params[i], 1e-4, 1e-4));
  }
  MESSAGE("loss " << cpu.losses.front() << " -> " << cpu.losses.back()
                  << "; largest relative loss gap " << worst << ", parameter gap " << param_gap);
}

}  // namespace

TEST_CASE("an MLP trains on cuda to the CPU's losses: spirals, cross-entropy, dropout, Adam") {
  const int steps = 25;
  const Run cpu = train_spirals(Device::cpu(), steps);
  const Run gpu = train_spirals(Device::cuda(), steps);
  CHECK(cpu.losses.back() < 0.8 * cpu.losses.front());  // it does learn
  compare_runs(cpu, gpu);
}

TEST_CASE("regression on cuda matches the CPU: MSE, SGD with Nesterov momentum, clipping") {
  const int steps = 25;
  const Run cpu = train_regression(Device::cpu(), steps);
  const Run gpu = train_regression(Device::cuda(), steps);
  CHECK(cpu.losses.back() < cpu.losses.front());
  compare_runs(cpu, gpu);
}
