// `melgrad submit --run RUN --csv FILE`: the course's submission file, the run's predictions
// for every unlabelled clip of the multitask test/ folder as `id,valence,energy,danceability`
// (experiments/submission.h).
#include "experiments/commands/submit.h"

#include <cstdio>

#include "experiments/cli.h"
#include "experiments/experiment.h"
#include "experiments/submission.h"

namespace melgrad {

int write_submission_from_args(const cli::Args& a, const std::string& data_dir) {
  experiments::SubmissionOptions o;
  o.run_dir = a.str("run");
  o.csv_path = a.str("csv");
  o.data_dir = data_dir;
  o.force = a.flag("force");
  o.device = experiments::check_device(a.str("device"));
  const int64_t rows = experiments::write_submission(o);
  std::printf("%lld clips -> %s\n", static_cast<long long>(rows), o.csv_path.c_str());
  return 0;
}

namespace {

using namespace experiments;

int run_submit(const cli::Args& a) {
  apply_threads(a.integer("threads"));
  return write_submission_from_args(a, a.str("data"));
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
