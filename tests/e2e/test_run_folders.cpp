// Run folders that cannot be mixed, lost or trusted blindly (issue 12), through the
// `melgrad` program on the tiny data set: two runs on one folder (the lock), unique default
// names, --force that checks before it replaces, config.json and checkpoints validated on
// load, --resume refusing conflicting options, temp files of killed runs removed, and the
// smaller command-line faults (loss explosion, --threads, a missing value, SIGTERM).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <set>

#include "e2e_util.h"
#include "engine/io/tensor_file.h"

using namespace e2e;
using nlohmann::json;

namespace {

std::vector<std::string> cnn_args(const fs::path& out, int epochs) {
  return {"genre",     "--data",     tiny_data(),     "--beat",   "--frames",
          "16",        "--channels", "1,4,8",         "--epochs", std::to_string(epochs),
          "--threads", "1",          "--no-progress", "--out",    out.string()};
}

std::vector<std::string> with(std::vector<std::string> a, std::initializer_list<std::string> more) {
  a.insert(a.end(), more);
  return a;
}

bool says(const Result& r, const std::string& text) {
  return r.err.find(text) != std::string::npos;
}

// A finished one-epoch CNN run, copied to `name` for a test to damage.
fs::path finished_run(const std::string& name) {
  static const fs::path original = [] {
    const fs::path dir = scratch() / "finished-original";
    Result r = run(cnn_args(dir, 1));
    INFO(r.err);
    REQUIRE(r.code == 0);
    return dir;
  }();
  const fs::path copy = scratch() / name;
  fs::remove_all(copy);
  fs::copy(original, copy, fs::copy_options::recursive);
  return copy;
}

long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

// One clip file of the tiny data set, for predict.
std::string some_clip() {
  for (const auto& e :
       fs::directory_iterator(fs::path(tiny_data()) / "fma_genre_spectrograms_beat" / "test"))
    return e.path().string();
  return "";
}

}  // namespace

TEST_CASE("two runs started together on one --out: one runs, the other is refused by the lock") {
  const fs::path dir = scratch() / "shared-out";
  // Before the lock both exited 0 with their log rows interleaved and the config of one
  // and the weights of the other.
  const pid_t cnn = spawn(cnn_args(dir, 2), "pair-cnn");
  const pid_t lstm = spawn({"genre", "--model", "lstm", "--data", tiny_data(), "--beat", "--epochs",
                            "2", "--threads", "1", "--no-progress", "--out", dir.string()},
                           "pair-lstm");
  const Result a = wait_for(cnn, "pair-cnn"), b = wait_for(lstm, "pair-lstm");
  INFO(a.err << "\n---\n" << b.err);
  REQUIRE((a.code == 0) != (b.code == 0));
  const Result& refused = a.code == 0 ? b : a;
  CHECK(refused.code == 1);
  CHECK((says(refused, "is in use by another melgrad process (pid ") ||
         says(refused, "is not empty")));
  const std::string model = read_json(dir / "config.json")["model"];
  CHECK(model == (a.code == 0 ? "cnn" : "lstm"));
  Result eval = run({"evaluate", "--run", dir.string(), "--json"});
  INFO(eval.err);
  CHECK(eval.code == 0);
}

TEST_CASE("a run killed with -9 leaves no lock behind: --resume takes the folder over") {
  const fs::path dir = scratch() / "killed-holder";
  std::vector<std::string> a = with(cnn_args(dir, 50), {"--batch-size", "4", "--patience", "0"});
  const pid_t pid = spawn(a, "holder");
  wait_until([&] { return fs::exists(dir / "last.h5"); });
  Result busy = run(with(cnn_args(dir, 50), {"--batch-size", "4", "--patience", "0", "--resume"}));
  CHECK(busy.code == 1);
  CHECK(says(busy, "is in use by another melgrad process (pid " + std::to_string(pid) + ")"));
  ::kill(pid, SIGKILL);
  wait_for(pid, "holder");
  Result resumed =
      run(with(cnn_args(dir, 2), {"--batch-size", "4", "--patience", "0", "--resume"}));
  INFO(resumed.err);
  CHECK(resumed.code == 0);
}

TEST_CASE("runs without --out started in the same second get folders of their own") {
  const fs::path cwd = scratch() / "default-names";
  fs::create_directories(cwd);
  const fs::path previous = fs::current_path();
  fs::current_path(cwd);  // the default is runs/<command>-<time> below the working folder
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> a = cnn_args("", 1);
    a.resize(a.size() - 2);  // no --out
    pids.push_back(spawn(a, "default-name-" + std::to_string(i)));
  }
  for (int i = 0; i < 3; ++i) {
    Result r = wait_for(pids[size_t(i)], "default-name-" + std::to_string(i));
    INFO(r.err);
    CHECK(r.code == 0);
  }
  fs::current_path(previous);
  std::set<std::string> folders;
  for (const auto& e : fs::directory_iterator(cwd / "runs")) {
    folders.insert(e.path().filename().string());
    CHECK(fs::exists(e.path() / "metrics.json"));
    CHECK(read_json(e.path() / "config.json")["model"] == "cnn");
  }
  CHECK(folders.size() == 3);
}

TEST_CASE("--force replaces a run whole, or refuses before removing anything") {
  SUBCASE("a temp file of a killed save no longer blocks it") {
    const fs::path dir = finished_run("force-stale-temp");
    const fs::path stale = dir / ("best.h5.tmp-" + std::to_string(dead_pid()));
    std::ofstream(stale) << std::string(4096, 'x');
    Result r = run(with(cnn_args(dir, 1), {"--force"}));
    INFO(r.err);
    CHECK(r.code == 0);  // before: the run's files were deleted, then "not empty; pass --force"
    CHECK(says(r, "removed 1 temporary file(s)"));
    CHECK_FALSE(fs::exists(stale));
    CHECK(fs::exists(dir / "metrics.json"));
  }
  SUBCASE("a file that is not a run's: nothing is removed") {
    const fs::path dir = finished_run("force-foreign");
    std::ofstream(dir / "notes.txt") << "mine";
    Result r = run(with(cnn_args(dir, 1), {"--force"}));
    CHECK(r.code == 1);
    CHECK(says(r, "holds files that are not a run's (notes.txt)"));
    CHECK(says(r, "nothing was removed"));
    for (const char* f :
         {"config.json", "log.jsonl", "best.h5", "last.h5", "metrics.json", "notes.txt"})
      CHECK_MESSAGE(fs::exists(dir / f), std::string(f));
  }
  SUBCASE("a read-only folder: named as such, not 'pass --force'") {
    const fs::path dir = finished_run("force-read-only");
    if (::getuid() == 0) {
      MESSAGE(
          "skipped: root writes into read-only folders (scripts/fault-tests.sh runs this as "
          "nobody)");
      return;
    }
    fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
    Result r = run(with(cnn_args(dir, 1), {"--force"}));
    fs::permissions(dir, fs::perms::owner_all);
    CHECK(r.code == 1);
    CHECK_FALSE(says(r, "pass --force"));
    CHECK((says(r, "Permission denied") || says(r, "not writable")));
    CHECK(fs::exists(dir / "best.h5"));
  }
}

TEST_CASE(
    "config.json and checkpoints are validated on load, with one line naming file and field") {
  const std::string clip = some_clip();
  SUBCASE("fewer classes than the network outputs: an error, not a segfault") {
    const fs::path dir = finished_run("config-classes");
    json config = read_json(dir / "config.json");
    config["classes"].erase(config["classes"].size() - 1);
    std::ofstream(dir / "config.json") << config.dump(2);
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"predict", "--run", dir.string(), clip},
          std::vector<std::string>{"evaluate", "--run", dir.string()}}) {
      Result r = run(cmd);
      INFO(cmd[0] << ": " << r.err);
      CHECK(r.code == 1);  // before: predict exited 139
      CHECK(says(r, (dir / "config.json").string() + ": field 'classes' lists 9 names but "
                                                     "model_config.outputs is 10"));
    }
  }
  SUBCASE("other damaged fields") {
    const std::vector<std::pair<std::function<void(json&)>, std::string>> damages = {
        {[](json& c) { c["model_config"]["outputs"] = "ten"; },
         "field 'model_config.outputs' must be an integer"},
        {[](json& c) { c["model_config"]["bands"] = 12; },
         "field 'model_config.bands' is 12 but the features have 128"},
        {[](json& c) { c["standardisation"]["std"][3] = 0; },
         "field 'standardisation.std' entry 3 must be a finite number > 0"},
        {[](json& c) { c["standardisation"]["mean"].erase(0); },
         "field 'standardisation.mean' must list one number per band"},
        {[](json& c) { c.erase("model_config"); }, "field 'model_config' is missing"},
        {[](json& c) { c["batch_size"] = -4; }, "field 'batch_size' must be >= 1"},
        {[](json& c) { c["features"] = "mfcc"; },
         "field 'features' must be one of mel, chroma, fused"},
    };
    for (const auto& [damage, message] : damages) {
      const fs::path dir = finished_run("config-damaged");
      json config = read_json(dir / "config.json");
      damage(config);
      std::ofstream(dir / "config.json") << config.dump(2);
      Result r = run({"predict", "--run", dir.string(), clip});
      INFO(message << ": " << r.err);
      CHECK(r.code == 1);
      CHECK(says(r, (dir / "config.json").string() + ": " + message));
    }
  }
  SUBCASE("a NaN weight in best.h5 is refused, naming the file and the tensor") {
    const fs::path dir = finished_run("nan-weight");
    const std::string best = (dir / "best.h5").string();
    melgrad::io::TensorFile f = melgrad::io::load_tensor_file(best);
    melgrad::nn::NamedTensors tensors(f.tensors.begin(), f.tensors.end());
    for (auto& [name, t] : tensors)
      if (name == "classifier.0.weight") {
        t = t.contiguous().clone();
        static_cast<float*>(t.raw_data())[3] = std::nanf("");
      }
    melgrad::io::save_tensor_file(best, tensors, f.attributes);
    for (const std::vector<std::string>& cmd :
         {std::vector<std::string>{"predict", "--run", dir.string(), clip},
          std::vector<std::string>{"evaluate", "--run", dir.string()}}) {
      Result r = run(cmd);
      INFO(cmd[0] << ": " << r.out << r.err);
      CHECK(r.code == 1);  // before: evaluated silently ("Blues nan")
      CHECK(says(
          r, best + ": tensor 'classifier.0.weight' holds a non-finite value (nan at element 3)"));
    }
  }
}

TEST_CASE("--resume refuses options that conflict with the run, naming the run's value") {
  const fs::path dir = scratch() / "resume-lstm";
  const std::vector<std::string> base = {
      "genre", "--model",   "lstm", "--data",        tiny_data(), "--beat",    "--epochs",
      "1",     "--threads", "1",    "--no-progress", "--out",     dir.string()};
  REQUIRE(run(base).code == 0);
  const std::string other = (scratch() / "other-data").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> conflicts = {
      {{"--model", "cnn"},
       "option --model cnn conflicts with the run in '" + dir.string() +
           "', which used --model lstm"},
      {{"--hidden", "50"},
       "option --hidden 50 conflicts with the run in '" + dir.string() +
           "', which used --hidden 100"},
      {{"--lr", "0.5"},
       "option --lr 0.5 conflicts with the run in '" + dir.string() + "', which used --lr 0.001"},
      {{"--data", other}, "option --data " + other + " conflicts"},
      {{"--channels", "1,4"}, "option --channels 1,4 conflicts"},
  };
  for (const auto& [options, message] : conflicts) {
    std::vector<std::string> a = {"genre",    "--out", dir.string(),   "--resume",
                                  "--epochs", "2",     "--no-progress"};
    a.insert(a.end(), options.begin(), options.end());
    Result r = run(a);
    INFO(r.err);
    CHECK(r.code == 2);  // before: exit 0, the options silently ignored
    CHECK(says(r, message));
  }
  // The options that do not change the run may be given, and --epochs is the new total.
  Result ok = run({"genre", "--model", "lstm", "--out", dir.string(), "--resume", "--epochs", "2",
                   "--lr", "0.001", "--threads", "1", "--no-progress"});
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK(read_json(dir / "metrics.json")["epochs_run"] == 2);
}

TEST_CASE("--resume removes the temp files a killed save left in the run folder, and says so") {
  const fs::path dir = finished_run("resume-stale");
  const fs::path stale = dir / ("last.h5.tmp-" + std::to_string(dead_pid()));
  std::ofstream(stale) << std::string(1 << 20, 'x');
  Result r = run(with(cnn_args(dir, 2), {"--resume"}));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_FALSE(fs::exists(stale));
  CHECK(says(r, "removed 1 temporary file(s) (1.0 MB) left in " + dir.string()));
}

TEST_CASE("smaller faults: explosion, threads, missing values, folders, hex numbers, SIGTERM") {
  Result exploded = run(with(cnn_args(scratch() / "explode", 3), {"--lr", "1e6"}));
  CHECK(exploded.code == 1);  // before: trained to the end with losses near 3e29, exit 0
  CHECK(says(exploded, "the loss exploded to"));
  CHECK(says(exploded, "times its first value"));

  Result negative = run(with(cnn_args(scratch() / "threads-neg", 1), {"--threads", "-2"}));
  CHECK(negative.code == 2);
  CHECK(says(negative, "--threads must be >= 0, got -2"));
  Result many = run(with(cnn_args(scratch() / "threads-many", 1), {"--threads", "9999"}));
  INFO(many.err);
  CHECK(many.code == 0);
  CHECK(says(many, "--threads 9999 is more than the "));

  Result missing = run({"genre", "--epochs", "--out", "X"});
  CHECK(missing.code == 2);
  CHECK(says(missing, "option --epochs needs a value (found the option --out instead)"));
  Result hex = run(with(cnn_args(scratch() / "hex", 1), {"--lr", "0x1p-1"}));
  CHECK(hex.code == 2);
  CHECK(says(hex, "option --lr expects a number, got '0x1p-1'"));

  const fs::path dir = finished_run("predict-folder");
  Result folder = run({"predict", "--run", dir.string(), tiny_data()});
  CHECK(folder.code == 1);  // before: std::bad_alloc
  CHECK(says(folder, "'" + tiny_data() + "' is a folder, not a file"));

  const fs::path term = scratch() / "sigterm";
  const pid_t pid =
      spawn(with(cnn_args(term, 50), {"--batch-size", "4", "--patience", "0"}), "sigterm");
  wait_until([&] { return fs::exists(term / "last.h5"); });
  ::kill(pid, SIGTERM);
  Result stopped = wait_for(pid, "sigterm");
  CHECK(stopped.code == 130);  // before: killed by the signal (143), no state saved
  CHECK(says(stopped, "the run's state is saved in"));
}

TEST_CASE("a checkpoint save on a full disk says 'no space left' and leaves no temp file") {
  const fs::path dir = scratch() / "full-disk";
  fs::create_directories(dir);
  const std::string path = (dir / "best.h5").string();
  // The temp file of the atomic save is a link to /dev/full, whose writes fail with ENOSPC.
  fs::create_symlink("/dev/full", path + ".tmp-" + std::to_string(::getpid()));
  melgrad::nn::NamedTensors tensors = {{"w", melgrad::Tensor::zeros({256, 256})}};
  std::string error;
  try {
    melgrad::io::save_tensor_file(path, tensors);
  } catch (const std::exception& e) {
    error = e.what();
  }
  CHECK(error.find(path + ".tmp-") != std::string::npos);
  CHECK(error.find("no space left on device") != std::string::npos);
  CHECK_FALSE(fs::exists(path));
}
