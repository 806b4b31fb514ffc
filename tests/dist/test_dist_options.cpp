// --bucket-mb, --dist-timeout and --sync-bn on `melgrad study` and `melgrad grid`: the study
// plan gives every experiment (and its grid) the study's values, both recipes; under
// `mpirun -np 2` each experiment (study) and each cell (grid) says on rank 0 which values it
// trains with; values that are not > 0 are usage errors naming the options.
#include <doctest/doctest.h>

#include "experiments/study.h"
#include "tests/dist/mpirun_util.h"
#include "tests/e2e/e2e_util.h"

using namespace e2e;
using namespace melgrad::experiments;

namespace {

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

void check_options(const ExperimentSpec& s, const DataParallelOptions& expected) {
  CHECK(s.data_parallel.bucket_mb == expected.bucket_mb);
  CHECK(s.data_parallel.timeout_seconds == expected.timeout_seconds);
  CHECK(s.data_parallel.sync_batch_norm == expected.sync_batch_norm);
}

}  // namespace

TEST_CASE("the study plan passes the data-parallel options to every experiment and grid") {
  for (const std::string recipe : {"default", "seed"}) {
    CAPTURE(recipe);
    StudyOptions o;
    o.recipe = recipe;
    o.with_grid = true;
    o.data_parallel = {.bucket_mb = 3.5, .timeout_seconds = 7, .sync_batch_norm = true};
    const std::vector<StudyExperiment> plan = study_plan(o);
    REQUIRE(plan.size() >= 15);
    for (const StudyExperiment& e : plan) {
      CAPTURE(e.name);
      check_options(e.spec, o.data_parallel);
      if (e.grid) check_options(e.grid->base, o.data_parallel);
    }
  }
}

TEST_CASE("mpirun -np 2 melgrad study and grid train with the given data-parallel options") {
  const Result study =
      mpirun(2, {"study", "--quick", "--data", tiny_data(), "--frames", "16", "--threads", "1",
                 "--no-progress", "--only", "genre-cnn-mel-beat,genre-lstm-mel-beat", "--out",
                 (scratch() / "study-options").string(), "--bucket-mb", "1.5", "--dist-timeout",
                 "7", "--sync-bn"});
  INFO(study.err);
  REQUIRE(study.code == 0);
  for (const char* name : {"genre-cnn-mel-beat", "genre-lstm-mel-beat"})
    CHECK(count(study.err, std::string(name) +
                               ": data-parallel over 2 ranks (mpi): gradient buckets of 1.5 MiB, "
                               "BatchNorm statistics over the global batch (--sync-bn), "
                               "--dist-timeout 7 s") == 1);

  const Result grid = mpirun(2, {"grid",
                                 "--data",
                                 tiny_data(),
                                 "--beat",
                                 "--epochs",
                                 "1",
                                 "--hidden-sizes",
                                 "8",
                                 "--layer-counts",
                                 "1,2",
                                 "--lrs",
                                 "1e-3",
                                 "--losses",
                                 "mse",
                                 "--threads",
                                 "1",
                                 "--no-progress",
                                 "--out",
                                 (scratch() / "grid-options").string(),
                                 "--bucket-mb",
                                 "0.25",
                                 "--dist-timeout",
                                 "9"});
  INFO(grid.err);
  REQUIRE(grid.code == 0);
  CHECK(count(grid.err,
              ": data-parallel over 2 ranks (mpi): gradient buckets of 0.25 MiB, "
              "BatchNorm statistics per rank, --dist-timeout 9 s") == 2);  // 2 cells
}

TEST_CASE("study: --bucket-mb and --dist-timeout must be positive") {
  const Result r = run({"study", "--quick", "--data", tiny_data(), "--out",
                        (scratch() / "study-bad").string(), "--bucket-mb", "0"});
  CHECK(r.code == 2);
  CHECK(count(r.err, "--bucket-mb and --dist-timeout must be > 0, got 0 and 60") == 1);
  CHECK_FALSE(fs::exists(scratch() / "study-bad" / "study.json"));
}
