// `melgrad --device cuda` on a real GPU (the GPU build of the program, natively): the genre
// CNN (with BatchNorm: cuDNN's convolutions and batch norm where cuDNN is linked) and the
// BiLSTM (the persistent kernel, a cooperative launch) train for two epochs on the tiny
// generated data set to the CPU run's numbers for the same seed, and a CUDA-graphed run
// equals an eager one bit for bit (deterministic algorithms, the default).
// Expected per build: the GPU build on a machine with a GPU runs every case; without a GPU,
// or in a build without nvcc (where `melgrad` links the emulator: test_e2e_cuda_emu_runs
// makes the same comparison through melgrad-emu), every case is SKIPPED (tests/skip.h).
//
// Tolerance, CPU against GPU: 1e-3 relative on each epoch's train and validation loss. The
// devices add in different orders (cuDNN's and cuBLAS's algorithms against Eigen and the
// CPU kernels), about 1e-6 relative per layer in float32; two epochs of Adam (about 20
// steps) carry that through updates normalised by sqrt(v), which turns small differences in
// small gradients into differences of order lr, so 1e-4 (the emulator's bound, whose
// kernels add like the CPU's more closely) is too tight to be safe, while a wrong gradient,
// BatchNorm statistic or sequence mask moves these losses by 1e-2 or more. The test
// accuracy may differ by at most one clip (a logit tie within the differences above).
#include <doctest/doctest.h>

#include <cmath>

#include "e2e_util.h"
#include "tests/skip.h"
#if MELGRAD_PROGRAM_GPU_BACKEND
#include "kernels/runtime.h"
#endif

using namespace e2e;
using nlohmann::json;

namespace {

constexpr double kLossRelTol = 1e-3;

// Why the native runs cannot happen here, or empty when they can.
std::string why_no_gpu_run() {
#if MELGRAD_PROGRAM_GPU_BACKEND
  if (!melgrad::kernels::device_available()) return "no CUDA device on this machine";
  return "";
#elif MELGRAD_PROGRAM_CPU_ONLY
  return "melgrad links no CUDA backend in this build (MELGRAD_PROGRAM_CPU_ONLY)";
#else
  return "melgrad links the emulator in this build (nvcc was not found); "
         "test_e2e_cuda_emu_runs makes the comparison through melgrad-emu";
#endif
}

fs::path run_melgrad(std::vector<std::string> args, const std::string& name) {
  const fs::path out = scratch() / name;
  args.insert(args.end(), {"--out", out.string()});
  Result r = run(args);
  INFO(name << ": " << r.out << r.err);
  REQUIRE(r.code == 0);
  return out;
}

void check_close_to_cpu(const fs::path& cpu, const fs::path& gpu) {
  const std::vector<json> a = log_lines(cpu), b = log_lines(gpu);
  REQUIRE(a.size() == b.size());
  REQUIRE(!a.empty());
  for (size_t e = 0; e < a.size(); ++e) {
    CAPTURE(e);
    for (const char* key : {"train_loss", "val_loss"}) {
      CAPTURE(key);
      CHECK(b[e][key].get<double>() ==
            doctest::Approx(a[e][key].get<double>()).epsilon(kLossRelTol));
    }
  }
  CHECK(read_json(gpu / "config.json")["device"] == "cuda");
  const json ma = read_json(cpu / "metrics.json"), mb = read_json(gpu / "metrics.json");
  const double clips = ma["test_clips"].get<double>();
  CHECK(std::abs(mb["accuracy"].get<double>() - ma["accuracy"].get<double>()) <=
        1.0 / clips + 1e-12);
}

}  // namespace

TEST_CASE("melgrad --device cuda on a GPU trains the CNN with BatchNorm to the CPU's numbers") {
  if (const std::string why = why_no_gpu_run(); !why.empty()) return melgrad::testing::skip(why);
  const std::vector<std::string> args = {
      "genre", "--data",   tiny_data(), "--beat",    "--frames", "16",           "--channels",
      "1,4,8", "--epochs", "2",         "--threads", "2",        "--no-progress"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = args;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const fs::path cpu = run_melgrad(with({"--device", "cpu"}), "native-cnn-cpu");
  const fs::path graphed = run_melgrad(with({"--device", "cuda"}), "native-cnn-cuda");
  check_close_to_cpu(cpu, graphed);
  // Same seed, same numbers on the GPU: the graphed steps and eager ones, bit for bit.
  const fs::path eager =
      run_melgrad(with({"--device", "cuda", "--cuda-graphs", "off"}), "native-cnn-cuda-eager");
  const std::vector<json> g = log_lines(graphed), n = log_lines(eager);
  REQUIRE(g.size() == n.size());
  for (size_t e = 0; e < g.size(); ++e) {
    CAPTURE(e);
    CHECK(g[e]["train_loss"] == n[e]["train_loss"]);
    CHECK(g[e]["val_loss"] == n[e]["val_loss"]);
  }
  CHECK(timeless(read_json(graphed / "metrics.json")) ==
        timeless(read_json(eager / "metrics.json")));
}

TEST_CASE("melgrad --device cuda on a GPU trains the BiLSTM on variable lengths to the CPU's") {
  if (const std::string why = why_no_gpu_run(); !why.empty()) return melgrad::testing::skip(why);
  const std::vector<std::string> args = {
      "genre",    "--model", "lstm",        "--data", tiny_data(), "--beat", "--hidden",     "16",
      "--epochs", "2",       "--clip-grad", "1",      "--threads", "2",      "--no-progress"};
  std::vector<std::string> on_cpu = args, on_gpu = args;
  on_cpu.insert(on_cpu.end(), {"--device", "cpu"});
  on_gpu.insert(on_gpu.end(), {"--device", "cuda"});
  check_close_to_cpu(run_melgrad(on_cpu, "native-lstm-cpu"),
                     run_melgrad(on_gpu, "native-lstm-cuda"));
}
