// `melgrad data-stats`: clips per class and split after CLASS_MAPPING, sequence lengths and
// skipped rows for each sub-set of a data folder (datasets/stats.h), as text or JSON.
#include <cstdio>

#include "datasets/default_data.h"
#include "datasets/stats.h"
#include "experiments/cli.h"

namespace melgrad {
namespace {

int run_data_stats(const cli::Args& args) {
  const int64_t seed = args.integer("seed");
  if (seed < 0)
    throw cli::UsageError("option --seed expects a non-negative integer, got " + args.str("seed"));
  const std::string dir = data::resolve_data_dir(args.str("data"));
  const data::DataStats st =
      data::compute_data_stats(dir, static_cast<uint64_t>(seed), args.flag("strict"),
                               static_cast<int>(args.integer("threads")));
  const std::string out = args.flag("json") ? data::data_stats_json(st) : data::data_stats_text(st);
  std::fputs(out.c_str(), stdout);
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "data-stats",
    .summary = "clips per class and split, sequence lengths and skipped rows of a data set",
    .options =
        {
            {"data", "DATA_DIR (default: the embedded synthetic data set)", "", false, false},
            {"seed", "split seed", "42", false, false},
            {"json", "print a JSON object (keys genre, genre_beat, multitask, multitask_beat)", "",
             true, false},
            {"strict", "a label row whose file is missing is an error", "", true, false},
            {"threads", "worker threads for reading headers (0 = all cores)", "0", false, false},
        },
    .positional_help = "",
    .run = run_data_stats,
});

}  // namespace
}  // namespace melgrad
