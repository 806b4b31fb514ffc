// End-to-end runs with --device cuda through melgrad-emu (the CUDA backend on the kernel
// emulator) on the tiny generated data set: a CNN and a BiLSTM genre run train to the CPU
// run's numbers, evaluate/predict/overfit-batch take --device cuda, and a bad device says
// what to do.
//
// Tolerance: the devices differ by float32 rounding (summation orders), which the training
// loop carries over a few dozen Adam steps; the logged losses must agree within 1e-4
// relative and the validation accuracy exactly (a flipped prediction would need a logit
// tie within ~1e-5, which these runs do not have).
#include <doctest/doctest.h>

#include "e2e_util.h"

using namespace e2e;
using nlohmann::json;

namespace {

// Runs `args` + --device D --out DIR on both devices; both must succeed.
void run_on_both(std::vector<std::string> args, const std::string& name) {
  for (const char* device : {"cpu", "cuda"}) {
    std::vector<std::string> a = args;
    a.insert(a.end(), {"--device", device, "--out", (scratch() / (name + "-" + device)).string()});
    Result r = run(a, melgrad_emu_exe());
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
  }
}

void check_same_training(const std::string& name) {
  const fs::path cpu = scratch() / (name + "-cpu"), cuda = scratch() / (name + "-cuda");
  const std::vector<json> a = log_lines(cpu), b = log_lines(cuda);
  REQUIRE(a.size() == b.size());
  REQUIRE(!a.empty());
  for (size_t e = 0; e < a.size(); ++e) {
    CAPTURE(e);
    CHECK(b[e]["train_loss"].get<double>() ==
          doctest::Approx(a[e]["train_loss"].get<double>()).epsilon(1e-4));
    CHECK(b[e]["val_loss"].get<double>() ==
          doctest::Approx(a[e]["val_loss"].get<double>()).epsilon(1e-4));
    CHECK(b[e]["val_accuracy"] == a[e]["val_accuracy"]);
  }
  CHECK(read_json(cuda / "config.json")["device"] == "cuda");
  const json ma = read_json(cpu / "metrics.json"), mb = read_json(cuda / "metrics.json");
  CHECK(mb["accuracy"] == ma["accuracy"]);
  CHECK(mb["confusion"] == ma["confusion"]);
}

}  // namespace

TEST_CASE("melgrad-emu genre --device cuda trains a CNN with BatchNorm to the CPU's numbers") {
  run_on_both({"genre", "--data", tiny_data(), "--beat", "--frames", "16", "--channels", "1,4,8",
               "--epochs", "2", "--threads", "2", "--no-progress"},
              "cuda-cnn");
  check_same_training("cuda-cnn");

  // evaluate and predict on the device give the CPU's answers for the same checkpoint.
  const fs::path run_dir = scratch() / "cuda-cnn-cuda";
  Result on_cpu =
      run({"evaluate", "--run", run_dir.string(), "--json", "--threads", "2"}, melgrad_emu_exe());
  Result on_cuda =
      run({"evaluate", "--run", run_dir.string(), "--json", "--device", "cuda"}, melgrad_emu_exe());
  INFO(on_cpu.err << on_cuda.err);
  REQUIRE(on_cpu.code == 0);
  REQUIRE(on_cuda.code == 0);
  CHECK(json::parse(on_cuda.out)["confusion"] == json::parse(on_cpu.out)["confusion"]);
}

TEST_CASE(
    "melgrad-emu genre --device cuda trains the BiLSTM on variable lengths to the CPU's numbers") {
  run_on_both({"genre", "--model", "lstm", "--data", tiny_data(), "--beat", "--hidden", "16",
               "--epochs", "2", "--clip-grad", "1", "--threads", "2", "--no-progress"},
              "cuda-lstm");
  check_same_training("cuda-lstm");
}

TEST_CASE(
    "overfit-batch --device cuda learns one batch; a device that is not there says what to do") {
  Result r = run({"overfit-batch", "--model", "cnn", "--data", tiny_data(), "--beat", "--frames",
                  "16", "--batch-size", "8", "--steps", "200", "--lr", "0.003", "--device", "cuda"},
                 melgrad_emu_exe());
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(r.out.find("< 0.01 after") != std::string::npos);

  Result bad = run({"genre", "--data", tiny_data(), "--beat", "--frames", "16", "--epochs", "1",
                    "--device", "cuda:1", "--out", (scratch() / "cuda-bad").string()},
                   melgrad_emu_exe());
  CHECK(bad.code == 1);
  CHECK(bad.err.find("cuda:1 is not supported: melgrad runs on one GPU, cuda:0") !=
        std::string::npos);
}
