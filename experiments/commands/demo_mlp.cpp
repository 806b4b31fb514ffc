// `melgrad demo-mlp`: fits a two-layer MLP to a noisy two-spiral problem with the engine's
// autograd and plain gradient descent, printing the loss and accuracy as they improve.
// A smoke test of the engine that needs no data set.
#include <cmath>
#include <cstdio>

#include "engine/autograd.h"
#include "engine/ops/ops.h"
#include "experiments/cli.h"

using namespace melgrad;

namespace {

// Two interleaved spirals, `n` points each, labels 0/1 as a [2n, 1] float column.
void make_spirals(int64_t n, Generator& gen, Tensor& x, Tensor& y) {
  std::vector<float> xs, ys;
  for (int cls = 0; cls < 2; ++cls)
    for (int64_t i = 0; i < n; ++i) {
      double r = 0.2 + 0.8 * double(i) / n, t = 3.5 * double(i) / n + cls * M_PI;
      xs.push_back(float(r * std::cos(t) + gen.normal(0, 0.03)));
      xs.push_back(float(r * std::sin(t) + gen.normal(0, 0.03)));
      ys.push_back(float(cls));
    }
  x = Tensor::from_vector(xs, {2 * n, 2});
  y = Tensor::from_vector(ys, {2 * n, 1});
}

int run(const cli::Args& args) {
  const int64_t steps = args.integer("steps"), hidden = args.integer("hidden");
  const double lr = args.number("lr");
  if (steps <= 0 || hidden <= 0 || !(lr > 0))
    throw cli::UsageError("--steps, --hidden and --lr must be positive");
  Generator gen(static_cast<uint64_t>(args.integer("seed")));
  Tensor x, y;
  make_spirals(200, gen, x, y);
  Tensor w1 = Tensor::normal({2, hidden}, 0, 1.0, gen).requires_grad_();
  Tensor b1 = Tensor::zeros({hidden}).requires_grad_();
  Tensor w2 = Tensor::normal({hidden, 1}, 0, 1.0 / std::sqrt(double(hidden)), gen).requires_grad_();
  Tensor b2 = Tensor::zeros({1}).requires_grad_();
  std::printf(
      "demo-mlp: 2 -> %lld -> 1 MLP on 400 two-spiral points, %lld steps of gradient descent\n",
      (long long)hidden, (long long)steps);
  for (int64_t step = 0; step <= steps; ++step) {
    Tensor p = sigmoid(matmul(tanh(matmul(x, w1) + b1), w2) + b2);
    // Binary cross-entropy, clamped away from log(0).
    Tensor pc = clamp(p, 1e-7, 1 - 1e-7);
    Tensor loss = -mean(y * log(pc) + (1.0 - y) * log(1.0 - pc));
    if (!std::isfinite(loss.item()))
      throw std::runtime_error("loss became " + std::to_string(loss.item()) + " at step " +
                               std::to_string(step) + "; try a smaller --lr");
    if (step % (steps / 10 > 0 ? steps / 10 : 1) == 0) {
      double acc = mean(eq(gt(p, Tensor::scalar(0.5)), y)).item();
      std::printf("  step %5lld  loss %.4f  accuracy %.3f\n", (long long)step, loss.item(), acc);
    }
    if (step == steps) break;
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor* w : {&w1, &b1, &w2, &b2}) {
      w->copy_(*w - w->grad() * lr);
      w->zero_grad();
    }
  }
  return 0;
}

cli::CommandRegistrar reg({.name = "demo-mlp",
                           .summary = "fit a small MLP to two spirals (engine smoke test)",
                           .options = {{"steps", "gradient-descent steps", "2000"},
                                       {"hidden", "hidden units", "64"},
                                       {"lr", "learning rate", "0.5"},
                                       {"seed", "random seed", "0"}},
                           .positional_help = "",
                           .run = run});

}  // namespace
