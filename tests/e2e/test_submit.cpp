// `melgrad submit`: the course's submission CSV from a 1-epoch multitask run on the tiny data
// set — the header, one row per unlabelled test/ clip with the data set's ids in order, the
// values `predict` gives for the same files in the same batches, the refusal to overwrite
// without --force, and the refusal of runs that do not predict the three attributes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tests/e2e/e2e_util.h"

using namespace e2e;
using json = nlohmann::json;

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// The unlabelled clips of multitask_dataset_beat/test/ (the run is --beat) in numeric id
// order (integer ids: shorter first, then by text): (id, path).
std::vector<std::pair<std::string, std::string>> unlabelled_test_clips() {
  std::vector<std::pair<std::string, std::string>> clips;
  for (const auto& entry :
       fs::directory_iterator(fs::path(tiny_data()) / "multitask_dataset_beat" / "test")) {
    const std::string name = entry.path().filename().string();
    clips.push_back({name.substr(0, name.find('.')), entry.path().string()});
  }
  std::sort(clips.begin(), clips.end(), [](const auto& a, const auto& b) {
    return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a < b;
  });
  return clips;
}

const fs::path& multitask_run() {
  static const fs::path dir = [] {
    fs::path d = scratch() / "multitask-run";
    Result r = run({"multitask", "--data", tiny_data(), "--beat", "--frames", "16", "--channels",
                    "1,4,8", "--epochs", "1", "--seed", "5", "--threads", "2", "--no-progress",
                    "--out", d.string()});
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("submit writes id,valence,energy,danceability for every unlabelled test clip") {
  const fs::path csv = scratch() / "submission.csv";
  Result r =
      run({"submit", "--run", multitask_run().string(), "--csv", csv.string(), "--threads", "2"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const std::vector<std::string> lines = split(read_text(csv), '\n');
  const auto clips = unlabelled_test_clips();
  REQUIRE(!clips.empty());
  REQUIRE(lines.size() == clips.size() + 1);
  CHECK(lines[0] == "id,valence,energy,danceability");
  CHECK(r.out.find(std::to_string(clips.size()) + " clips") != std::string::npos);

  // The same files through `predict`, in the same order: the run's batch size then groups
  // them as submit does, so even BatchNorm's batch statistics agree and the values match to
  // the 9 digits the CSV keeps.
  std::vector<std::string> predict_args = {"predict", "--run",     multitask_run().string(),
                                           "--json",  "--threads", "2"};
  for (const auto& [id, path] : clips) predict_args.push_back(path);
  Result p = run(predict_args);
  INFO(p.err);
  REQUIRE(p.code == 0);
  const json predicted = json::parse(p.out);
  REQUIRE(predicted.size() == clips.size());
  for (size_t i = 0; i < clips.size(); ++i) {
    const std::vector<std::string> fields = split(lines[i + 1], ',');
    REQUIRE(fields.size() == 4);
    CHECK(fields[0] == clips[i].first);
    const char* names[3] = {"valence", "energy", "danceability"};
    for (int c = 0; c < 3; ++c) {
      const double v = std::stod(fields[c + 1]);
      CHECK(std::isfinite(v));
      CHECK(v == doctest::Approx(predicted[i][names[c]].get<double>()).epsilon(1e-7));
    }
  }
}

TEST_CASE("submit does not overwrite a file without --force") {
  const fs::path csv = scratch() / "existing.csv";
  std::ofstream(csv) << "keep me\n";
  Result r =
      run({"submit", "--run", multitask_run().string(), "--csv", csv.string(), "--threads", "2"});
  CHECK(r.code == 1);
  CHECK(r.err.find("--force") != std::string::npos);
  CHECK(read_text(csv) == "keep me\n");

  Result forced = run({"submit", "--run", multitask_run().string(), "--csv", csv.string(),
                       "--force", "--threads", "2"});
  INFO(forced.err);
  REQUIRE(forced.code == 0);
  CHECK(read_text(csv).rfind("id,valence,energy,danceability\n", 0) == 0);
  // Written through a temporary file and a rename: nothing is left beside it.
  for (const auto& entry : fs::directory_iterator(scratch()))
    CHECK(entry.path().filename().string().find("existing.csv.tmp") == std::string::npos);
}

TEST_CASE("submit refuses a run that does not predict the three attributes") {
  const fs::path run_dir = scratch() / "regress-valence";
  Result t = run({"regress", "--model", "cnn", "--target", "valence", "--data", tiny_data(),
                  "--beat", "--frames", "16", "--channels", "1,4,8", "--epochs", "1", "--threads",
                  "2", "--no-progress", "--out", run_dir.string()});
  INFO(t.err);
  REQUIRE(t.code == 0);
  const fs::path csv = scratch() / "refused.csv";
  Result r = run({"submit", "--run", run_dir.string(), "--csv", csv.string()});
  CHECK(r.code == 1);
  CHECK(r.err.find("config.json") != std::string::npos);
  CHECK(r.err.find("energy") != std::string::npos);
  CHECK_FALSE(fs::exists(csv));
}

TEST_CASE("predict --split test --csv writes the same submission as submit") {
  const fs::path from_submit = scratch() / "via-submit.csv",
                 from_predict = scratch() / "via-predict.csv";
  REQUIRE(run({"submit", "--run", multitask_run().string(), "--csv", from_submit.string()}).code ==
          0);
  Result r = run({"predict", "--run", multitask_run().string(), "--split", "test", "--csv",
                  from_predict.string()});
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(read_text(from_predict) == read_text(from_submit));
  Result again = run({"predict", "--run", multitask_run().string(), "--split", "test", "--csv",
                      from_predict.string()});
  CHECK(again.code == 1);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(run({"predict", "--run", multitask_run().string(), "--split", "val", "--csv", "x.csv"})
            .code == 2);
  CHECK(run({"predict", "--run", multitask_run().string(), "--split", "test"}).code == 2);
}
