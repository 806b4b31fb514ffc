// Study, grid and --seeds folders are locked as a whole (issue 17): while `melgrad study --out
// S` (or `grid --out G`, or `genre --seeds N --out P`) runs, a second one on the same folder is
// refused by the folder's own lock, naming S and the holder's PID, and writes nothing there. The
// first process is stopped (SIGSTOP) while it holds the lock, so the test does not depend on how
// long it trains.
#include <doctest/doctest.h>

#include "e2e_util.h"

using namespace e2e;

namespace {

bool says(const Result& r, const std::string& text) {
  return r.err.find(text) != std::string::npos;
}

// Waits (up to a minute) until `file` exists, then stops `pid` where it is.
void stop_when_exists(pid_t pid, const fs::path& file) {
  for (int i = 0; i < 6000 && !fs::exists(file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(fs::exists(file));
  ::kill(pid, SIGSTOP);
}

void end(pid_t pid, const std::string& tag) {
  ::kill(pid, SIGKILL);
  wait_for(pid, tag);
}

}  // namespace

TEST_CASE("a second study on the --out of a running study is refused by the study's lock") {
  const fs::path dir = scratch() / "locked-study";
  auto study = [&](bool resume) {
    std::vector<std::string> a = {"study",
                                  "--data",
                                  tiny_data(),
                                  "--frames",
                                  "16",
                                  "--threads",
                                  "1",
                                  "--epochs",
                                  "200",
                                  "--only",
                                  "genre-cnn-mel-beat",
                                  "--no-progress",
                                  "--out",
                                  dir.string()};
    if (resume) a.push_back("--resume");
    return a;
  };
  const pid_t first = spawn(study(false), "study-first");
  stop_when_exists(first, dir / "genre-cnn-mel-beat" / "last.h5");
  // Before the lock the second study went ahead and only its first experiment's own folder
  // lock stopped it, naming that folder, not the study's.
  const Result second = run(study(true));
  INFO(second.err);
  CHECK(second.code == 1);
  CHECK(says(second, "run folder '" + dir.string() +
                         "' is in use by another melgrad process (pid " + std::to_string(first) +
                         ")"));
  CHECK_FALSE(fs::exists(dir / "study.json"));  // the first writes it after its experiment
  end(first, "study-first");
}

TEST_CASE("a second grid on the --out of a running grid is refused by the grid's lock") {
  const fs::path dir = scratch() / "locked-grid";
  auto grid = [&](bool resume) {
    std::vector<std::string> a = {"grid",           "--data", tiny_data(),      "--beat",
                                  "--hidden-sizes", "4",      "--layer-counts", "1",
                                  "--lrs",          "1e-3",   "--losses",       "mse,l1",
                                  "--epochs",       "200",    "--threads",      "1",
                                  "--no-progress",  "--out",  dir.string()};
    if (resume) a.push_back("--resume");
    return a;
  };
  const pid_t first = spawn(grid(false), "grid-first");
  stop_when_exists(first, dir / "h4-l1-lr0.001-mse" / "last.h5");
  const Result second = run(grid(true));
  INFO(second.err);
  CHECK(second.code == 1);
  CHECK(says(second, "run folder '" + dir.string() +
                         "' is in use by another melgrad process (pid " + std::to_string(first) +
                         ")"));
  CHECK_FALSE(fs::exists(dir / "h4-l1-lr0.001-l1"));  // the second started no cell
  end(first, "grid-first");
}

TEST_CASE("a second --seeds run on the --out of a running one is refused by the parent's lock") {
  const fs::path dir = scratch() / "locked-seeds";
  auto seeds = [&](bool resume) {
    std::vector<std::string> a = tiny_cnn_genre_args(dir, 200, {"--seeds", "2"});
    if (resume) a.push_back("--resume");
    return a;
  };
  const pid_t first = spawn(seeds(false), "seeds-first");
  stop_when_exists(first, dir / "seed-42" / "last.h5");
  // Before the lock the parent's was let go at once, and only seed-42's own folder lock
  // stopped the second run, naming that folder.
  const Result second = run(seeds(true));
  INFO(second.err);
  CHECK(second.code == 1);
  CHECK(says(second, "run folder '" + dir.string() +
                         "' is in use by another melgrad process (pid " + std::to_string(first) +
                         ")"));
  CHECK_FALSE(fs::exists(dir / "seed-43"));  // the second started no seed
  end(first, "seeds-first");
}
