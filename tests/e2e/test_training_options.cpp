// End-to-end checks of training options on the tiny generated data set: --strict and the
// load report (a copy of the data set with one clip file removed), transfer refusing
// options that disagree with its genre run, evaluate and overfit-batch on a data set with
// a missing clip, transfer --freeze-trunk end to end, and `bench-step --json`.
#include <doctest/doctest.h>

#include "e2e_util.h"
#include "engine/io/tensor_file.h"

using namespace e2e;
using nlohmann::json;

namespace {

// A small, fast CNN genre run on beat-synchronised clips: 2 conv blocks (1-4-8), 16 frames.
std::vector<std::string> small_genre_args(const std::string& data, const fs::path& out,
                                          int epochs) {
  return {"genre",
          "--data",
          data,
          "--beat",
          "--frames",
          "16",
          "--channels",
          "1,4,8",
          "--epochs",
          std::to_string(epochs),
          "--threads",
          "2",
          "--no-progress",
          "--out",
          out.string()};
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A copy of the tiny data set, in scratch()/`name`, whose beat genre train/ folder lacks
// the clip file of its first Blues row (Blues is kept by CLASS_MAPPING, so the row counts).
// Each test takes its own copy: the HDF5 cache is per data folder, so none sees another's.
struct MissingClip {
  std::string data, id;
  int line = 0;  // of train_labels.txt
};

MissingClip missing_clip_data(const std::string& name) {
  MissingClip r;
  r.data = (scratch() / name).string();
  fs::copy(tiny_data(), r.data, fs::copy_options::recursive);
  const fs::path folder = fs::path(r.data) / "fma_genre_spectrograms_beat";
  std::istringstream labels(read_text(folder / "train_labels.txt"));
  std::string row;
  for (int line = 1; std::getline(labels, row); ++line) {
    if (line == 1 || row.find("\tBlues") == std::string::npos) continue;
    r.id = row.substr(0, row.find('.'));
    r.line = line;
    break;
  }
  REQUIRE(!r.id.empty());
  size_t removed = 0;
  for (const auto& e : fs::directory_iterator(folder / "train"))
    if (e.path().filename().string().rfind(r.id + ".", 0) == 0) removed += fs::remove(e.path());
  REQUIRE(removed == 1);
  return r;
}

}  // namespace

TEST_CASE(
    "--strict: a label row without its clip file is an error naming the label file, line and id") {
  const MissingClip m = missing_clip_data("missing-clip-strict");
  const fs::path run_dir = scratch() / "strict";
  std::vector<std::string> a = small_genre_args(m.data, run_dir, 1);
  a.push_back("--strict");
  Result r = run(a);
  INFO(r.err);
  CHECK(r.code == 1);
  CHECK(has(r.err, "--strict"));
  CHECK(has(r.err, "fma_genre_spectrograms_beat/train_labels.txt line " + std::to_string(m.line)));
  CHECK(has(r.err, "(id " + m.id + ")"));
  CHECK(has(r.err, "no .npy or .npy.gz file for id " + m.id));
  CHECK_FALSE(fs::exists(run_dir / "log.jsonl"));
  // The same from the HDF5 cache that a run without --strict writes.
  REQUIRE(run(small_genre_args(m.data, scratch() / "strict-cache-warm", 1)).code == 0);
  Result cached = run(a);
  CHECK(cached.code == 1);
  CHECK(has(cached.err, "(id " + m.id + ")"));
}

TEST_CASE("without --strict a run says how many rows it skipped and reports the load") {
  const MissingClip m = missing_clip_data("missing-clip-skipped");
  Result first = run(small_genre_args(m.data, scratch() / "skip-first", 1));
  INFO(first.err);
  REQUIRE(first.code == 0);
  CHECK(has(
      first.err,
      "genre: skipped 1 label row(s) of fma_genre_spectrograms_beat whose clip file is missing"));
  CHECK(has(first.err, "train_labels.txt line " + std::to_string(m.line) + ", id " + m.id));
  // One clip fewer than the 288 labelled training clips of the beat genre set: val is
  // floor(287 / 3) = 95 instead of 96.
  CHECK(has(first.err, "192 train / 95 val / 72 test clips"));
  // The load report: clips, seconds, MB/s, and the cache (written now, read next time).
  CHECK(has(first.err, "genre: loaded fma_genre_spectrograms_beat: 359 clips in "));
  CHECK(has(first.err, " MB/s (read from the clip files; HDF5 cache written to "));
  Result second = run(small_genre_args(m.data, scratch() / "skip-second", 1));
  INFO(second.err);
  REQUIRE(second.code == 0);
  CHECK(has(second.err, "genre: skipped 1 label row(s)"));
  CHECK(has(second.err, " MB/s (read from the HDF5 cache "));
  // A complete data set skips nothing and says nothing about it.
  Result complete = run(small_genre_args(tiny_data(), scratch() / "skip-none", 1));
  REQUIRE(complete.code == 0);
  CHECK_FALSE(has(complete.err, "skipped"));
  CHECK(has(complete.err, "genre: loaded fma_genre_spectrograms_beat: 360 clips in "));
}

TEST_CASE(
    "evaluate and overfit-batch skip a label row without its clip file; --strict refuses it") {
  const fs::path genre = scratch() / "evaluate-source";
  REQUIRE(run(small_genre_args(tiny_data(), genre, 1)).code == 0);
  const MissingClip m = missing_clip_data("missing-clip-evaluate");
  const std::string skipped =
      "skipped 1 label row(s) of fma_genre_spectrograms_beat whose clip file is missing (first: ";
  const std::string where = "train_labels.txt line " + std::to_string(m.line) + ", id " + m.id;
  const std::vector<std::string> evaluate = {"evaluate",  "--run", genre.string(), "--data", m.data,
                                             "--threads", "2",     "--json"};
  Result ev = run(evaluate);
  INFO(ev.err);
  REQUIRE(ev.code == 0);
  CHECK(has(ev.err, "evaluate: " + skipped));
  CHECK(has(ev.err, where));
  CHECK(json::parse(ev.out)["test_clips"] == 72);
  std::vector<std::string> strict = evaluate;
  strict.push_back("--strict");
  Result refused = run(strict);
  INFO(refused.err);
  CHECK(refused.code == 1);
  CHECK(has(refused.err, "(--strict)"));
  CHECK(has(refused.err, "train_labels.txt line " + std::to_string(m.line) + " (id " + m.id + ")"));
  // The run's own, complete data set: nothing skipped, nothing said.
  Result complete = run({"evaluate", "--run", genre.string(), "--threads", "2", "--json"});
  REQUIRE(complete.code == 0);
  CHECK_FALSE(has(complete.err, "skipped"));
  // predict reads the files it is given, no label rows: a missing one is an error naming it.
  const std::string absent = (scratch() / "absent.npy").string();
  Result pr = run({"predict", "--run", genre.string(), absent});
  CHECK(pr.code == 1);
  CHECK(has(pr.err, absent));

  const std::vector<std::string> overfit = {
      "overfit-batch", "--data", m.data,      "--beat", "--frames",      "16",  "--batch-size", "8",
      "--steps",       "1",      "--threads", "2",      "--target-loss", "1000"};
  Result of = run(overfit);
  INFO(of.err);
  CHECK(of.code == 0);
  CHECK(has(of.err, "overfit-batch: " + skipped));
  CHECK(has(of.err, where));
  std::vector<std::string> of_strict = overfit;
  of_strict.push_back("--strict");
  Result of_refused = run(of_strict);
  INFO(of_refused.err);
  CHECK(of_refused.code == 1);
  CHECK(has(of_refused.err, "(id " + m.id + ")"));
}

TEST_CASE(
    "transfer refuses --features, --beat and CNN options (shape, dropout, BatchNorm) that "
    "disagree with the genre run") {
  const fs::path genre = scratch() / "transfer-source";
  REQUIRE(run(small_genre_args(tiny_data(), genre, 1)).code == 0);
  // A genre run on full clips (only its config.json is read before the refusal).
  const fs::path full = scratch() / "transfer-source-full";
  fs::create_directories(full);
  json full_config = read_json(genre / "config.json");
  full_config["beat"] = false;
  std::ofstream(full / "config.json") << full_config.dump();

  struct Case {
    fs::path from;
    std::vector<std::string> options;
    std::string names, genre_value;
  };
  const std::vector<Case> cases = {
      {genre, {"--features", "chroma"}, "--features chroma", "which used --features mel"},
      {full, {"--beat"}, "--beat", "which used full clips (no --beat)"},
      {genre, {"--frames", "32"}, "--frames 32", "which used --frames 16"},
      {genre, {"--channels", "1,4,16"}, "--channels 1,4,16", "which used --channels 1,4,8"},
      {genre, {"--pool", "3"}, "--pool 3", "which used --pool 2"},
      {genre, {"--dropout", "0.5"}, "--dropout 0.5", "which used --dropout 0.2"},
      {genre,
       {"--no-batch-norm"},
       "--no-batch-norm",
       "which used BatchNorm2d (no --no-batch-norm)"},
      {genre,
       {"--running-stats"},
       "--running-stats",
       "which used batch statistics (no --running-stats)"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> a = {
        "transfer", "--from",    c.from.string(),
        "--data",   tiny_data(), "--epochs",
        "1",        "--out",     (scratch() / "transfer-refused").string()};
    a.insert(a.end(), c.options.begin(), c.options.end());
    Result r = run(a);
    INFO(c.names << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(has(r.err, "option " + c.names + " conflicts with the genre run"));
    CHECK(has(r.err, c.genre_value));
    CHECK_FALSE(fs::exists(scratch() / "transfer-refused"));
  }
  // The genre run's own values are accepted.
  const fs::path out = scratch() / "transfer-agreeing";
  Result ok = run({"transfer",  "--from", genre.string(),  "--data", tiny_data(),  "--features",
                   "mel",       "--beat", "--frames",      "16",     "--channels", "1,4,8",
                   "--pool",    "2",      "--dropout",     "0.2",    "--epochs",   "1",
                   "--threads", "2",      "--no-progress", "--out",  out.string()});
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK(read_json(out / "config.json")["features"] == "mel");
}

TEST_CASE("transfer --freeze-trunk trains the FC layers only: best.h5 keeps the genre trunk") {
  const fs::path genre = scratch() / "freeze-source";
  REQUIRE(run(small_genre_args(tiny_data(), genre, 1)).code == 0);
  auto transfer = [&](const std::string& out, bool freeze) {
    std::vector<std::string> a = {"transfer",
                                  "--from",
                                  genre.string(),
                                  "--data",
                                  tiny_data(),
                                  "--epochs",
                                  "2",
                                  "--threads",
                                  "2",
                                  "--clip-grad",
                                  "1",
                                  "--out",
                                  (scratch() / out).string(),
                                  "--no-progress"};
    if (freeze) a.push_back("--freeze-trunk");
    Result r = run(a);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r;
  };
  const Result frozen = transfer("frozen", true);
  CHECK(has(frozen.err, "transfer: loaded 10 tensors from " + (genre / "best.h5").string() +
                            ", re-initialised 4, froze 8"));
  transfer("unfrozen", false);
  const auto source = melgrad::io::load_tensor_file((genre / "best.h5").string()).tensors;
  auto same_as_genre = [&](const std::map<std::string, melgrad::Tensor>& state,
                           const std::string& name) {
    return state.at(name).to_vector() == source.at(name).to_vector();
  };
  const auto f = melgrad::io::load_tensor_file((scratch() / "frozen" / "best.h5").string()).tensors;
  const auto u =
      melgrad::io::load_tensor_file((scratch() / "unfrozen" / "best.h5").string()).tensors;
  int trunk = 0;
  for (const auto& [name, t] : f) {
    if (name.rfind("features.", 0) != 0) continue;
    ++trunk;
    INFO(name);
    CHECK(same_as_genre(f, name));  // frozen: the genre run's bits
    if (name.find("weight") != std::string::npos) CHECK_FALSE(same_as_genre(u, name));
  }
  CHECK(trunk == 8);  // conv weight and bias, BatchNorm weight and bias, for 2 blocks
  // The loaded first FC layer is trained in both.
  CHECK_FALSE(same_as_genre(f, "classifier.0.weight"));
  CHECK_FALSE(same_as_genre(u, "classifier.0.weight"));
  // Adam keeps moments of the 6 FC tensors only when frozen, of all 14 otherwise.
  auto adam_moments = [&](const std::string& out) {
    int n = 0;
    for (const auto& [name, t] :
         melgrad::io::load_tensor_file((scratch() / out / "last.h5").string()).tensors)
      n += name.rfind("adam.exp_avg.", 0) == 0;
    return n;
  };
  CHECK(adam_moments("frozen") == 6);
  CHECK(adam_moments("unfrozen") == 14);
}

TEST_CASE("bench-step --json prints one line with the model and a positive time per step") {
  Result r = run({"bench-step", "--model", "cnn-beat", "--steps", "1", "--warmup", "0", "--threads",
                  "2", "--json"});
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(!r.out.empty());
  CHECK(r.out.find('\n') == r.out.size() - 1);  // exactly one line
  const json j = json::parse(r.out);
  CHECK(j["model"] == "cnn-beat");
  CHECK(j["ms_per_step"].get<double>() > 0);
  CHECK(j["steps"] == 1);
  CHECK(j["device"] == "cpu");
}
