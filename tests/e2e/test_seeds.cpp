// `--seeds N` end to end on the tiny data set: a training command's layout (RUN/seed-<S>,
// seeds.json, study.json) and what report, compare, evaluate and --resume make of it; the
// study with three seeds per experiment, its seed folders, the transfer runs paired with
// the genre seeds, and the report's intervals and significance tests.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tests/e2e/e2e_util.h"

using namespace e2e;
using nlohmann::json;

namespace {

// A two-epoch CNN on the beat-synchronised tiny set.
std::vector<std::string> quick(std::vector<std::string> args) {
  for (const char* a :
       {"--beat", "--frames", "16", "--epochs", "2", "--threads", "2", "--no-progress"})
    args.push_back(a);
  args.push_back("--data");
  args.push_back(tiny_data());
  return args;
}

// The line of `text` that contains `needle` ("" when none).
std::string line_with(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = text.rfind('\n', at) + 1, end = text.find('\n', at);
  return text.substr(begin, end - begin);
}

// The trimmed cells of a Markdown table row.
std::vector<std::string> cells_of(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream in(row);
  std::string cell;
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) {
    const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
    out.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
  }
  return out;
}

bool has_cell(const std::string& row, const std::string& cell) {
  const std::vector<std::string> cells = cells_of(row);
  return std::find(cells.begin(), cells.end(), cell) != cells.end();
}

}  // namespace

TEST_CASE("genre --seeds 2: a run folder per seed, seeds.json, and report, compare, evaluate") {
  const fs::path folder = scratch() / "genre-seeds";
  Result r = run(quick({"genre", "--seeds", "2", "--out", folder.string()}));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const json c42 = read_json(folder / "seed-42" / "config.json");
  const json c43 = read_json(folder / "seed-43" / "config.json");
  CHECK(c42["seed"] == 42);
  CHECK(c43["seed"] == 43);
  CHECK(c42["split_seed"] == c43["split_seed"]);  // the same test clips
  CHECK(read_json(folder / "seed-42" / "predictions.json")["ids"] ==
        read_json(folder / "seed-43" / "predictions.json")["ids"]);

  // seeds.json: each seed's accuracy as its own metrics.json says, their mean and std.
  const json s = read_json(folder / "seeds.json");
  CHECK(s["seeds"] == json({42, 43}));
  CHECK(s["dirs"] == json({"seed-42", "seed-43"}));
  const double a42 = read_json(folder / "seed-42" / "metrics.json")["accuracy"].get<double>();
  const double a43 = read_json(folder / "seed-43" / "metrics.json")["accuracy"].get<double>();
  const json& acc = s["metrics"]["accuracy"];
  CHECK(acc["per_seed"][0].get<double>() == doctest::Approx(a42).epsilon(1e-12));
  CHECK(acc["per_seed"][1].get<double>() == doctest::Approx(a43).epsilon(1e-12));
  CHECK(acc["mean"].get<double>() == doctest::Approx((a42 + a43) / 2).epsilon(1e-12));
  CHECK(acc["std"].get<double>() ==
        doctest::Approx(std::abs(a42 - a43) / std::sqrt(2.0)).epsilon(1e-9));
  CHECK(acc["low"].get<double>() <= acc["mean"].get<double>());
  CHECK(acc["high"].get<double>() >= acc["mean"].get<double>());
  CHECK(acc["test_clips"] == 72);
  CHECK(s["metrics"].contains("macro F1"));
  CHECK(r.out.find("accuracy") != std::string::npos);
  CHECK(r.out.find("95 % interval") != std::string::npos);
  const json study = read_json(folder / "study.json");
  CHECK(study["experiments"][0]["seed_dirs"] == json({"seed-42", "seed-43"}));

  // report --run RUN: the folder reads as a one-experiment study with intervals.
  Result rep = run({"report", "--run", folder.string()});
  INFO(rep.out << rep.err);
  REQUIRE(rep.code == 0);
  const std::string md = read_text(folder / "report.md");
  CHECK(md.find("## Intervals and significance") != std::string::npos);
  CHECK(line_with(md, "| genre-seeds").find("accuracy") != std::string::npos);
  CHECK(md.find("training-seed variation is not covered") == std::string::npos);

  // compare RUN: the seeds side by side.
  const fs::path page = scratch() / "seeds-compare.html";
  Result cmp = run({"compare", folder.string(), "--out", page.string()});
  INFO(cmp.out << cmp.err);
  REQUIRE(cmp.code == 0);
  const std::string cmp_md = read_text(scratch() / "seeds-compare.md");
  CHECK(cmp_md.find("genre-seeds/seed-42") != std::string::npos);
  CHECK(cmp_md.find("genre-seeds/seed-43") != std::string::npos);

  // evaluate takes one seed's folder; the parent is a usage error naming them.
  Result parent = run({"evaluate", "--run", folder.string(), "--threads", "2"});
  CHECK(parent.code == 2);
  CHECK(parent.err.find((folder / "seed-43").string()) != std::string::npos);
  Result one = run({"evaluate", "--run", (folder / "seed-43").string(), "--threads", "2"});
  INFO(one.out << one.err);
  CHECK(one.code == 0);

  // --resume keeps finished seeds; a seed that never started cannot be rebuilt from --resume.
  Result again =
      run({"genre", "--seeds", "2", "--resume", "--out", folder.string(), "--no-progress"});
  INFO(again.out << again.err);
  CHECK(again.code == 0);
  CHECK(again.err.find("genre seed-43: finished earlier, kept") != std::string::npos);
  CHECK(read_json(folder / "seeds.json")["metrics"] == s["metrics"]);
  Result more =
      run({"genre", "--seeds", "3", "--resume", "--out", folder.string(), "--no-progress"});
  CHECK(more.code == 1);
  CHECK(more.err.find("seed-44: this seed never started") != std::string::npos);
}

TEST_CASE("--seeds below 1 is a usage error") {
  for (const char* command : {"genre", "regress", "multitask", "study"}) {
    Result r = run({command, "--seeds", "0", "--out", (scratch() / "never").string()});
    CAPTURE(command);
    CHECK(r.code == 2);
    CHECK(r.err.find("--seeds") != std::string::npos);
  }
}

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
