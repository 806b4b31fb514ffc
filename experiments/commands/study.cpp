// `melgrad study`: runs every experiment of the study in order into STUDY_DIR and writes
// study.json, metrics.json and the report (experiments/study.h).
#include "experiments/study.h"

#include "datasets/default_data.h"
#include "engine/determinism.h"
#include "experiments/cli.h"
#include "experiments/distributed.h"
#include "experiments/experiment.h"
#include "experiments/experiment_cli.h"
#include "experiments/model_config.h"
#include "experiments/recipe_seed.h"

namespace melgrad {
namespace {

using namespace experiments;

int run_study_command(const cli::Args& a) {
  StudyOptions o;
  // mpirun: rank 0 alone makes the default folder (default_run_dir creates it) and names it.
  o.out =
      a.str("out").empty() && dist::world().rank() == 0 ? default_run_dir("study") : a.str("out");
  dist::world().broadcast_bytes(o.out, 0);  // mpirun: rank 0's name for the folder
  o.quick = a.flag("quick");
  o.with_grid = a.flag("with-grid");
  o.resume = a.flag("resume");
  if (o.resume && a.str("out").empty())
    throw cli::UsageError("--resume needs --out STUDY_DIR (the study to continue)");
  const int64_t seed = a.integer("seed"), epochs = a.integer("epochs");
  if (seed < 0 || epochs < 0) throw cli::UsageError("--seed and --epochs must be >= 0");
  o.seed = static_cast<uint64_t>(seed);
  o.epochs = epochs;
  o.cnn_frames = a.integer("frames");
  if (o.cnn_frames < 0) throw cli::UsageError("--frames must be >= 0");
  o.seeds = a.integer("seeds");
  if (o.seeds < 1) throw cli::UsageError("option --seeds must be >= 1, got " + a.str("seeds"));
  o.only = split_list(a.str("only"));
  o.progress_bar = !a.flag("no-progress");
  o.device = a.str("device");
  o.cuda_graphs = on_off(a, "cuda-graphs");
  o.deterministic =
      a.has("deterministic") ? on_off(a, "deterministic") : deterministic_algorithms();
  o.strict = a.flag("strict");
  o.recipe = parse_recipe(a.str("recipe"));
  o.data_parallel = data_parallel_from_args(a);
  o.stream = stream_from_args(a);
  check_device(o.device);
  apply_threads(a.integer("threads"));
  rank0_first([&] { o.data_dir = data::resolve_data_dir(a.str("data")); });
  study_plan(o);  // validates --only before anything runs
  return run_study(o);
}

// The study's own options, then --stream, --stream-chunk-mb, --bucket-mb, --dist-timeout and
// --sync-bn for its experiments.
std::vector<cli::Option> with_experiment_options(std::vector<cli::Option> options) {
  for (cli::Option& o : stream_options()) options.push_back(std::move(o));
  for (cli::Option& o : data_parallel_options()) options.push_back(std::move(o));
  return options;
}

const cli::CommandRegistrar reg({
    .name = "study",
    .summary = "run every experiment of the study in order and write the report",
    .options = with_experiment_options(
        {{"out", "STUDY_DIR (default: runs/study-<time>)", ""},
         {"data", "DATA_DIR (default: the embedded synthetic data set, generated on first use)",
          ""},
         {"quick", "two epochs per experiment (a smoke test of the whole pipeline)", "", true},
         {"with-grid",
          "also run a narrowed LSTM regression grid on valence (slow; the seed recipe always runs "
          "its grids)",
          "", true},
         {"resume", "continue an interrupted study in --out", "", true},
         {"epochs", "cap every experiment at this many epochs (0: the study's budget)", "0"},
         {"frames", "CNN input frames: clips are padded/cropped to it (0: the longest clip)", "0"},
         {"only", "comma-separated experiment names to run (default: all)", ""},
         {"seed", "training seed of every experiment", "42"},
         {"seeds",
          "train each experiment N times (seeds seed..seed+N-1, same split): EXP/seed-<S>, "
          "intervals and significance tests in the report",
          "1"},
         {"device", "cpu | cuda", "cpu"},
         {"cuda-graphs", "on | off: replay training steps as CUDA graphs (GPU build)", "on"},
         {"deterministic",
          "on | off: bit-reproducible algorithms only (off: cuDNN's fastest; default: "
          "MELGRAD_DETERMINISTIC, else on)",
          ""},
         {"threads", "CPU threads (0: all cores)", "0"},
         strict_option(),
         {"no-progress", "no in-place progress bars (one line per epoch only)", "", true},
         {"recipe",
          "default | seed: the study's notebook's own experiment list and settings "
          "(docs/EXPERIMENTS.md); --epochs still caps every experiment",
          "default"}}),
    .positional_help = "",
    .run = run_study_command,
});

}  // namespace
}  // namespace melgrad
