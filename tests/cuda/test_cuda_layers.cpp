// The CNN and LSTM layer ops on cuda (the kernel emulator in CI) against the CPU, beyond the
// registry's small gradient-check cases: BatchNorm in training (batch statistics, running
// statistics updated) and in eval (running statistics, and batch statistics without them);
// a variable-length BiLSTM layer and the 2-layer stack with the study's readout, lengths on
// the device; max-pooling windows with several NaNs; and the checks that run on the device
// instead of reading values back (class targets, sequence lengths), reported at the next
// synchronisation.
//
// Tolerance: float32 on both devices; the CPU sums BatchNorm's statistics in double and the
// device in float trees (Welford per thread, Chan's merge), over <= 300 values of O(1) here;
// the LSTM's products have <= 12 terms per step and carry rounding through 9 steps. Results
// agree to a few ulp of the magnitudes involved: |cuda - cpu| <= 2e-5 + 2e-5 |cpu|.
// Expected per build: the same values, tolerance and messages in test_cuda (emulator) and
// test_cuda_native (GPU); the device-side checks' messages are the engine's own. On a GPU
// with cuDNN, BatchNorm and max-pooling go through cuDNN (its own reduction orders, inside
// the tolerance; NaN propagated as CUDNN_PROPAGATE_NAN).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "engine/ops/cnn.h"
#include "engine/ops/loss.h"
#include "engine/ops/lstm.h"
#include "engine/ops/ops.h"

using namespace melgrad;

namespace {

constexpr double kRtol = 2e-5, kAtol = 2e-5;

// A float32 leaf that requires grad, as a copy of `values` on `device`.
Tensor leaf(const Tensor& values, Device device) {
  Tensor t = values.to(device).detach();
  t.requires_grad_();
  return t;
}

std::string gap(const Tensor& cuda, const Tensor& cpu) {
  std::ostringstream s;
  s << "max |cuda - cpu| = " << max_abs_diff(cuda.to(Device::cpu()), cpu) << " for " << cpu.str();
  return s.str();
}

#define CHECK_CLOSE(cuda_tensor, cpu_tensor)                                           \
  CHECK_MESSAGE(allclose((cuda_tensor).to(Device::cpu()), (cpu_tensor), kRtol, kAtol), \
                gap((cuda_tensor), (cpu_tensor)))

struct BnRun {
  Tensor y, gx, gw, gb, running_mean, running_var;
};

// batch_norm on `device` from the same inputs; sum(y * w_out) is differentiated.
BnRun run_batch_norm(Device device, bool training, bool running, const Tensor& x0, const Tensor& w0,
                     const Tensor& b0, const Tensor& w_out) {
  Tensor x = leaf(x0, device), w = leaf(w0, device), b = leaf(b0, device);
  const int64_t C = x0.size(1);
  Tensor rm = Tensor::from_vector(std::vector<float>{0.1f, -0.2f, 0.3f}, {C}).to(device);
  Tensor rv = Tensor::from_vector(std::vector<float>{0.9f, 1.4f, 0.6f}, {C}).to(device);
  Tensor y =
      batch_norm(x, w, b, running ? &rm : nullptr, running ? &rv : nullptr, training, 0.1, 1e-5);
  sum(y * w_out.to(device)).backward();
  return {y, x.grad(), w.grad(), b.grad(), rm, rv};
}

}  // namespace

TEST_CASE("batch_norm on cuda matches the CPU in training and eval, gradients included") {
  Generator gen(31);
  const Tensor x = Tensor::uniform({4, 3, 5, 6}, -2, 3, gen);
  const Tensor w = Tensor::uniform({3}, 0.5, 1.5, gen), b = Tensor::uniform({3}, -1, 1, gen);
  const Tensor w_out = Tensor::uniform({4, 3, 5, 6}, -1, 1, gen);
  struct Mode {
    const char* name;
    bool training, running;
  };
  for (Mode m : {Mode{"training, batch statistics", true, false},
                 Mode{"training, running statistics updated", true, true},
                 Mode{"eval, running statistics", false, true},
                 Mode{"eval without running statistics: batch statistics", false, false}}) {
    CAPTURE(m.name);
    const BnRun cpu = run_batch_norm(Device::cpu(), m.training, m.running, x, w, b, w_out);
    const BnRun cuda = run_batch_norm(Device::cuda(), m.training, m.running, x, w, b, w_out);
    CHECK(cuda.y.device() == Device::cuda());
    CHECK_CLOSE(cuda.y, cpu.y);
    CHECK_CLOSE(cuda.gx, cpu.gx);
    CHECK_CLOSE(cuda.gw, cpu.gw);
    CHECK_CLOSE(cuda.gb, cpu.gb);
    CHECK_CLOSE(cuda.running_mean, cpu.running_mean);
    CHECK_CLOSE(cuda.running_var, cpu.running_var);
    if (m.training && m.running)  // the update happened (momentum 0.1 towards the batch)
      CHECK(max_abs_diff(cpu.running_mean,
                         Tensor::from_vector(std::vector<float>{0.1f, -0.2f, 0.3f}, {3})) > 1e-3);
  }
}

namespace {

struct LstmInputs {
  Tensor x;
  std::vector<int64_t> lengths;
  std::vector<Tensor> weights;  // w_ih, w_hh, b_ih, b_hh per direction, then layer 2's
};

LstmInputs lstm_inputs(Generator& gen, int64_t N, int64_t T, int64_t I, int64_t H,
                       std::vector<int64_t> lengths) {
  LstmInputs in;
  in.x = Tensor::uniform({N, T, I}, -1, 1, gen);
  in.lengths = std::move(lengths);
  for (int layer = 0; layer < 2; ++layer)
    for (int d = 0; d < 2; ++d) {
      const int64_t in_size = layer == 0 ? I : 2 * H;
      for (const Shape& s : {Shape{4 * H, in_size}, Shape{4 * H, H}, Shape{4 * H}, Shape{4 * H}})
        in.weights.push_back(Tensor::uniform(s, -0.4, 0.4, gen));
    }
  return in;
}

struct LstmRun {
  std::vector<Tensor> outputs;  // output, h_n, c_n of one layer; the stack's readout
  std::vector<Tensor> grads;    // x, then every weight
};

// One bidirectional layer (weights 0..7) and the 2-layer stack + readout, on `device`.
LstmRun run_lstm(Device device, const LstmInputs& in, const Tensor& w_layer,
                 const Tensor& w_readout) {
  Tensor x = leaf(in.x, device);
  const Tensor lengths =
      Tensor::from_vector(in.lengths, {static_cast<int64_t>(in.lengths.size())}).to(device);
  std::vector<Tensor> w;
  for (const Tensor& t : in.weights) w.push_back(leaf(t, device));
  std::vector<LstmWeights> layers;
  for (size_t k = 0; k < 4; ++k)
    layers.push_back({w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3]});

  auto one = lstm_bidirectional_layer(x, lengths, layers[0], layers[1]);
  Generator dropout_gen(5);
  LstmResult stack = lstm(x, lengths, layers, 2, true, 0.25, true, dropout_gen);
  Tensor readout = lstm_readout(stack.output, lengths, true);
  Tensor objective = sum(one[0] * w_layer.to(device)) + sum(one[1]) + 0.5 * sum(one[2]) +
                     sum(readout * w_readout.to(device));
  objective.backward();
  LstmRun r{{one[0], one[1], one[2], readout}, {x.grad()}};
  for (const Tensor& t : w) r.grads.push_back(t.grad());
  return r;
}

}  // namespace

TEST_CASE("variable-length BiLSTM on cuda matches the CPU: one layer, the stack and its readout") {
  Generator gen(32);
  // Unsorted lengths including 1 and T; H = 6 does not divide the kernels' unit slices.
  const int64_t N = 5, T = 9, I = 7, H = 6;
  const LstmInputs in = lstm_inputs(gen, N, T, I, H, {9, 4, 1, 7, 2});
  const Tensor w_layer = Tensor::uniform({N, T, 2 * H}, -1, 1, gen);
  const Tensor w_readout = Tensor::uniform({N, 2 * H}, -1, 1, gen);
  const LstmRun cpu = run_lstm(Device::cpu(), in, w_layer, w_readout);
  const LstmRun cuda = run_lstm(Device::cuda(), in, w_layer, w_readout);
  const char* names[] = {"output", "h_n", "c_n", "readout"};
  for (size_t i = 0; i < cpu.outputs.size(); ++i) {
    CAPTURE(names[i]);
    CHECK(cuda.outputs[i].device() == Device::cuda());
    CHECK_CLOSE(cuda.outputs[i], cpu.outputs[i]);
  }
  // Padded steps are exactly zero on both devices.
  const std::vector<double> out = cuda.outputs[0].to(Device::cpu()).to_vector();
  for (int64_t t = 1; t < T; ++t)
    for (int64_t k = 0; k < 2 * H; ++k) CHECK(out[(2 * T + t) * 2 * H + k] == 0.0);  // len 1
  REQUIRE(cpu.grads.size() == cuda.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    CAPTURE(i);  // 0: x; then layer 0 fwd w_ih, w_hh, b_ih, b_hh, layer 0 reverse, ...
    REQUIRE(cuda.grads[i].defined());
    CHECK_CLOSE(cuda.grads[i], cpu.grads[i]);
  }
}

TEST_CASE("max_pool2d on cuda routes the gradient to the last NaN, like the CPU") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // [1, 2, 4, 6] planes with two NaNs in several 2x2 windows and a 3x3 generic case.
  Generator gen(33);
  const std::vector<double> values = Tensor::uniform({1, 2, 4, 6}, -1, 1, gen).to_vector();
  std::vector<float> v(values.begin(), values.end());
  for (int64_t i : {1, 6, 9, 14, 15, 26, 33, 47}) v[i] = nan;
  const Tensor x0 = Tensor::from_vector(v, {1, 2, 4, 6});
  for (Pool2dOptions opt : {Pool2dOptions{.kernel = {2, 2}}, Pool2dOptions{.kernel = {3, 3}},
                            Pool2dOptions{.kernel = {3, 3}, .stride = {1, 1}}}) {
    CAPTURE(opt.kernel[0]);
    CAPTURE(opt.stride[0]);
    Tensor xc = leaf(x0, Device::cpu()), xg = leaf(x0, Device::cuda());
    const Tensor yc = max_pool2d(xc, opt), yg = max_pool2d(xg, opt);
    const Tensor w = Tensor::uniform(yc.shape(), 0.5, 1, gen);
    sum(yc * w).backward();
    sum(yg * w.to(Device::cuda())).backward();
    const std::vector<double> a = yc.to_vector(), b = yg.to(Device::cpu()).to_vector();
    for (size_t i = 0; i < a.size(); ++i)
      CHECK((a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))));
    CHECK(xg.grad().to(Device::cpu()).to_vector() == xc.grad().to_vector());
  }
}

TEST_CASE("bad targets and lengths on cuda are reported at the next synchronisation") {
  Generator gen(34);
  const Tensor logits = Tensor::uniform({3, 4}, -1, 1, gen).to(Device::cuda());
  const Tensor bad_targets =
      Tensor::from_vector(std::vector<int64_t>{0, 4, 1}, {3}).to(Device::cuda());
  Tensor loss = cross_entropy(logits, bad_targets);  // no read-back here: no throw yet
  CHECK_THROWS_WITH(loss.item(), doctest::Contains("cross_entropy: a target class outside [0, C)"));
  // The error word was reset: a good call afterwards works.
  const Tensor targets = Tensor::from_vector(std::vector<int64_t>{0, 3, 1}, {3}).to(Device::cuda());
  CHECK(std::isfinite(cross_entropy(logits, targets).item()));

  const int64_t N = 2, T = 3, I = 2, H = 2;
  LstmWeights w{Tensor::uniform({4 * H, I}, -1, 1, gen).to(Device::cuda()),
                Tensor::uniform({4 * H, H}, -1, 1, gen).to(Device::cuda()),
                Tensor::zeros({4 * H}, DType::f32, Device::cuda()),
                Tensor::zeros({4 * H}, DType::f32, Device::cuda())};
  const Tensor x = Tensor::uniform({N, T, I}, -1, 1, gen).to(Device::cuda());
  for (int64_t bad : {0, 4}) {
    CAPTURE(bad);
    const Tensor lengths =
        Tensor::from_vector(std::vector<int64_t>{2, bad}, {N}).to(Device::cuda());
    auto r = lstm_layer(x, lengths, w.w_ih, w.w_hh, w.b_ih, w.b_hh, false);
    CHECK_THROWS_WITH(r[0].to(Device::cpu()),
                      doctest::Contains("lstm: a sequence length outside [1, T]"));
  }
  // On the CPU the same lengths are rejected at once, naming the length.
  CHECK_THROWS_WITH(
      lstm_layer(x.to(Device::cpu()), Tensor::from_vector(std::vector<int64_t>{2, 0}, {N}),
                 w.w_ih.to(Device::cpu()), w.w_hh.to(Device::cpu()), w.b_ih.to(Device::cpu()),
                 w.b_hh.to(Device::cpu()), false),
      doctest::Contains("length 0 is outside [1, T = 3]"));
}
