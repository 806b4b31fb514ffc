// Study, grid and --seeds folders are locked as a whole (issue 17): while `melgrad study --out
// S` (or `grid --out G`, or `genre --seeds N --out P`) runs, a second one on the same folder is
// refused by the folder's own lock, naming S and the holder's PID, and writes nothing there. The
// first process is stopped (SIGSTOP) while it holds the lock, so the test does not depend on how
// long it trains.
#include <doctest/doctest.h>

#include "e2e_util.h"

using namespace e2e;

namespace {

// Waits (up to a minute) until `file` exists, then stops `pid` where it is.
void stop_when_exists(pid_t pid, const fs::path& file) {
  REQUIRE(wait_until([&] { return fs::exists(file); }));
  ::kill(pid, SIGSTOP);
}

// Starts `args` (whose --out is `dir`), stops it once `started` exists, then runs the same
// command with --resume: the folder's lock must refuse it, naming `dir` and the first run's
// PID. The first run is killed before returning (it writes nothing more).
void check_second_is_refused(std::vector<std::string> args, const fs::path& dir,
                             const fs::path& started, const std::string& tag) {
  const pid_t first = spawn(args, tag);
  stop_when_exists(first, started);
  args.push_back("--resume");
  const Result second = run(args);
  INFO(second.err);
  CHECK(second.code == 1);
  CHECK(second.err.find("run folder '" + dir.string() +
                        "' is in use by another melgrad process (pid " + std::to_string(first) +
                        ")") != std::string::npos);
  ::kill(first, SIGKILL);
  wait_for(first, tag);
}

}  // namespace

TEST_CASE("a second study on the --out of a running study is refused by the study's lock") {
  const fs::path dir = scratch() / "locked-study";
  // Before the lock the second study went ahead and only its first experiment's own folder
  // lock stopped it, naming that folder, not the study's.
  check_second_is_refused(tiny_study_args(dir, 200), dir, dir / "genre-cnn-mel-beat" / "last.h5",
                          "study-first");
  CHECK_FALSE(fs::exists(dir / "study.json"));  // the first writes it after its experiment
}

TEST_CASE("a second grid on the --out of a running grid is refused by the grid's lock") {
  const fs::path dir = scratch() / "locked-grid";
  const std::vector<std::string> grid = {"grid",           "--data", tiny_data(),      "--beat",
                                         "--hidden-sizes", "4",      "--layer-counts", "1",
                                         "--lrs",          "1e-3",   "--losses",       "mse,l1",
                                         "--epochs",       "200",    "--threads",      "1",
                                         "--no-progress",  "--out",  dir.string()};
  check_second_is_refused(grid, dir, dir / "h4-l1-lr0.001-mse" / "last.h5", "grid-first");
  CHECK_FALSE(fs::exists(dir / "h4-l1-lr0.001-l1"));  // the second started no cell
}

TEST_CASE("a second --seeds run on the --out of a running one is refused by the parent's lock") {
  const fs::path dir = scratch() / "locked-seeds";
  // Before the lock the parent's was let go at once, and only seed-42's own folder lock
  // stopped the second run, naming that folder.
  check_second_is_refused(tiny_cnn_genre_args(dir, 200, {"--seeds", "2"}), dir,
                          dir / "seed-42" / "last.h5", "seeds-first");
  CHECK_FALSE(fs::exists(dir / "seed-43"));  // the second started no seed
}
