// Weights exported from PyTorch load into the study's networks: the committed files of
// tests/fixtures/torch_export/ were written by scripts/export_torch_state.py's writer
// (tests/fixtures/make_torch_export_fixture.py) from PyTorch-made golden-fixture weights.
// Each loads strictly into models::CnnNet / models::LstmNet, every value must equal the
// .npy it came from, and the network's output must be PyTorch's.
//   cnn_bn_running_step3.h5   CNN 1-4-8, BatchNorm with running stats, FC 160-16-8-5;
//                             x [3, 1, 20, 16] -> logits_eval [3, 5] (eval mode)
//   bilstm_packed_params0.h5  BiLSTM 12 -> 2 x 8, FC 16 -> 4; x [3, 7, 12] -> logits [3, 4]
#include <doctest/doctest.h>

#include <string>

#include "engine/io/tensor_file.h"
#include "engine/ops/ops.h"
#include "models/cnn.h"
#include "models/lstm.h"
#include "tests/ops/npy_fixture.h"
#include "tests/ops/tensor_checks.h"

using namespace melgrad;
using test::check_close;
using test::fixture;

namespace {

// Every tensor of the module's state equals the fixture's .npy bit for bit, dtype included.
void check_state_equals(const nn::Module& net, const std::string& case_dir,
                        const std::string& folder) {
  for (const auto& [name, t] : net.state()) {
    CAPTURE(name);
    Tensor want = fixture(case_dir, folder + "/" + name);
    CHECK(t.dtype() == want.dtype());
    REQUIRE(t.shape() == want.shape());
    CHECK(t.to_vector() == want.to_vector());
  }
}

std::string export_path(const std::string& file) {
  return test::fixture_path("torch_export/" + file);
}

models::CnnConfig fixture_cnn_config() {
  return {.channels = {1, 4, 8},
          .pool = 2,
          .batch_norm = true,
          .track_running_stats = true,
          .frames = 20,
          .bands = 16,
          .hidden = {16, 8},
          .dropout = 0.0,
          .outputs = 5};
}

}  // namespace

TEST_CASE(
    "PyTorch-exported CNN state (after 3 Adam steps) loads strictly and gives PyTorch's output") {
  models::CnnNet net(fixture_cnn_config(), 1);
  const auto attributes = io::load_module(export_path("cnn_bn_running_step3.h5"), net);  // strict
  CHECK(attributes.at("source") == "pytorch");
  CHECK(attributes.at("exported_from") == "tests/fixtures/cnn_bn_running/steps/3/*.npy");
  CHECK(net.state().size() ==
        20);  // 14 parameters + 2 x (running_mean, running_var, num_batches_tracked)
  check_state_equals(net, "cnn_bn_running", "steps/3");
  for (const auto& [name, t] : net.named_buffers())
    if (t.dtype() == DType::i64) CHECK_MESSAGE(t.item() == 3, name);  // three training forwards
  // Eval mode: BatchNorm normalises with the imported running statistics. The same float32
  // computation as PyTorch in another summation order: measured 7e-9 on logits of O(1);
  // rtol 1e-4 / atol 1e-5 as the CNN fixture tests (a wrong buffer or layout is >= 1e-3).
  net.eval();
  check_close(net.forward_image(fixture("cnn_bn_running", "x")),
              fixture("cnn_bn_running", "logits_eval"), 1e-4, 1e-5, "logits_eval");
}

TEST_CASE("PyTorch-exported BiLSTM state loads strictly and gives PyTorch's output") {
  models::LstmNet net({.input_size = 12, .hidden = 8, .layers = 2, .dropout = 0.0, .outputs = 4},
                      1);
  io::load_module(export_path("bilstm_packed_params0.h5"), net);
  CHECK(net.state().size() == 18);
  check_state_equals(net, "bilstm_packed", "params0");
  // As the bilstm_packed fixture test (measured 3e-8; PyTorch's own float32 error ~1e-7).
  check_close(net.forward(fixture("bilstm_packed", "x"), fixture("bilstm_packed", "lengths")),
              fixture("bilstm_packed", "logits"), 1e-5, 1e-6, "logits");
}

TEST_CASE("an exported state that does not fit the network is refused, naming the file and keys") {
  models::CnnNet cnn(fixture_cnn_config(), 1);
  const std::string path = export_path("bilstm_packed_params0.h5");
  CHECK_THROWS_WITH_AS(io::load_module(path, cnn),
                       doctest::Contains((path + ": load_state:").c_str()), std::invalid_argument);
  CHECK_THROWS_WITH_AS(io::load_module(path, cnn),
                       doctest::Contains("unexpected: lstm.weight_ih_l0 [32, 12]"),
                       std::invalid_argument);
  models::CnnConfig wide = fixture_cnn_config();
  wide.channels = {1, 4, 9};
  models::CnnNet other(wide, 1);
  CHECK_THROWS_WITH_AS(
      io::load_module(export_path("cnn_bn_running_step3.h5"), other),
      doctest::Contains("shape mismatch: features.4.weight expects [9, 4, 3, 3], got [8, 4, 3, 3]"),
      std::invalid_argument);
}
