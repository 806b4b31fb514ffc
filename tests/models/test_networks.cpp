// The study's networks: output shapes, PyTorch-style parameter names and counts (computed
// from the layer formulas), the trunk size arithmetic, conv + ReLU fused without BatchNorm
// (equal to the separate ops), seeded determinism, the LSTM's
// packed semantics at the network level, and the transfer helper (loading, re-initialised
// layers, freezing).
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "engine/autograd.h"
#include "engine/io/tensor_file.h"
#include "engine/ops/loss.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "engine/registry.h"
#include "models/cnn.h"
#include "models/lstm.h"
#include "models/transfer.h"
#include "tests/models/model_test_util.h"

using namespace melgrad;
using namespace melgrad::models;
using namespace melgrad::models::testing;

namespace {

CnnConfig small_cnn(int64_t outputs) {
  CnnConfig c;
  c.channels = {1, 2, 4};
  c.frames = 12;
  c.bands = 8;
  c.hidden = {6, 5};
  c.outputs = outputs;
  return c;
}

// The layers of `seq` one at a time, each its own op: Sequential without its fusions.
Tensor forward_layer_by_layer(const nn::Sequential& seq, const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < seq.size(); ++i) h = seq[i]->forward(h);
  return h;
}

// The op that produced the input of the op that produced `t` (t = pool(conv...) -> "conv...").
std::string op_below(const Tensor& t) {
  REQUIRE(t.grad_fn() != nullptr);
  const auto& below = t.grad_fn()->inputs.at(0).node;
  REQUIRE(below != nullptr);
  return below->op->name;
}

}  // namespace

TEST_CASE("CNN trunk sizes follow conv (same size) then floor max-pool per block") {
  CnnConfig beat;  // [1,4,16,64,256], pool 2, T 40 x F 128
  auto out = cnn_trunk_output(beat);
  CHECK(out == std::array<int64_t, 3>{256, 2, 8});  // 40->20->10->5->2, 128->64->32->16->8
  CnnConfig wide;
  wide.channels = {1, 16, 64, 256, 512};
  wide.pool = 3;
  wide.frames = 1293;
  out = cnn_trunk_output(wide);
  CHECK(out == std::array<int64_t, 3>{512, 15, 1});  // 1293->431->143->47->15, 128->42->14->4->1
  CnnConfig tiny = beat;
  tiny.frames = 8;  // 8->4->2->1, then 1 < pool 2 at block 4
  CHECK_THROWS_WITH_AS(cnn_trunk_output(tiny), doctest::Contains("conv block 4"),
                       std::invalid_argument);
}

TEST_CASE("CNN: names as PyTorch's Sequential, parameter count, output shape") {
  CnnConfig c;  // the study's beat CNN with BatchNorm (batch statistics)
  CnnNet net(c, 1);
  std::vector<std::string> expected;
  int64_t count = 0;
  for (int i = 0; i < 4; ++i) {
    const int64_t in = c.channels[i], out = c.channels[i + 1];
    expected.push_back("features." + std::to_string(4 * i) + ".weight");
    expected.push_back("features." + std::to_string(4 * i) + ".bias");
    expected.push_back("features." + std::to_string(4 * i + 1) + ".weight");
    expected.push_back("features." + std::to_string(4 * i + 1) + ".bias");
    count += out * in * 9 + out + 2 * out;
  }
  for (int k : {0, 3, 6}) {
    expected.push_back("classifier." + std::to_string(k) + ".weight");
    expected.push_back("classifier." + std::to_string(k) + ".bias");
  }
  count += (256 * 2 * 8) * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10;
  CHECK(names_of(net.named_parameters()) == expected);
  CHECK(net.parameter_count() == count);
  CHECK(net.named_buffers().empty());  // track_running_stats = false: no running statistics

  CnnConfig tracked = small_cnn(3);
  tracked.track_running_stats = true;
  CnnNet with_stats(tracked, 1);
  CHECK(names_of(with_stats.named_buffers()) ==
        std::vector<std::string>{"features.1.running_mean", "features.1.running_var",
                                 "features.1.num_batches_tracked", "features.5.running_mean",
                                 "features.5.running_var", "features.5.num_batches_tracked"});

  CnnConfig plain = small_cnn(3);
  plain.batch_norm = false;
  CnnNet no_bn(plain, 1);
  CHECK(names_of(no_bn.named_parameters())[2] == "features.3.weight");  // conv, relu, pool, conv

  Tensor y = CnnNet(small_cnn(3), 7).forward(random_batch(4, 12, 8, 3), Tensor());
  CHECK(y.shape() == Shape{4, 3});
  CHECK_THROWS_WITH_AS(CnnNet(small_cnn(3), 7).forward(random_batch(4, 13, 8, 3), Tensor()),
                       doctest::Contains("[N, 12, 8]"), std::invalid_argument);
}

TEST_CASE("CNN without BatchNorm: conv and ReLU run as one conv2d_relu, same values exactly") {
  CnnConfig c = small_cnn(3);
  c.batch_norm = false;
  CnnNet fused(c, 21), separate(c, 21);
  fused.reseed_dropout(5);
  separate.reseed_dropout(5);
  const Tensor image = random_batch(5, c.frames, c.bands, 8).unsqueeze(1);

  const Tensor trunk_fused = fused.features->forward(image);
  const Tensor trunk_separate = forward_layer_by_layer(*separate.features, image);
  CHECK(op_below(trunk_fused) == "conv2d_relu");  // features.3 conv + features.4 ReLU
  CHECK(op_below(trunk_separate) == "relu");
  CHECK(max_abs_diff(trunk_fused, trunk_separate) == 0);

  const Tensor out_fused = fused.classifier->forward(trunk_fused.flatten(1));
  const Tensor out_separate = separate.classifier->forward(trunk_separate.flatten(1));
  CHECK(max_abs_diff(out_fused, out_separate) == 0);
  // Both nets' conv outputs have negative values, so the ReLU masks some gradient.
  cross_entropy(out_fused, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0}, {5}))
      .backward();
  cross_entropy(out_separate, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 1, 0}, {5}))
      .backward();
  const auto pf = fused.named_parameters(), ps = separate.named_parameters();
  REQUIRE(pf.size() == ps.size());
  for (size_t i = 0; i < pf.size(); ++i) {
    CAPTURE(pf[i].first);
    REQUIRE(pf[i].second.grad().defined());
    CHECK(max_abs_diff(pf[i].second.grad(), ps[i].second.grad()) == 0);
  }

  // With BatchNorm between them, conv and ReLU stay separate ops.
  CnnNet with_bn(small_cnn(3), 21);
  CHECK(op_below(with_bn.features->forward(image)) == "relu");
}

TEST_CASE("CNN: same seed gives the same weights; dropout masks follow reseed_dropout") {
  CnnNet a(small_cnn(2), 11), b(small_cnn(2), 11), c(small_cnn(2), 12);
  auto pa = a.parameters(), pb = b.parameters(), pc = c.parameters();
  for (size_t i = 0; i < pa.size(); ++i) CHECK(max_abs_diff(pa[i], pb[i]) == 0);
  CHECK(max_abs_diff(pa[0], pc[0]) > 0);
  Tensor x = random_batch(5, 12, 8, 4);
  a.reseed_dropout(99);
  b.reseed_dropout(99);
  Tensor ya = a.forward(x, Tensor()), yb = b.forward(x, Tensor());
  CHECK(max_abs_diff(ya, yb) == 0);
  b.reseed_dropout(100);
  CHECK(max_abs_diff(ya, b.forward(x, Tensor())) > 0);  // other masks (training mode)
  a.eval();
  b.eval();
  CHECK(max_abs_diff(a.forward(x, Tensor()), b.forward(x, Tensor())) == 0);
}

TEST_CASE("BiLSTM network: names, count, shape, padded steps do not matter") {
  LstmConfig c;
  c.input_size = 12;
  c.hidden = 5;
  c.outputs = 4;
  LstmNet net(c, 3);
  const std::vector<std::string> expected = {"lstm.weight_ih_l0",
                                             "lstm.weight_hh_l0",
                                             "lstm.bias_ih_l0",
                                             "lstm.bias_hh_l0",
                                             "lstm.weight_ih_l0_reverse",
                                             "lstm.weight_hh_l0_reverse",
                                             "lstm.bias_ih_l0_reverse",
                                             "lstm.bias_hh_l0_reverse",
                                             "lstm.weight_ih_l1",
                                             "lstm.weight_hh_l1",
                                             "lstm.bias_ih_l1",
                                             "lstm.bias_hh_l1",
                                             "lstm.weight_ih_l1_reverse",
                                             "lstm.weight_hh_l1_reverse",
                                             "lstm.bias_ih_l1_reverse",
                                             "lstm.bias_hh_l1_reverse",
                                             "fc.weight",
                                             "fc.bias"};
  CHECK(names_of(net.named_parameters()) == expected);
  const int64_t H = 5;
  const int64_t layer0 = 4 * H * 12 + 4 * H * H + 8 * H, layer1 = 4 * H * 2 * H + 4 * H * H + 8 * H;
  CHECK(net.parameter_count() == 2 * layer0 + 2 * layer1 + 2 * H * 4 + 4);

  net.eval();
  Tensor x = random_batch(2, 7, 12, 5);
  Tensor lengths = Tensor::from_vector(std::vector<int64_t>{7, 4}, {2});
  Tensor y = net.forward(x, lengths);
  CHECK(y.shape() == Shape{2, 4});
  // Change the second clip's padded frames (t >= 4): its output must not move.
  Tensor x2 = x.clone();
  {
    NoGradGuard no_grad;
    x2.narrow(0, 1, 1).narrow(1, 4, 3).fill_(100.0);
  }
  Tensor y2 = net.forward(x2, lengths);
  CHECK(max_abs_diff(y.narrow(0, 1, 1), y2.narrow(0, 1, 1)) == 0);
}

TEST_CASE("Multitask CNN: shared trunk, one head per target, [N, targets] output") {
  const std::vector<std::string> targets = {"valence", "energy", "danceability"};
  MultitaskCnn net(small_cnn(99), targets, 5);
  auto names = names_of(net.named_parameters());
  CHECK(std::count_if(names.begin(), names.end(),
                      [](auto& n) { return n.rfind("features.", 0) == 0; }) == 8);
  for (const std::string& t : targets)
    for (int k : {0, 3, 6}) {
      CHECK(std::find(names.begin(), names.end(),
                      "heads." + t + "." + std::to_string(k) + ".weight") != names.end());
    }
  CnnNet single(small_cnn(1), 5);
  const int64_t trunk = 2 * 9 + 2 + 4 + (4 * 2 * 9 + 4 + 8);
  const int64_t head = single.parameter_count() - trunk;
  CHECK(net.parameter_count() == trunk + 3 * head);
  CHECK(net.forward(random_batch(3, 12, 8, 1), Tensor()).shape() == Shape{3, 3});
}

TEST_CASE("transfer: loads trunk and first FC, re-initialises the last two, freezes the trunk") {
  CnnNet genre(small_cnn(10), 21);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("melgrad_transfer_" + std::to_string(::getpid()) + ".h5"))
                               .string();
  io::save_module(path, genre);
  auto state = io::load_tensor_file(path).tensors;
  std::filesystem::remove(path);

  CnnNet fresh(small_cnn(1), 22);
  CnnNet regress(small_cnn(1), 22);
  TransferReport report = transfer_from_genre_cnn(regress, state, /*freeze_trunk=*/true);
  CHECK(report.loaded.size() == 10);  // 8 trunk tensors + classifier.0.{weight,bias}
  CHECK(report.reinitialised == std::vector<std::string>{"classifier.3.weight", "classifier.3.bias",
                                                         "classifier.6.weight",
                                                         "classifier.6.bias"});
  CHECK(report.frozen.size() == 8);
  std::map<std::string, Tensor> got, before;
  for (auto& [n, t] : regress.named_parameters()) got[n] = t;
  for (auto& [n, t] : fresh.named_parameters()) before[n] = t;
  for (const std::string& n : report.loaded) CHECK(max_abs_diff(got[n], state[n]) == 0);
  for (const std::string& n : report.reinitialised) CHECK(max_abs_diff(got[n], before[n]) == 0);

  // One Adam step over the trainable parameters: the trunk stays, the head moves.
  std::vector<Tensor> trainable = trainable_parameters(regress);
  CHECK(trainable.size() == 6);
  optim::Adam adam(trainable, {.lr = 1e-2});
  Tensor trunk_before = got["features.0.weight"].clone(),
         head_before = got["classifier.6.weight"].clone();
  Tensor y = regress.forward(random_batch(4, 12, 8, 9), Tensor());
  mse_loss(y, Tensor::zeros({4, 1})).backward();
  CHECK_FALSE(got["features.0.weight"].grad().defined());
  adam.step();
  CHECK(max_abs_diff(got["features.0.weight"], trunk_before) == 0);
  CHECK(max_abs_diff(got["classifier.6.weight"], head_before) > 0);

  CnnConfig other = small_cnn(1);
  other.frames = 16;  // another T: the first FC layer's input differs
  CnnNet mismatched(other, 1);
  CHECK_THROWS_WITH_AS(transfer_from_genre_cnn(mismatched, state, false),
                       doctest::Contains("classifier.0.weight"), std::invalid_argument);
}
