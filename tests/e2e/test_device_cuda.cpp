// `melgrad genre --device cuda` as this build and this machine make it (its own CTest test,
// since on one machine it can only be skipped; tests/skip.h). `melgrad` links the GPU
// backend in an nvcc build and the emulator backend otherwise (experiments/CMakeLists.txt;
// MELGRAD_PROGRAM_GPU_BACKEND from tests/e2e/CMakeLists.txt). Expected per build:
//   emulator build (no nvcc)  it trains on the emulated device: one epoch, the run's files;
//   GPU build, no GPU         exit code 1 and a message that points to melgrad-emu;
//   GPU build, a GPU          SKIPPED: the program would train on the GPU, so the no-GPU
//                             message cannot be seen (test_e2e_cuda_native_runs trains there).
//   CPU-only program          exit code 1: "built without the CUDA backend" (the sanitizer
//   (MELGRAD_PROGRAM_CPU_ONLY) pass's build, scripts/test-asan.sh).
#include <doctest/doctest.h>

#include "e2e_util.h"
#include "tests/skip.h"
#if MELGRAD_PROGRAM_GPU_BACKEND
#include "kernels/runtime.h"
#endif

using namespace e2e;
using nlohmann::json;

TEST_CASE(
    "genre --device cuda: the GPU build without a GPU points to melgrad-emu; the emulator build "
    "trains") {
  const fs::path run_dir = scratch() / "device-cuda";
  const std::vector<std::string> a = {
      "genre",         "--data", tiny_data(),      "--beat",   "--frames",  "16",
      "--channels",    "1,4,8",  "--epochs",       "1",        "--threads", "2",
      "--no-progress", "--out",  run_dir.string(), "--device", "cuda"};
#if MELGRAD_PROGRAM_CPU_ONLY
  Result r = run(a);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("--device cuda: this program was built without the CUDA backend") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(run_dir / "log.jsonl"));
#elif MELGRAD_PROGRAM_GPU_BACKEND
  // The program's own test (kernels/runtime.cu): cudaGetDeviceCount finds a usable GPU.
  if (melgrad::kernels::device_available())
    return melgrad::testing::skip(
        "this machine has a GPU, so melgrad (GPU build) would train on it; the no-GPU message "
        "cannot be checked here");
  Result r = run(a);
  INFO(r.out << r.err);
  CHECK(r.code == 1);
  CHECK(r.err.find("--device cuda") != std::string::npos);
  CHECK(r.err.find("melgrad-emu") != std::string::npos);
  CHECK_FALSE(fs::exists(run_dir / "log.jsonl"));
#else
  Result r = run(a);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(read_json(run_dir / "config.json")["device"] == "cuda");
  CHECK(log_lines(run_dir).size() == 1);
  CHECK(read_json(run_dir / "metrics.json")["test_clips"] == 72);
#endif
}
