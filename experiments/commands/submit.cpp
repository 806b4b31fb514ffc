// `melgrad submit --run RUN --csv FILE`: the course's submission file, the run's predictions
// for every unlabelled clip of the multitask test/ folder as `id,valence,energy,danceability`
// (experiments/submission.h).
#include <cstdio>

#include "experiments/cli.h"
#include "experiments/experiment.h"
#include "experiments/submission.h"

namespace melgrad {
namespace {

using namespace experiments;

int run_submit(const cli::Args& a) {
  apply_threads(a.integer("threads"));
  SubmissionOptions o;
  o.run_dir = a.str("run");
  o.csv_path = a.str("csv");
  o.data_dir = a.str("data");
  o.force = a.flag("force");
  o.device = check_device(a.str("device"));
  const int64_t rows = write_submission(o);
  std::printf("%lld clips -> %s\n", static_cast<long long>(rows), o.csv_path.c_str());
  return 0;
}

const cli::CommandRegistrar reg({
    .name = "submit",
    .summary =
        "write the course's submission CSV (id,valence,energy,danceability) for the unlabelled "
        "multitask test clips with a finished multitask run",
    .options = {{"run", "RUN_DIR of a finished run predicting valence, energy and danceability", "",
                 false, true},
                {"csv", "the CSV file to write", "", false, true},
                {"data", "the data set's DATA_DIR (default: the one the run was trained on)", ""},
                {"force", "replace the CSV file when it exists", "", true},
                {"device", "cpu | cuda", "cpu"},
                {"threads", "CPU threads (0: all cores)", "0"}},
    .positional_help = "",
    .run = run_submit,
});

}  // namespace
}  // namespace melgrad
