// CNN tests against the PyTorch golden fixtures (tests/fixtures/README.md):
// cnn_bn_batchstats, cnn_bn_running and cnn_mse_maxpool3. Each builds the fixture's network
// from engine modules (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Flatten, Linear, Dropout(0)),
// loads PyTorch's initial parameters and buffers by their state_dict names, and checks the
// features, logits, loss, every parameter's gradient, then 3 Adam steps: each step's loss,
// every parameter (and BatchNorm buffer) after each update; cnn_bn_running also checks the
// eval-mode forward with the running statistics. Plus a float64 gradient check of a whole
// conv -> BatchNorm -> ReLU -> MaxPool -> Linear network (x and every parameter), and
// avg_pool2d's values against PyTorch's (tests/fixtures/make_avg_pool2d_values.py).
// Shapes: x [N, 1, T, F] = [3, 1, 20, 16]; features [3, 8, 5, 4] or [3, 8, 2, 1].
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/gradcheck.h"
#include "engine/nn/cnn_layers.h"
#include "engine/nn/layers.h"
#include "engine/ops/cnn.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "tests/ops/npy_fixture.h"
#include "tests/ops/tensor_checks.h"

using namespace melgrad;
using test::check_close;
using test::fixture;

namespace {

// ---- tolerances ---------------------------------------------------------------------------
// PyTorch's own float32 error on these cases is <= 1e-6 for forward values, gradients and
// Adam updates (manifest f64_max_abs_diff); a float32 engine with other summation orders
// lands about as far from the exact values, so |melgrad - PyTorch| is a few 1e-6 on values
// of O(0.1 .. 1). rtol 1e-4 with atol 1e-5 leaves a margin of ~10x, while a wrong formula
// (a missing bias, a biased/unbiased variance swap, the wrong pooling window) is >= 1e-3.
constexpr double kRtol = 1e-4, kAtol = 1e-5;
// The conv biases in front of a training-mode BatchNorm have an exactly zero gradient:
// their float32 gradients are rounding noise (~1e-9), compared absolutely at 1e-6.
constexpr double kNoiseGradAtol = 1e-6;
// Their Adam updates are driven by weight_decay * p plus that noise (Adam divides by the
// noise's own magnitude), so PyTorch itself is up to 1.2e-4 off the float64 result for
// them, and for what they feed in eval mode (features_eval) or through the batch mean into
// running_mean. Those files are compared at 5e-4: about twice PyTorch's own error, still
// far below the lr = 1e-2 step every update moves a parameter by.
constexpr double kNoisyAtol = 5e-4;

struct CaseConfig {
  std::string dir;
  enum Norm { none, batch_stats, running } norm;
  int64_t pool;
  int64_t flat, out;   // classifier: flat -> 16 -> 8 -> out
  bool cross_entropy;  // else MSE against float targets [N, 1]
  double weight_decay;
};

// The fixture's network with PyTorch's module indices: features = Sequential(conv, [bn],
// relu, pool, conv, [bn], relu, pool), classifier = Sequential(Linear, ReLU, Dropout(0),
// Linear, ReLU, Dropout(0), Linear).
struct FixtureCnn : nn::Layer {
  std::shared_ptr<nn::Sequential> features, classifier;
  std::vector<std::string> noise_params;  // conv biases in front of training-mode BatchNorm

  FixtureCnn(const CaseConfig& c, Generator& g) {
    std::vector<std::shared_ptr<nn::Layer>> f;
    int64_t in = 1;
    for (int64_t out : {4, 8}) {
      if (c.norm == CaseConfig::batch_stats || c.norm == CaseConfig::running)
        noise_params.push_back("features." + std::to_string(f.size()) + ".bias");
      f.push_back(std::make_shared<nn::Conv2d>(in, out, 3, g, 1, 1));
      if (c.norm != CaseConfig::none)
        f.push_back(
            std::make_shared<nn::BatchNorm2d>(out, 1e-5, 0.1, true, c.norm == CaseConfig::running));
      f.push_back(std::make_shared<nn::ReLU>());
      f.push_back(std::make_shared<nn::MaxPool2d>(c.pool));
      in = out;
    }
    features = register_module("features", std::make_shared<nn::Sequential>(f));
    classifier = register_module(
        "classifier",
        std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Layer>>{
            std::make_shared<nn::Linear>(c.flat, 16, g), std::make_shared<nn::ReLU>(),
            std::make_shared<nn::Dropout>(0.0, 1), std::make_shared<nn::Linear>(16, 8, g),
            std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.0, 2),
            std::make_shared<nn::Linear>(8, c.out, g)}));
  }
  Tensor forward(const Tensor& x) override {
    return classifier->forward(flatten(features->forward(x), 1));
  }
  bool noisy(const std::string& name) const {
    for (const std::string& n : noise_params)
      if (n == name) return true;
    return false;
  }
};

bool is_running_mean_after_noisy_bias(const std::string& name) {
  // running_mean of the second BatchNorm averages conv features.4's output, bias included.
  return name == "features.5.running_mean";
}

void check_case(const CaseConfig& c, DType dt) {
  Generator g(7);  // the initial values are replaced by PyTorch's below
  FixtureCnn net(c, g);
  std::map<std::string, Tensor> state;
  for (auto& [name, t] : net.named_parameters()) state[name] = fixture(c.dir, "params0/" + name);
  for (auto& [name, t] : net.named_buffers()) state[name] = fixture(c.dir, "buffers0/" + name);
  net.load_state(state);  // strict: every name and shape must be PyTorch's
  net.to(dt);
  const Tensor x = fixture(c.dir, "x").to(dt);
  const Tensor targets =
      c.cross_entropy ? fixture(c.dir, "targets") : fixture(c.dir, "targets").to(dt);
  auto loss_of = [&](const Tensor& logits) {
    return c.cross_entropy ? cross_entropy(logits, targets) : mse_loss(logits, targets);
  };

  // ---- forward and gradients at the initial parameters ----
  Tensor features = net.features->forward(x);
  check_close(features, fixture(c.dir, "features"), kRtol, kAtol, "features");
  Tensor logits = net.classifier->forward(flatten(features, 1));
  check_close(logits, fixture(c.dir, "logits"), kRtol, kAtol, "logits");
  Tensor loss = loss_of(logits);
  check_close(loss, fixture(c.dir, "loss"), kRtol, kAtol, "loss");
  loss.backward();
  for (auto& [name, t] : net.named_parameters()) {
    REQUIRE_MESSAGE(t.grad().defined(), "no gradient for ", name);
    if (net.noisy(name))
      check_close(t.grad(), fixture(c.dir, "grads/" + name), 0, kNoiseGradAtol, "grad " + name);
    else
      check_close(t.grad(), fixture(c.dir, "grads/" + name), kRtol, kAtol, "grad " + name);
  }
  // The forward above counted as a training step for the running statistics; start over
  // from PyTorch's initial buffers so that step 1 below is the fixture's first forward.
  std::map<std::string, Tensor> buffers0;
  for (auto& [name, t] : net.named_buffers()) buffers0[name] = fixture(c.dir, "buffers0/" + name);
  net.load_state(buffers0, /*strict=*/false);

  // ---- 3 Adam steps ----
  optim::Adam adam(net.parameters(), {.lr = 1e-2, .weight_decay = c.weight_decay});
  for (int step = 1; step <= 3; ++step) {
    CAPTURE(step);
    const std::string sd = "steps/" + std::to_string(step) + "/";
    net.zero_grad();
    Tensor step_loss = loss_of(net.forward(x));
    check_close(step_loss, fixture(c.dir, sd + "loss"), kRtol, kAtol, "step loss");
    step_loss.backward();
    adam.step();
    for (auto& [name, t] : net.named_parameters())
      check_close(t, fixture(c.dir, sd + name), net.noisy(name) ? 0 : kRtol,
                  net.noisy(name) ? kNoisyAtol : kAtol, "parameter " + name);
    for (auto& [name, t] : net.named_buffers()) {
      if (t.dtype() == DType::i64) {
        CHECK_MESSAGE(t.item() == fixture(c.dir, sd + name).item(), name);
        continue;
      }
      const bool noisy = is_running_mean_after_noisy_bias(name);
      check_close(t, fixture(c.dir, sd + name), noisy ? 0 : kRtol, noisy ? kNoisyAtol : kAtol,
                  "buffer " + name);
    }
  }

  if (c.norm == CaseConfig::running) {  // eval: BatchNorm normalises with the running stats
    net.eval();
    Tensor fe = net.features->forward(x);
    check_close(fe, fixture(c.dir, "features_eval"), 0, kNoisyAtol, "features_eval");
    check_close(net.classifier->forward(flatten(fe, 1)), fixture(c.dir, "logits_eval"), 0,
                kNoisyAtol, "logits_eval");
  }
}

}  // namespace

TEST_CASE("PyTorch fixture cnn_bn_batchstats: BatchNorm with batch statistics, cross-entropy") {
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dt));
    check_case({"cnn_bn_batchstats", CaseConfig::batch_stats, 2, 160, 5, true, 1e-4}, dt);
  }
}

TEST_CASE("PyTorch fixture cnn_bn_running: tracked running statistics, then eval mode") {
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dt));
    check_case({"cnn_bn_running", CaseConfig::running, 2, 160, 5, true, 1e-4}, dt);
  }
}

TEST_CASE("PyTorch fixture cnn_mse_maxpool3: MaxPool2d(3) in floor mode, MSE regression") {
  for (DType dt : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dt));
    check_case({"cnn_mse_maxpool3", CaseConfig::none, 3, 16, 1, false, 0.0}, dt);
  }
}

TEST_CASE("a fixture-shaped CNN passes a float64 gradient check in x and every parameter") {
  // conv(1->3) -> BatchNorm (batch stats, then running stats in eval) -> ReLU -> MaxPool(2)
  // -> conv(3->4) -> BatchNorm -> ReLU -> MaxPool(3, floor: 7x6 -> 2x2) -> Linear(16, 3).
  // Random inputs: no ReLU kink or pooling tie lies within the finite-difference step.
  for (bool training : {true, false}) {
    CAPTURE(training);
    Generator g(training ? 5 : 6);
    auto in = [&](const Shape& s, double lo = -1, double hi = 1) {
      Tensor t = Tensor::uniform(s, lo, hi, g, DType::f64);
      t.requires_grad_();
      return t;
    };
    TensorList inputs{in({2, 1, 14, 12}),
                      in({3, 1, 3, 3}),
                      in({3}),
                      in({3}, 0.5, 1.5),
                      in({3}),
                      in({4, 3, 3, 3}),
                      in({4}),
                      in({4}, 0.5, 1.5),
                      in({4}),
                      in({3, 16}),
                      in({3})};
    auto rm1 = std::make_shared<Tensor>(Tensor::uniform({3}, -0.2, 0.2, g, DType::f64));
    auto rv1 = std::make_shared<Tensor>(Tensor::uniform({3}, 0.5, 1.5, g, DType::f64));
    auto rm2 = std::make_shared<Tensor>(Tensor::uniform({4}, -0.2, 0.2, g, DType::f64));
    auto rv2 = std::make_shared<Tensor>(Tensor::uniform({4}, 0.5, 1.5, g, DType::f64));
    GradCheckCase gc{
        "cnn", inputs, [=](const TensorList& t) {
          // training: batch statistics (no running buffers); eval: running stats
          Tensor* m1 = training ? nullptr : rm1.get();
          Tensor* v1 = training ? nullptr : rv1.get();
          Tensor* m2 = training ? nullptr : rm2.get();
          Tensor* v2 = training ? nullptr : rv2.get();
          Tensor h = conv2d(t[0], t[1], t[2], {{1, 1}, {1, 1}});
          h = max_pool2d(relu(batch_norm(h, t[3], t[4], m1, v1, training)), {.kernel = {2, 2}});
          h = conv2d(h, t[5], t[6], {{1, 1}, {1, 1}});
          h = max_pool2d(relu(batch_norm(h, t[7], t[8], m2, v2, training)), {.kernel = {3, 3}});
          return matmul(flatten(h, 1), transpose(t[9], 0, 1)) + t[10];
        }};
    gc.atol = 1e-6;
    gc.rtol = 1e-5;
    GradCheckResult r = gradcheck(gc);
    CHECK_MESSAGE(r.ok, r.message);
    CHECK(r.max_error < 1e-6);
  }
}

// avg_pool2d against PyTorch's F.avg_pool2d (count_include_pad=True), printed in float64 by
// tests/fixtures/make_avg_pool2d_values.py: y and d(sum(y * w)) / dx for the inputs
//   x[i] = ((7 i) mod 11 - 5) / 4 + i / 64,  w[i] = ((5 i) mod 7 - 3) / 2   (flat index i).
// float64 to 1e-15 (one division per value); float32 to 1e-6 (sums of <= 9 values).
namespace {

std::vector<double> pool_formula(int64_t n, int64_t a, int64_t b, int64_t c, double d) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = double((a * i) % b - c) / d;
  return v;
}

void check_avg_pool(const Shape& xs, Pool2dOptions opt, const std::vector<double>& y_torch,
                    const std::vector<double>& gx_torch) {
  int64_t n = 1;
  for (int64_t e : xs) n *= e;
  std::vector<double> xv = pool_formula(n, 7, 11, 5, 4.0);
  for (int64_t i = 0; i < n; ++i) xv[static_cast<size_t>(i)] += double(i) / 64;
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dt == DType::f64);
    const double tol = dt == DType::f64 ? 1e-15 : 1e-6;
    Tensor x = Tensor::from_vector(xv, xs).to(dt).requires_grad_(true);
    Tensor y = avg_pool2d(x, opt);
    REQUIRE(y.numel() == static_cast<int64_t>(y_torch.size()));
    Tensor w = Tensor::from_vector(pool_formula(y.numel(), 5, 7, 3, 2.0), y.shape()).to(dt);
    sum(mul(y, w)).backward();
    const std::vector<double> yv = y.to_vector(), gxv = x.grad().to_vector();
    REQUIRE(gxv.size() == gx_torch.size());
    for (size_t i = 0; i < yv.size(); ++i) CHECK(std::abs(yv[i] - y_torch[i]) <= tol);
    for (size_t i = 0; i < gxv.size(); ++i) CHECK(std::abs(gxv[i] - gx_torch[i]) <= tol);
  }
}

}  // namespace

TEST_CASE("avg_pool2d matches PyTorch: padding counted, ceil mode's clipped divisors") {
  // 3x3 stride 2 pad 1 ceil mode: x [1, 1, 5, 6] -> y [1, 1, 3, 4]
  check_avg_pool(
      {1, 1, 5, 6}, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true},
      {0.052083333333333336, 0.16319444444444445, 0.072916666666666671, -0.29166666666666669,
       0.13020833333333334, 0.24652777777777779, 0.1111111111111111, 0.17447916666666666,
       0.12152777777777778, 0.2673611111111111, 0.17708333333333334, 0.21875},
      {-0.16666666666666666,
       -0.055555555555555552,
       0.1111111111111111,
       0.1111111111111111,
       0,
       -0.16666666666666666,
       0,
       0.16666666666666666,
       0.16666666666666666,
       0.1111111111111111,
       -0.055555555555555552,
       -0.47222222222222221,
       0.16666666666666666,
       0.22222222222222221,
       0.055555555555555552,
       0,
       -0.055555555555555552,
       -0.30555555555555558,
       0.27777777777777779,
       0.33333333333333331,
       0.055555555555555552,
       -0.1111111111111111,
       -0.16666666666666666,
       -0.16666666666666669,
       0.1111111111111111,
       0.1111111111111111,
       0,
       -0.1111111111111111,
       -0.1111111111111111,
       0.1388888888888889});
  // 2x3 stride (2, 1) pad (1, 1): x [1, 2, 4, 5] -> y [1, 2, 3, 5]
  check_avg_pool({1, 2, 4, 5}, {.kernel = {2, 3}, .stride = {2, 1}, .padding = {1, 1}},
                 {-0.12239583333333333,
                  -0.20052083333333334,
                  0.22395833333333334,
                  0.19010416666666666,
                  0.26822916666666669,
                  -0.125,
                  0.0078125,
                  -0.059895833333333336,
                  0.33072916666666669,
                  0.19791666666666666,
                  -0.0026041666666666665,
                  0.20833333333333334,
                  0.17447916666666666,
                  0.140625,
                  -0.0703125,
                  0.19010416666666666,
                  0.0390625,
                  0.005208333333333333,
                  -0.028645833333333332,
                  0.12239583333333333,
                  0.5,
                  0.48697916666666669,
                  0.41927083333333331,
                  0.3515625,
                  0.36458333333333331,
                  0.30989583333333331,
                  0.44791666666666669,
                  0.4140625,
                  0.38020833333333331,
                  0.2421875},
                 {-0.083333333333333343,
                  -0.083333333333333343,
                  0,
                  0.083333333333333343,
                  0.083333333333333343,
                  0,
                  -0.25,
                  -0.16666666666666666,
                  -0.083333333333333343,
                  0.16666666666666666,
                  0,
                  -0.25,
                  -0.16666666666666666,
                  -0.083333333333333343,
                  0.16666666666666666,
                  0.083333333333333343,
                  0.16666666666666669,
                  0.25,
                  -0.25,
                  -0.33333333333333331,
                  0.16666666666666666,
                  0,
                  0.083333333333333343,
                  0.16666666666666669,
                  0.33333333333333331,
                  -0.33333333333333331,
                  -0.16666666666666666,
                  -0.083333333333333343,
                  0,
                  -0.16666666666666666,
                  -0.33333333333333331,
                  -0.16666666666666666,
                  -0.083333333333333343,
                  0,
                  -0.16666666666666666,
                  0.33333333333333331,
                  0.25,
                  -0.25,
                  -0.16666666666666666,
                  -0.083333333333333343});
  // pool 2 ceil mode, odd sizes: x [2, 1, 5, 3] -> y [2, 1, 3, 2]
  check_avg_pool({2, 1, 5, 3}, {.kernel = {2, 2}, .ceil_mode = true},
                 {0.21875, -0.5703125, 0.5, -0.9765625, 0.1953125, 1.46875, -0.109375, 1.1640625,
                  0.171875, 0.7578125, 0.5546875, 0.453125},
                 {-0.375, -0.375, 0.5,  -0.375, -0.375, 0.5,    0,      0,     -0.5,   0,
                  0,      -0.5,   0.75, 0.75,   0.5,    -0.125, -0.125, -0.75, -0.125, -0.125,
                  -0.75,  0.25,   0.25, 0,      0.25,   0.25,   0,      -0.5,  -0.5,   1.5});
}
