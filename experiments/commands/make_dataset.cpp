// `melgrad make-dataset`: writes the embedded synthetic patreco3 data set (datasets/synth_dataset.h).
#include <cstdio>

#include "datasets/synth_dataset.h"
#include "experiments/cli.h"

namespace melgrad {
namespace {

int run_make_dataset(const cli::Args& args) {
  data::SynthOptions o;
  try {
    o.size = data::parse_dataset_size(args.str("size"));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(std::string("option --size: ") + e.what());
  }
  const int64_t seed = args.integer("seed");
  if (seed < 0) throw cli::UsageError("option --seed expects a non-negative integer, got " + args.str("seed"));
  o.seed = static_cast<uint64_t>(seed);
  o.short_arrays = args.flag("short-arrays");
  o.threads = static_cast<int>(args.integer("threads"));
  const std::string out = args.str("out");
  const data::SynthSummary s = data::make_dataset(out, o);
  std::printf("wrote %s: %lld genre clips, %lld multitask clips, %lld files, %.1f MB in %.1f s (%s, seed %llu%s)\n",
              out.c_str(), static_cast<long long>(s.genre_clips), static_cast<long long>(s.multitask_clips),
              static_cast<long long>(s.files), static_cast<double>(s.bytes) / 1e6, s.seconds,
              data::dataset_size_name(o.size).c_str(), static_cast<unsigned long long>(o.seed),
              o.short_arrays ? ", short arrays" : "");
  return 0;
}

// Options: {name, help, default, is_flag, required}.
const cli::CommandRegistrar reg({
    .name = "make-dataset",
    .summary = "write the embedded synthetic patreco3 data set (real layout, names, quirks)",
    .options = {
        {"out", "folder to create (must not exist or be empty)", "", false, true},
        {"size", "small (fast study, ~15 min on 2 cores) or full (real counts and lengths)", "small", false, false},
        {"seed", "random seed; the same seed writes the same bytes", "42", false, false},
        {"short-arrays", "keep the counts of --size but write tiny arrays (T 3-5), e.g. to check counts", "", true, false},
        {"threads", "worker threads (0 = all cores)", "0", false, false},
    },
    .positional_help = "",
    .run = run_make_dataset,
});

}  // namespace
}  // namespace melgrad
