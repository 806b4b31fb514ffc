// Interop both ways, checked against PyTorch and onnxruntime without Python
// (tests/fixtures/interop/, written by make_interop_fixtures.py):
//  - export: tiny melgrad runs (CNN without and with BatchNorm, multitask CNN with running
//    statistics, BiLSTM; CNN and BiLSTM of --recipe seed) rebuilt from their config.json's
//    model_config and best.h5 give the outputs that scripts/export_run_torch.py's PyTorch
//    state_dict and ONNX model gave in PyTorch and onnxruntime for the same inputs;
//  - import: checkpoints in the study notebook's module layout, converted by
//    scripts/export_torch_state.py --from-notebook (names and orientation), give the notebook
//    module's float64 output (also with the notebook's BatchNorm after the ReLU, and into
//    the frequency-major networks unchanged); converted without the orientation change
//    into a time-major network they do not.
// Tolerance 1e-5 absolute (+ 1e-5 relative): float32 networks of a few hundred multiply-adds
// per output, summed in different orders by the three libraries (the fixtures' own
// PyTorch-vs-onnxruntime differences are in manifest.json).
#include <doctest/doctest.h>

#include <string>

#include "engine/autograd.h"
#include "engine/io/tensor_file.h"
#include "experiments/model_config.h"
#include "experiments/run_folder.h"
#include "tests/ops/npy_fixture.h"
#include "tests/ops/tensor_checks.h"

using namespace melgrad;

namespace {

constexpr double kTolerance = 1e-5;

std::string interop(const std::string& relative) {
  return test::fixture_path("interop/" + relative);
}

// The network a model_config describes, with the weights of `weights` (strict), in eval mode.
std::unique_ptr<models::Network> load_network(const nlohmann::json& model_config, uint64_t seed,
                                              const std::string& weights) {
  std::unique_ptr<models::Network> net = experiments::build_network(model_config, seed);
  io::load_module(weights, *net, /*strict=*/true);
  net->eval();
  return net;
}

Tensor run_on_fixture_inputs(models::Network& net, const std::string& folder, bool lstm) {
  NoGradGuard no_grad;
  const Tensor x = test::read_npy_tensor(folder + "/x.npy");
  const Tensor lengths = lstm ? test::read_npy_tensor(folder + "/lengths.npy")
                              : Tensor::full({x.size(0)}, x.size(1), DType::i64);
  return net.forward(x, lengths);
}

}  // namespace

TEST_CASE("melgrad runs exported to PyTorch and ONNX compute what melgrad computes") {
  for (const std::string run : {"cnn", "cnn_bn", "multitask", "lstm", "cnn_seed", "lstm_seed"}) {
    CAPTURE(run);
    const std::string folder = interop(run);
    const nlohmann::json config = experiments::read_json_file(folder + "/config.json");
    const nlohmann::json& mc = config.at("model_config");
    auto net = load_network(mc, config.at("seed").get<uint64_t>(), folder + "/best.h5");
    const Tensor out = run_on_fixture_inputs(*net, folder, mc.at("type") == "lstm");
    test::check_close(out, test::read_npy_tensor(folder + "/torch_out.npy"), kTolerance, kTolerance,
                      run + " vs PyTorch");
    test::check_close(out, test::read_npy_tensor(folder + "/onnx_out.npy"), kTolerance, kTolerance,
                      run + " vs onnxruntime");
  }
}

TEST_CASE("notebook checkpoints load into melgrad's networks through the name map") {
  for (const std::string kind : {"cnn", "multitask", "lstm"}) {
    CAPTURE(kind);
    const std::string folder = interop("notebook/" + kind);
    const nlohmann::json mc = experiments::read_json_file(folder + "/model_config.json");
    auto net = load_network(mc, 1, folder + "/weights.h5");
    const Tensor out = run_on_fixture_inputs(*net, folder, kind == "lstm");
    const Tensor want = test::read_npy_tensor(folder + "/notebook_out.npy").to(DType::f32);
    test::check_close(out, want, kTolerance, kTolerance, kind + " vs the notebook module");
  }
}

TEST_CASE("without the orientation change a notebook CNN does not give the notebook's output") {
  // weights_frequency_major.h5 holds the notebook's kernels and FC columns unchanged: the
  // names and shapes fit the time-major network, so only the values can tell.
  for (const std::string kind : {"cnn", "multitask"}) {
    CAPTURE(kind);
    const std::string folder = interop("notebook/" + kind);
    const nlohmann::json mc = experiments::read_json_file(folder + "/model_config.json");
    auto net = load_network(mc, 1, folder + "/weights_frequency_major.h5");
    const std::vector<double> out = run_on_fixture_inputs(*net, folder, false).to_vector();
    const std::vector<double> want =
        test::read_npy_tensor(folder + "/notebook_out.npy").to_vector();
    REQUIRE(out.size() == want.size());
    double largest = 0;
    for (size_t i = 0; i < out.size(); ++i) largest = std::max(largest, std::abs(out[i] - want[i]));
    CHECK(largest > 1e-3);
  }
}

TEST_CASE("notebook CNNs load unchanged into melgrad's frequency-major networks") {
  // --orientation frequency-major: the notebook's tensors as they are, into a network with
  // "frequency_major" (the notebook's [B, 1, F, T] image); cnn_bn also has the notebook's
  // block order (BatchNorm after the ReLU, "relu_before_batch_norm").
  for (const std::string kind : {"cnn", "multitask", "cnn_bn"}) {
    CAPTURE(kind);
    const std::string folder = interop("notebook/" + kind);
    const nlohmann::json mc =
        experiments::read_json_file(folder + "/model_config_frequency_major.json");
    auto net = load_network(mc, 1, folder + "/weights_frequency_major.h5");
    const Tensor out = run_on_fixture_inputs(*net, folder, false);
    const Tensor want = test::read_npy_tensor(folder + "/notebook_out.npy").to(DType::f32);
    test::check_close(out, want, kTolerance, kTolerance, kind + " (frequency-major)");
  }
}

TEST_CASE(
    "a notebook CNN with BatchNorm after the ReLU loads into melgrad's [B, 1, T, F] network") {
  const std::string folder = interop("notebook/cnn_bn");
  const nlohmann::json mc = experiments::read_json_file(folder + "/model_config.json");
  auto net = load_network(mc, 1, folder + "/weights.h5");
  const Tensor out = run_on_fixture_inputs(*net, folder, false);
  const Tensor want = test::read_npy_tensor(folder + "/notebook_out.npy").to(DType::f32);
  test::check_close(out, want, kTolerance, kTolerance, "cnn_bn (time-major)");
}
