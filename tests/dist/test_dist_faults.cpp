// Faults of data-parallel training (2 ranks under mpirun): a rank killed with SIGKILL in the
// middle of an epoch (rank 0, the one writing checkpoints) and a rank that hangs (SIGSTOP)
// end the whole job within a bounded time with a line naming the rank; the last complete
// checkpoint stays readable and --resume continues from it.
#include <doctest/doctest.h>
#include <signal.h>

#include "engine/io/tensor_file.h"
#include "tests/e2e/e2e_util.h"

using namespace e2e;
using Clock = std::chrono::steady_clock;

namespace {

std::vector<std::string> slow_genre_args(const fs::path& out, int epochs,
                                         std::vector<std::string> extra = {}) {
  // Batches of 4 clips: 48 steps an epoch, so a signal lands in the middle of one.
  extra.insert(extra.begin(), {"--batch-size", "4"});
  return tiny_cnn_genre_args(out, epochs, extra);
}

pid_t spawn_mpirun(const std::vector<std::string>& melgrad_args, const std::string& tag) {
  std::vector<std::string> a = {"--allow-run-as-root", "--oversubscribe", "-np", "2",
                                melgrad_exe().string()};
  a.insert(a.end(), melgrad_args.begin(), melgrad_args.end());
  return spawn(a, tag, MELGRAD_MPIEXEC);
}

// The process of `rank` among the descendants of mpirun (found by its environment).
pid_t rank_pid(pid_t mpirun, int rank) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (const auto& task :
         fs::directory_iterator(fs::path("/proc") / std::to_string(mpirun) / "task")) {
      std::istringstream children(read_text(task.path() / "children"));
      for (pid_t child; children >> child;) {
        const std::string env = read_text(fs::path("/proc") / std::to_string(child) / "environ");
        if (env.find("OMPI_COMM_WORLD_RANK=" + std::to_string(rank) + '\0') != std::string::npos)
          return child;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("no process of rank " << rank << " under mpirun " << mpirun);
  return -1;
}

size_t epochs_logged(const fs::path& run_dir) {
  const std::string log = read_text(run_dir / "log.jsonl");
  return size_t(std::count(log.begin(), log.end(), '\n'));
}

void wait_for_first_epoch(const fs::path& run_dir) {
  const auto until = Clock::now() + std::chrono::seconds(120);
  while (epochs_logged(run_dir) < 1 && Clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  REQUIRE(epochs_logged(run_dir) >= 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the next epoch
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The run folder's last.h5 loads, and a single process continues it for one more epoch.
void resume_works(const fs::path& run_dir) {
  const auto last = melgrad::io::load_tensor_file((run_dir / "last.h5").string());
  const int64_t done = std::stoll(last.attributes.at("epochs_done"));
  CHECK(done >= 1);
  Result r = run(slow_genre_args(run_dir, int(done) + 1, {"--resume"}));
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(epochs_logged(run_dir) == size_t(done + 1));
}

}  // namespace

TEST_CASE("kill -9 of rank 0 mid-epoch ends the job at once, naming the rank; resume continues") {
  const fs::path dir = scratch() / "killed";
  const pid_t mpirun = spawn_mpirun(slow_genre_args(dir, 500), "killed");
  wait_for_first_epoch(dir);
  const pid_t victim = rank_pid(mpirun, 0);
  const auto killed_at = Clock::now();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  Result r = wait_for(mpirun, "killed");
  INFO(r.err);
  CHECK(seconds_since(killed_at) < 30);
  CHECK(r.code != 0);
  CHECK(r.err.find("rank 0") != std::string::npos);
  resume_works(dir);
}

TEST_CASE("a hung rank stops the others after --dist-timeout with a line naming it") {
  const fs::path dir = scratch() / "hung";
  const pid_t mpirun = spawn_mpirun(slow_genre_args(dir, 500, {"--dist-timeout", "5"}), "hung");
  wait_for_first_epoch(dir);
  const pid_t victim = rank_pid(mpirun, 1);
  const auto stopped_at = Clock::now();
  REQUIRE(::kill(victim, SIGSTOP) == 0);
  Result r = wait_for(mpirun, "hung");
  INFO(r.err);
  // Deadline + roll call (5 s each) + mpirun's clean-up. The deadline leaves room for a rank
  // that is merely slow on a loaded machine (rank 0 validating and writing a checkpoint).
  CHECK(seconds_since(stopped_at) < 5 + 5 + 20);
  CHECK(r.code != 0);
  CHECK(r.err.find("no answer from rank 1 (it died or hangs)") != std::string::npos);
  ::kill(victim, SIGKILL);  // in case mpirun left it stopped
  resume_works(dir);
}
