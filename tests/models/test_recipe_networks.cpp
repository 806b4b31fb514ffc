// The network options the notebook's recipe needs (`--recipe seed`, experiments/recipe_seed.h):
// the CNN image [N, 1, F, T] (frequency_major), the block order Conv2d, ReLU, BatchNorm2d,
// MaxPool2d (relu_before_batch_norm) and dropout on the BiLSTM's outputs (output_dropout).
// Equalities are exact (== 0): the compared paths run the same float32 ops on the same values.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "models/cnn.h"
#include "models/lstm.h"
#include "tests/models/model_test_util.h"

using namespace melgrad;
using namespace melgrad::models;
using namespace melgrad::models::testing;

namespace {

CnnConfig small_cnn() {
  CnnConfig c;
  c.channels = {1, 2, 4};
  c.frames = 12;
  c.bands = 8;
  c.hidden = {6, 5};
  c.outputs = 3;
  return c;
}

// Every parameter has a defined, finite gradient, and some gradient is not zero.
void check_gradients(const nn::Module& net) {
  double total = 0;
  for (const auto& [name, p] : net.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    const std::vector<double> g = p.grad().to_vector();
    for (double v : g) {
      REQUIRE(std::isfinite(v));
      total += std::fabs(v);
    }
  }
  CHECK(total > 0);
}

}  // namespace

TEST_CASE(
    "CNN frequency_major: the image is [N, 1, F, T], the time-major CNN on the transposed batch") {
  CnnConfig freq = small_cnn();
  freq.frequency_major = true;
  freq.batch_norm = false;
  CnnConfig time = freq;  // the same network built for [N, 1, F, T] as its "frames x bands"
  time.frequency_major = false;
  time.frames = freq.bands;
  time.bands = freq.frames;
  // Trunk: height F = 8 -> 4 -> 2, width T = 12 -> 6 -> 3.
  CHECK(cnn_trunk_output(freq) == std::array<int64_t, 3>{4, 2, 3});
  CHECK(cnn_trunk_output(time) == std::array<int64_t, 3>{4, 2, 3});
  CnnNet a(freq, 11), b(time, 11);  // same shapes, same seed: the same initial weights
  CHECK(names_of(a.named_parameters()) == names_of(b.named_parameters()));
  a.eval();
  b.eval();
  const Tensor x = random_batch(4, freq.frames, freq.bands, 2);  // [N, T, F]
  const Tensor y = a.forward(x, Tensor());
  CHECK(y.shape() == Shape{4, 3});
  CHECK(max_abs_diff(y, b.forward(x.transpose(1, 2).contiguous(), Tensor())) == 0);
  CHECK(describe_cnn(freq).find("image F x T") != std::string::npos);

  // The notebook's full-clip genre CNN: F 128 -> 42 -> 14 -> 4 -> 1, T 1293 -> 431 -> 143 -> 47
  // -> 15.
  CnnConfig full;
  full.channels = {1, 16, 64, 256, 512};
  full.pool = 3;
  full.frames = 1293;
  full.frequency_major = true;
  CHECK(cnn_trunk_output(full) == std::array<int64_t, 3>{512, 1, 15});
  // A 12-row chromagram does not survive a third 3x3 max-pool (12 -> 4 -> 1).
  full.bands = 12;
  CHECK_THROWS_WITH_AS(cnn_trunk_output(full), doctest::Contains("conv block 3"),
                       std::invalid_argument);
  full.channels = {1, 16, 64};
  CHECK(cnn_trunk_output(full) == std::array<int64_t, 3>{64, 1, 143});
}

TEST_CASE(
    "CNN relu_before_batch_norm: Conv2d, ReLU, BatchNorm2d, MaxPool2d, as the notebook's "
    "Sequential") {
  CnnConfig c = small_cnn();
  c.relu_before_batch_norm = true;
  CnnNet net(c, 5);
  // Block 1: features.0 conv, features.1 ReLU (no parameters), features.2 BatchNorm, features.3
  // pool.
  const std::vector<std::string> names = names_of(net.named_parameters());
  REQUIRE(names.size() >= 4);
  CHECK(names[0] == "features.0.weight");
  CHECK(names[2] == "features.2.weight");
  CHECK(names[3] == "features.2.bias");
  CHECK(dynamic_cast<nn::ReLU*>((*net.features)[1].get()) != nullptr);
  CHECK(dynamic_cast<nn::BatchNorm2d*>((*net.features)[2].get()) != nullptr);

  // The Sequential (conv + ReLU fused) gives the values of the layers one at a time.
  const Tensor image = random_batch(5, c.frames, c.bands, 8).unsqueeze(1);
  const Tensor trunk = net.features->forward(image);
  Tensor h = image;
  for (size_t i = 0; i < net.features->size(); ++i) h = (*net.features)[i]->forward(h);
  CHECK(max_abs_diff(trunk, h) == 0);
  // ... and not those of the default order (BatchNorm, then ReLU).
  CnnNet default_order(small_cnn(), 5);
  CHECK(max_abs_diff(trunk, default_order.features->forward(image)) > 1e-3);
}

TEST_CASE("the notebook's CNN (image F x T, no BatchNorm): forward and backward on a tiny batch") {
  CnnConfig c = small_cnn();
  c.frequency_major = true;
  c.batch_norm = false;
  c.relu_before_batch_norm = true;
  c.dropout = 0.25;
  CnnNet net(c, 3);
  net.reseed_dropout(1);
  const Tensor y = net.forward(random_batch(6, c.frames, c.bands, 4), Tensor());
  REQUIRE(y.shape() == Shape{6, 3});
  cross_entropy(y, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0, 2}, {6})).backward();
  check_gradients(net);
}

TEST_CASE("BiLSTM output_dropout: dropout on the read-out outputs, nothing else changes") {
  LstmConfig c;
  c.input_size = 6;
  c.hidden = 5;
  c.outputs = 2;
  LstmConfig with = c;
  with.output_dropout = 0.5;
  LstmNet plain(c, 9), dropped(with, 9);
  CHECK(dropped.drop != nullptr);
  CHECK(plain.drop == nullptr);
  // No parameters of its own, and the same initial weights.
  CHECK(names_of(dropped.named_parameters()) == names_of(plain.named_parameters()));
  CHECK(dropped.parameter_count() == plain.parameter_count());
  CHECK(describe_lstm(with).find("output dropout 0.5") != std::string::npos);

  const Tensor x = random_batch(3, 7, 6, 1);
  const Tensor lengths = Tensor::from_vector(std::vector<int64_t>{7, 5, 2}, {3});
  plain.eval();
  dropped.eval();
  CHECK(max_abs_diff(dropped.forward(x, lengths), plain.forward(x, lengths)) ==
        0);  // eval: identity

  plain.train();
  dropped.train();
  plain.reseed_dropout(4);
  dropped.reseed_dropout(4);
  const Tensor y_plain = plain.forward(x, lengths);  // between-layer dropout 0.2 only
  const Tensor y1 = dropped.forward(x, lengths);
  CHECK(max_abs_diff(y1, y_plain) > 1e-4);
  dropped.reseed_dropout(4);
  CHECK(max_abs_diff(dropped.forward(x, lengths), y1) == 0);  // seeded: reproducible

  mse_loss(y1, Tensor::zeros({3, 2})).backward();
  check_gradients(dropped);
  with.output_dropout = 1.0;
  CHECK_THROWS_WITH_AS(LstmNet(with, 1), doctest::Contains("output dropout"),
                       std::invalid_argument);
}
