// `melgrad-emu study --quick --device cuda` end to end on the tiny generated data set: the
// beat CNN, a BiLSTM and the transfer run (which loads the CNN's checkpoint into a network
// that then moves to the device, its trunk frozen) train on the CUDA backend through the
// kernel emulator, and the study writes study.json (device cuda), metrics.json and the
// report. Three experiments keep it near a minute in the emulator; the full-clip genre CNN
// (4 blocks, 512 channels) is left to the GPU.
#include <doctest/doctest.h>

#include "e2e_util.h"

using namespace e2e;
using nlohmann::json;

TEST_CASE("melgrad-emu study --quick --device cuda runs experiments end to end") {
  const fs::path study = scratch() / "cuda-study";
  Result r =
      run({"study", "--quick", "--data", tiny_data(), "--frames", "16", "--threads", "2",
           "--no-progress", "--device", "cuda", "--only",
           "genre-cnn-mel-beat,genre-lstm-chroma-beat,transfer-valence", "--out", study.string()},
          melgrad_emu_exe());
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json s = read_json(study / "study.json");
  CHECK(s["device"] == "cuda");
  const std::vector<std::string> expected = {"genre-cnn-mel-beat", "genre-lstm-chroma-beat",
                                             "transfer-valence"};
  REQUIRE(s["experiments"].size() == expected.size());
  const json metrics = read_json(study / "metrics.json");
  for (const std::string& name : expected) {
    CAPTURE(name);
    CHECK(read_json(study / name / "config.json")["device"] == "cuda");
    CHECK(metrics[name] == read_json(study / name / "metrics.json"));
  }
  CHECK(metrics["genre-cnn-mel-beat"]["accuracy"].get<double>() >= 0);
  CHECK(metrics["transfer-valence"]["spearman"].contains("valence"));
  CHECK(fs::exists(study / "report.html"));
}
