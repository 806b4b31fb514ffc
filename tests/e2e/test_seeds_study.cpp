// `melgrad study --quick --seeds 3` end to end on the tiny data set (a subset via --only):
// the seed folders, the transfer runs paired with the genre seeds, the report's intervals
// and significance tests, and --resume with the same and with another --seeds.
#include <doctest/doctest.h>

#include "tests/e2e/e2e_util.h"
#include "tests/e2e/markdown_table.h"

using namespace e2e;
using nlohmann::json;

TEST_CASE("study --quick --seeds 3: seed folders, paired transfer seeds, intervals and tests") {
  const fs::path study = scratch() / "study-seeds";
  Result r = run({"study", "--quick", "--seeds", "3", "--data", tiny_data(), "--frames", "16",
                  "--threads", "2", "--no-progress", "--only",
                  "genre-cnn-mel-beat,genre-lstm-mel-beat,regress-cnn-valence,transfer-valence",
                  "--out", study.string()});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json s = read_json(study / "study.json");
  CHECK(s["training_seeds"] == 3);
  REQUIRE(s["experiments"].size() == 4);
  for (const json& e : s["experiments"]) {
    const std::string name = e["name"];
    CAPTURE(name);
    CHECK(e["dir"] == name + "/seed-42");
    CHECK(e["seed_dirs"] == json({name + "/seed-42", name + "/seed-43", name + "/seed-44"}));
    CHECK(e["seeds"] == json({42, 43, 44}));
    CHECK(read_json(study / name / "seed-44" / "config.json")["seed"] == 44);
    CHECK(read_json(study / name / "seeds.json")["metrics"].size() >= 1);
  }
  // Transfer seed S starts from the genre CNN of seed S.
  const std::string from =
      read_json(study / "transfer-valence" / "seed-43" / "config.json")["transfer"]["from"];
  CHECK(from == (study / "genre-cnn-mel-beat" / "seed-43").string());

  const std::string md = read_text(study / "report.md"), html = read_text(study / "report.html");
  CHECK(html.find("<h2>Intervals and significance</h2>") != std::string::npos);
  CHECK(md.find("training-seed variation is not covered") == std::string::npos);
  const std::string headline = line_with(md, "| genre-cnn-mel-beat  | accuracy");
  CHECK(has_cell(headline, "3"));  // seeds
  const std::string versus = line_with(md, "| CNN vs LSTM (genre)");
  CHECK(versus.find("(3 seeds)") != std::string::npos);
  CHECK(versus.find("not tested") == std::string::npos);
  CHECK(has_cell(versus, "72"));  // shared test clips
  const std::string transfer = line_with(md, "| Transfer vs from scratch");
  CHECK(transfer.find("not tested") == std::string::npos);
  CHECK(has_cell(transfer, "33"));

  // --resume with the same --seeds keeps every seed; another --seeds is refused.
  Result same = run({"study", "--resume", "--seeds", "3", "--data", tiny_data(), "--frames", "16",
                     "--threads", "2", "--no-progress", "--only",
                     "genre-cnn-mel-beat,genre-lstm-mel-beat,regress-cnn-valence,transfer-valence",
                     "--out", study.string()});
  INFO(same.out << same.err);
  CHECK(same.code == 0);
  CHECK(same.err.find("transfer-valence seed-44: finished earlier, kept") != std::string::npos);
  CHECK(same.err.find("epoch 1/2") == std::string::npos);  // nothing trained again
  const json resumed = read_json(study / "study.json");
  REQUIRE(resumed["experiments"].size() == 4);
  for (size_t i = 0; i < 4; ++i)
    CHECK(resumed["experiments"][i]["seed_dirs"] == s["experiments"][i]["seed_dirs"]);
  Result other = run({"study", "--resume", "--seeds", "2", "--data", tiny_data(), "--out",
                      study.string(), "--no-progress"});
  CHECK(other.code == 1);
  CHECK(other.err.find("was run with --seeds 3") != std::string::npos);
}
