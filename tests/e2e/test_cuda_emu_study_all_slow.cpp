// The whole `melgrad-emu study --quick --device cuda` on the tiny generated data set: all 15
// experiments (the full-clip genre CNN needs --frames 81 for its four pool-3 blocks) train
// on the CUDA backend through the kernel emulator, with CUDA graphs recorded by the
// emulator, and write study.json, metrics.json and the report. Label `slow`: about 7
// minutes on 2 shared cores (test_cuda_emu_study is the default suite's short version).
#include <doctest/doctest.h>

#include "e2e_util.h"

using namespace e2e;
using nlohmann::json;

TEST_CASE("melgrad-emu study --quick --device cuda runs all 15 experiments") {
  const fs::path study = scratch() / "cuda-study-all";
  Result r = run({"study", "--quick", "--data", tiny_data(), "--frames", "81", "--threads", "2",
                  "--no-progress", "--device", "cuda", "--out", study.string()},
                 melgrad_emu_exe());
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json s = read_json(study / "study.json");
  CHECK(s["device"] == "cuda");
  CHECK(s["experiments"].size() == 15);
  const json metrics = read_json(study / "metrics.json");
  for (const json& e : s["experiments"]) {
    const std::string name = e["name"].get<std::string>();
    CAPTURE(name);
    CHECK(metrics[name] == read_json(study / name / "metrics.json"));
  }
  CHECK(r.err.find("CUDA graphs: on") != std::string::npos);
  CHECK(fs::exists(study / "report.html"));
}
