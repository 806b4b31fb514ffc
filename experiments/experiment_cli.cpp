// Shared training options (see experiment_cli.h).
#include "experiments/experiment_cli.h"

#include <cstdio>

#include "datasets/clip_stream.h"
#include "datasets/default_data.h"
#include "engine/determinism.h"
#include "experiments/distributed.h"
#include "experiments/interrupt.h"
#include "experiments/model_config.h"
#include "experiments/recipe_seed.h"
#include "experiments/resume_options.h"
#include "experiments/seeds.h"

namespace melgrad::experiments {

cli::Option strict_option() {
  return {"strict", "a label row whose clip file is missing is an error (default: skip it, say so)",
          "", true};
}

std::vector<cli::Option> training_options() {
  std::vector<cli::Option> options = {
      {"data", "DATA_DIR (default: the embedded synthetic data set, generated on first use)", ""},
      {"beat", "use the beat-synchronised sub-set", "", true},
      {"features", "input rows: mel | chroma | fused", "mel"},
      {"epochs", "maximum number of epochs (with --resume: the new total)", "30"},
      {"batch-size", "clips per batch", "32"},
      {"lr", "Adam learning rate (default: CNN 1e-4, multitask 5e-5, LSTM 1e-3)", ""},
      {"weight-decay", "Adam L2 weight decay (default: CNN 1e-5, LSTM 1e-6)", ""},
      {"patience",
       "early stopping: epochs without a better validation loss (0: never; default CNN 12, LSTM "
       "15)",
       ""},
      {"clip-grad", "clip the gradients' joint L2 norm to this (0: off)", "0"},
      {"seed", "seed of initialisation, batch order and dropout", "42"},
      {"split-seed", "seed of the train/validation/test split", "42"},
      {"out", "RUN_DIR (default: runs/<command>-<time>)", ""},
      {"resume", "continue the interrupted run in --out from its last.h5", "", true},
      {"force", "overwrite the run files in a non-empty --out", "", true},
      {"device", "cpu | cuda", "cpu"},
      {"cuda-graphs",
       "on | off: replay the training step as a CUDA graph where the batch shape repeats (CUDA "
       "graphs on a GPU, the emulator's recordings in melgrad-emu)",
       "on"},
      {"deterministic",
       "on | off: bit-reproducible algorithms only (same seed, same numbers; off lets cuDNN run "
       "its fastest convolutions; default: MELGRAD_DETERMINISTIC, else on)",
       ""},
      {"threads", "CPU threads (0: all cores)", "0"},
      {"channels",
       "CNN conv channels, input first (default: full-clip genre 1,16,64,256,512; else "
       "1,4,16,64,256)",
       ""},
      {"pool", "CNN max-pool size after each conv (default: full-clip genre 3, else 2)", ""},
      {"frames", "CNN input frames T: clips are padded/cropped to it (0: the longest clip)", "0"},
      {"no-batch-norm", "CNN without BatchNorm2d", "", true},
      {"running-stats",
       "BatchNorm2d tracks running statistics for eval (the study uses batch statistics)", "",
       true},
      {"dropout", "dropout probability (CNN FC layers; LSTM between layers)", "0.2"},
      {"hidden", "LSTM hidden size per direction", "100"},
      {"layers", "LSTM layers", "2"},
      {"max-frames", "LSTM: crop clips longer than this many frames (0: never)", "0"},
      {"no-standardise", "do not standardise each band with the train split's mean and std", "",
       true},
      strict_option(),
      {"no-progress", "no in-place progress bar (one line per epoch only)", "", true},
      recipe_option(),
  };
  for (cli::Option& o : stream_options()) options.push_back(std::move(o));
  for (cli::Option& o : data_parallel_options()) options.push_back(std::move(o));
  return options;
}

std::vector<cli::Option> stream_options() {
  return {
      {"stream",
       "on | off | auto: read batches from the HDF5 cache instead of holding the data set in "
       "memory (auto: when it would not fit)",
       "auto"},
      {"stream-chunk-mb", "streamed runs: shuffle by chunks of this many MB, then within", "64"},
  };
}

StreamOptions stream_from_args(const cli::Args& a) {
  StreamOptions st;
  try {
    st.mode = data::parse_stream_mode(a.str("stream"));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(std::string("option --stream: ") + e.what());
  }
  st.chunk_mb = a.number("stream-chunk-mb");
  if (!(st.chunk_mb > 0)) throw cli::UsageError("option --stream-chunk-mb must be > 0");
  return st;
}

std::vector<cli::Option> data_parallel_options() {
  return {
      {"bucket-mb", "under mpirun: MiB of gradients per all-reduce bucket", "25"},
      {"dist-timeout", "under mpirun: seconds a collective may wait for a rank before all stop",
       "60"},
      {"sync-bn", "under mpirun: BatchNorm statistics over the global batch (default: per rank)",
       "", true},
  };
}

DataParallelOptions data_parallel_from_args(const cli::Args& a) {
  DataParallelOptions p;
  p.bucket_mb = a.number("bucket-mb");
  p.timeout_seconds = a.number("dist-timeout");
  p.sync_batch_norm = a.flag("sync-bn");
  if (!(p.bucket_mb > 0) || !(p.timeout_seconds > 0))
    throw cli::UsageError("--bucket-mb and --dist-timeout must be > 0, got " + a.str("bucket-mb") +
                          " and " + a.str("dist-timeout"));
  return p;
}

cli::Option recipe_option() {
  return {
      "recipe",
      "default | seed: seed takes every setting from the study's notebook (docs/EXPERIMENTS.md); "
      "options given here still win",
      "default"};
}

OptionGiven given_options(const cli::Args& a) {
  return [&a](const std::string& option) {
    for (const cli::Option& o : a.command().options)
      if (o.name == option) return a.has(option);
    return false;  // an option this command does not take was not given
  };
}

void apply_recipe_option(const cli::Args& a, ExperimentSpec& spec) {
  if (parse_recipe(a.str("recipe")) != "seed" || spec.mode == RunDirMode::resume) return;
  apply_seed_recipe(spec, given_options(a));
}

std::vector<cli::Option> training_options_with(std::vector<cli::Option> extra) {
  std::vector<cli::Option> all = std::move(extra);
  for (cli::Option& o : training_options()) all.push_back(std::move(o));
  return all;
}

std::string model_option(const cli::Args& args) {
  const std::string m = args.str("model");
  if (m != "cnn" && m != "lstm")
    throw cli::UsageError("option --model expects cnn or lstm, got '" + m + "'");
  return m;
}

static int64_t positive(const cli::Args& a, const std::string& name, int64_t min = 1) {
  const int64_t v = a.integer(name);
  if (v < min)
    throw cli::UsageError("option --" + name + " must be >= " + std::to_string(min) + ", got " +
                          std::to_string(v));
  return v;
}

bool on_off(const cli::Args& a, const std::string& name) {
  const std::string v = a.str(name);
  if (v != "on" && v != "off")
    throw cli::UsageError("option --" + name + " expects on or off, got '" + v + "'");
  return v == "on";
}

ExperimentSpec spec_from_args(const cli::Args& a, ExperimentKind kind, const std::string& model) {
  ExperimentSpec s;
  s.kind = kind;
  s.model = model;
  s.beat = a.flag("beat");
  apply_recipe_defaults(s);
  s.features = a.str("features");
  if (s.features != "mel" && s.features != "chroma" && s.features != "fused")
    throw cli::UsageError("option --features expects mel, chroma or fused, got '" + s.features +
                          "'");
  s.epochs = positive(a, "epochs");
  s.epochs_given = a.has("epochs");
  s.batch_size = positive(a, "batch-size");
  if (a.has("lr")) s.lr = a.number("lr");
  if (a.has("weight-decay")) s.weight_decay = a.number("weight-decay");
  if (a.has("patience")) s.patience = positive(a, "patience", 0);
  if (!(s.lr > 0) || !(s.weight_decay >= 0))
    throw cli::UsageError("--lr must be > 0 and --weight-decay >= 0");
  s.clip_grad_norm = a.number("clip-grad");
  if (!(s.clip_grad_norm >= 0)) throw cli::UsageError("--clip-grad must be >= 0");
  s.seed = static_cast<uint64_t>(positive(a, "seed", 0));
  s.split_seed = static_cast<uint64_t>(positive(a, "split-seed", 0));
  s.device = a.str("device");
  if (s.device != "cpu" && s.device.rfind("cuda", 0) != 0)
    throw cli::UsageError("option --device expects cpu or cuda, got '" + s.device + "'");
  s.cuda_graphs = on_off(a, "cuda-graphs");
  s.deterministic =
      a.has("deterministic") ? on_off(a, "deterministic") : deterministic_algorithms();
  s.out = a.str("out");
  if (a.flag("resume") && a.flag("force"))
    throw cli::UsageError("--resume and --force exclude each other");
  if (a.flag("resume") && s.out.empty())
    throw cli::UsageError("--resume needs --out RUN_DIR (the run to continue)");
  s.mode = a.flag("resume")  ? RunDirMode::resume
           : a.flag("force") ? RunDirMode::force
                             : RunDirMode::fresh;
  if (a.has("channels")) s.cnn.channels = parse_int_list(a.str("channels"), "channels");
  if (a.has("pool")) s.cnn.pool = positive(a, "pool");
  s.cnn.frames = positive(a, "frames", 0);
  s.cnn.batch_norm = !a.flag("no-batch-norm");
  s.cnn.track_running_stats = a.flag("running-stats");
  const double dropout = a.number("dropout");
  if (!(dropout >= 0 && dropout < 1)) throw cli::UsageError("option --dropout must be in [0, 1)");
  s.cnn.dropout = s.lstm.dropout = dropout;
  s.lstm.hidden = positive(a, "hidden");
  s.lstm.layers = positive(a, "layers");
  s.max_frames = positive(a, "max-frames", 0);
  s.standardise = !a.flag("no-standardise");
  s.strict = a.flag("strict");
  s.progress_bar = !a.flag("no-progress");
  s.data_parallel = data_parallel_from_args(a);
  s.stream = stream_from_args(a);
  // Resolving the default data set may generate it (once, by rank 0 under mpirun), so it
  // comes last.
  if (s.mode != RunDirMode::resume)
    rank0_first([&] { s.data_dir = data::resolve_data_dir(a.str("data")); });
  return s;
}

int run_training_command(const cli::Args& args, ExperimentSpec spec) {
  apply_recipe_option(args, spec);
  apply_threads(args.integer("threads"));
  if (spec.mode == RunDirMode::resume) check_resume_options(args, spec.out);
  try {
    if (args.has("seeds")) return run_seed_command(std::move(spec), args.integer("seeds"));
    run_experiment(std::move(spec));
    return 0;
  } catch (const Interrupted& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 130;
  }
}

}  // namespace melgrad::experiments
