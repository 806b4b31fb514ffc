// `melgrad study --recipe seed --quick` on the tiny generated data set: the notebook's whole
// experiment list, in its order (recipe_seed.h), two epochs each with scaled-down networks,
// the per-experiment settings in the run folders, the grids and the report.
#include <doctest/doctest.h>

#include "e2e_util.h"

using namespace e2e;
using nlohmann::json;

TEST_CASE("study --recipe seed --quick runs the notebook's experiment list") {
  const fs::path study = scratch() / "seed-study";
  // 81 frames: the full-clip CNNs' four 3x3 max-pools need 3^4 frames.
  Result r = run({"study", "--recipe", "seed", "--quick", "--data", tiny_data(), "--frames", "81",
                  "--threads", "2", "--no-progress", "--out", study.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json s = read_json(study / "study.json");
  CHECK(s["recipe"] == "seed");
  const std::vector<std::string> expected = {"genre-lstm-mel",
                                             "genre-lstm-mel-beat",
                                             "genre-lstm-chroma",
                                             "genre-lstm-fused",
                                             "genre-cnn-mel",
                                             "genre-cnn-fused",
                                             "genre-cnn-chroma",
                                             "regress-cnn-valence",
                                             "regress-cnn-energy",
                                             "regress-cnn-danceability",
                                             "grid-valence",
                                             "grid-energy",
                                             "grid-danceability",
                                             "regress-lstm-valence",
                                             "regress-lstm-energy",
                                             "regress-lstm-danceability",
                                             "genre-cnn-mel-beat",
                                             "transfer-valence",
                                             "multitask"};
  REQUIRE(s["experiments"].size() == expected.size());
  const json metrics = read_json(study / "metrics.json");
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(expected[i]);
    CHECK(s["experiments"][i]["name"] == expected[i]);
    CHECK(s["experiments"][i]["max_epochs"].get<int64_t>() <= 2);
    CHECK(metrics.contains(expected[i]));
  }
  // Full clips for the genre BiLSTMs and the regression CNN, beat for the rest.
  CHECK(read_json(study / "genre-lstm-chroma" / "config.json")["beat"] == false);
  const json reg = read_json(study / "regress-cnn-valence" / "config.json");
  CHECK(reg["beat"] == false);
  CHECK(reg["test_fraction"] == 0.28);
  CHECK(reg["model_config"]["pool"] == 2);
  CHECK(read_json(study / "genre-cnn-chroma" / "config.json")["model_config"]["channels"].size() ==
        3);
  CHECK(read_json(study / "regress-lstm-energy" / "config.json")["loss"] == "smooth_l1");
  CHECK(read_json(study / "regress-lstm-danceability" / "config.json")["loss"] == "l1");
  // Quick grids: the winner's lr, every loss of the attribute's search.
  CHECK(read_json(study / "grid-valence" / "grid.json")["rows"].size() == 3);
  CHECK(read_json(study / "grid-energy" / "grid.json")["rows"].size() == 2);
  const json tr = read_json(study / "transfer-valence" / "config.json");
  CHECK(tr["transfer"]["from"].get<std::string>().find("genre-cnn-mel-beat") != std::string::npos);
  CHECK(tr["patience"] == 15);
  CHECK(read_json(study / "multitask" / "config.json")["lr"] == 5e-5);
  CHECK(fs::is_regular_file(study / "report.html"));
}
