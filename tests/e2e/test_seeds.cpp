// `--seeds N` end to end on the tiny data set, for a training command: its layout
// (RUN/seed-<S>, seeds.json, study.json) and what report, compare, evaluate and --resume
// make of it; --seeds below 1. The study: test_seeds_study.cpp.
#include <doctest/doctest.h>

#include <cmath>

#include "tests/e2e/e2e_util.h"
#include "tests/e2e/markdown_table.h"

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
  for (const char* command : {"genre", "regress", "multitask", "transfer", "study"}) {
    Result r = run({command, "--seeds", "0", "--out", (scratch() / "never").string()});
    CAPTURE(command);
    CHECK(r.code == 2);
    CHECK(r.err.find("--seeds") != std::string::npos);
  }
}
