// The study's networks trained on cuda (the kernel emulator in CI) and on the CPU from the
// same seed, weights, batches and dropout masks, as the trainer runs them (models/): a CNN
// with BatchNorm (conv, BatchNorm, ReLU, max-pool, FC with dropout, cross-entropy, Adam), the
// same CNN without BatchNorm (each conv and its ReLU one fused conv2d_relu), and
// a 2-layer BiLSTM on variable-length clips (packed semantics, dropout between layers,
// readout at each clip's last step, MSE regression, Adam with gradient clipping on the
// device). Losses are compared at every step, parameters and BatchNorm buffers at the end.
//
// Tolerance: each step's values differ by a few float32 ulp between the devices (different
// summation orders: Eigen vs our GEMM tiles, double vs float statistics); Adam and the
// network carry that along over 6 steps, so we require |loss_cuda - loss_cpu| <= 1e-4
// |loss_cpu| + 1e-6 and parameters within 1e-4 + 1e-4 |p|. One exception, by design: a
// conv bias followed by BatchNorm has a gradient of exactly 0 in exact arithmetic (the
// normalisation removes it), so both devices feed Adam pure rounding noise, whose update is
// ~lr in a random direction; those biases are held to the bound Adam can move them,
// 2 lr per step, and so is the running mean of the BatchNorm after them (it tracks the
// conv's output, bias included; momentum 0.1 shrinks the difference further).
// Expected per build: the same bounds in test_cuda (emulator) and test_cuda_native (GPU,
// where conv and BatchNorm go through cuDNN with deterministic algorithms, other summation
// orders of the same float32 scale).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "models/cnn.h"
#include "models/lstm.h"

using namespace melgrad;

namespace {

constexpr int kSteps = 6;
constexpr double kLr = 1e-3;

struct Run {
  std::vector<double> losses;
  nn::NamedTensors state;  // parameters and buffers, on the CPU, after training
};

// Trains `net` on `device` for kSteps batches of (x, lengths, y), as the trainer does.
template <class LossFn>
Run train(models::Network& net, Device device, const std::vector<Tensor>& xs,
          const std::vector<Tensor>& lengths, const std::vector<Tensor>& ys, LossFn loss_fn,
          double clip) {
  net.to(device);
  net.train();
  optim::Adam adam(net.parameters(), {.lr = kLr, .weight_decay = 1e-5});
  Run run;
  for (int step = 0; step < kSteps; ++step) {
    const size_t b = static_cast<size_t>(step) % xs.size();
    net.reseed_dropout(models::derive_seed(7, static_cast<uint64_t>(step)));
    Tensor loss = loss_fn(net.forward(xs[b].to(device), lengths[b].to(device)), ys[b].to(device));
    run.losses.push_back(loss.item());
    adam.zero_grad();
    loss.backward();
    if (clip > 0) optim::clip_grad_norm_on_device(net.parameters(), clip);
    adam.step();
  }
  for (const auto& [name, t] : net.state()) run.state.emplace_back(name, t.to(Device::cpu()));
  return run;
}

// Two copies of the CNN `c` (weights from model_seed) trained on the CPU and on cuda on the
// same three batches of 6 full-length clips with 3-class labels (from data_seed), with
// cross-entropy. Returns {cpu, cuda}.
std::pair<Run, Run> train_cnn_on_both(const models::CnnConfig& c, uint64_t model_seed,
                                      uint64_t data_seed) {
  Generator gen(data_seed);
  std::vector<Tensor> xs, lengths, ys;
  for (int b = 0; b < 3; ++b) {
    xs.push_back(Tensor::normal({6, c.frames, c.bands}, 0, 1, gen));
    lengths.push_back(Tensor::from_vector(std::vector<int64_t>(6, c.frames), {6}));
    std::vector<int64_t> y(6);
    for (int64_t& v : y) v = static_cast<int64_t>(gen.below(3));
    ys.push_back(Tensor::from_vector(y, {6}));
  }
  auto ce = [](const Tensor& out, const Tensor& y) { return cross_entropy(out, y); };
  models::CnnNet on_cpu(c, model_seed), on_cuda(c, model_seed);
  return {train(on_cpu, Device::cpu(), xs, lengths, ys, ce, 0),
          train(on_cuda, Device::cuda(), xs, lengths, ys, ce, 0)};
}

void compare(const Run& cpu, const Run& cuda, const std::vector<std::string>& noise_only) {
  for (int s = 0; s < kSteps; ++s) {
    CAPTURE(s);
    CAPTURE(cpu.losses[s]);
    CAPTURE(cuda.losses[s]);
    CHECK(std::abs(cuda.losses[s] - cpu.losses[s]) <= 1e-4 * std::abs(cpu.losses[s]) + 1e-6);
  }
  REQUIRE(cpu.state.size() == cuda.state.size());
  for (size_t i = 0; i < cpu.state.size(); ++i) {
    const auto& [name, want] = cpu.state[i];
    const Tensor& got = cuda.state[i].second;
    CAPTURE(name);
    REQUIRE(cuda.state[i].first == name);
    if (std::find(noise_only.begin(), noise_only.end(), name) != noise_only.end()) {
      CHECK(max_abs_diff(got, want) <= 2 * kLr * kSteps);
      continue;
    }
    CHECK_MESSAGE(allclose(got, want, 1e-4, 1e-4),
                  "max |cuda - cpu| = " << max_abs_diff(got, want));
  }
  MESSAGE("losses cpu " << cpu.losses.front() << " -> " << cpu.losses.back() << ", cuda "
                        << cuda.losses.front() << " -> " << cuda.losses.back());
}

}  // namespace

TEST_CASE("the study's CNN with BatchNorm trains alike on cuda and on the CPU") {
  models::CnnConfig c;
  c.channels = {1, 4, 8};
  c.pool = 2;
  c.frames = 16;
  c.bands = 12;
  c.hidden = {16, 8};
  c.dropout = 0.2;
  c.outputs = 3;
  c.track_running_stats = true;  // the running buffers are compared too
  const auto [cpu, cuda] = train_cnn_on_both(c, 5, 41);
  CHECK(cpu.losses.back() < cpu.losses.front());  // it learns
  // features.0 and features.4 are the convs, each followed by BatchNorm.
  compare(
      cpu, cuda,
      {"features.0.bias", "features.4.bias", "features.1.running_mean", "features.5.running_mean"});
}

TEST_CASE("the study's CNN without BatchNorm (fused conv2d_relu) trains alike on cuda and CPU") {
  models::CnnConfig c;
  c.channels = {1, 4, 8};
  c.batch_norm = false;  // conv, ReLU, max-pool: each conv and its ReLU run as conv2d_relu
  c.frames = 16;
  c.bands = 12;
  c.hidden = {16, 8};
  c.outputs = 3;
  const auto [cpu, cuda] = train_cnn_on_both(c, 6, 43);
  CHECK(cpu.losses.back() < cpu.losses.front());
  compare(cpu, cuda, {});  // no BatchNorm: every conv bias has a real gradient
}

TEST_CASE("the study's BiLSTM trains alike on cuda and on the CPU (variable lengths)") {
  models::LstmConfig c;
  c.input_size = 6;
  c.hidden = 5;
  c.layers = 2;
  c.dropout = 0.2;
  c.outputs = 2;
  Generator gen(42);
  std::vector<Tensor> xs, lengths, ys;
  const std::vector<std::vector<int64_t>> lens = {{7, 3, 1, 5}, {2, 7, 6, 4}};
  for (const auto& len : lens) {
    const int64_t T = 7;
    const std::vector<double> values = Tensor::normal({4, T, c.input_size}, 0, 1, gen).to_vector();
    std::vector<float> x(values.begin(), values.end());
    for (int64_t n = 0; n < 4; ++n)  // zero padding, as the batcher writes it
      for (int64_t i = len[n] * c.input_size; i < T * c.input_size; ++i)
        x[n * T * c.input_size + i] = 0;
    xs.push_back(Tensor::from_vector(x, {4, T, c.input_size}));
    lengths.push_back(Tensor::from_vector(len, {4}));
    ys.push_back(Tensor::uniform({4, 2}, -1, 1, gen));
  }
  auto mse = [](const Tensor& out, const Tensor& y) { return mse_loss(out, y); };
  models::LstmNet on_cpu(c, 6), on_cuda(c, 6);
  const Run cpu = train(on_cpu, Device::cpu(), xs, lengths, ys, mse, 0.5);
  const Run cuda = train(on_cuda, Device::cuda(), xs, lengths, ys, mse, 0.5);
  CHECK(cpu.losses.back() < cpu.losses.front());
  compare(cpu, cuda, {});
}
