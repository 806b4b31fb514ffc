// One experiment end to end (see experiment.h).
#include "experiments/experiment.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "datasets/batcher.h"
#include "engine/backend.h"
#include "engine/determinism.h"
#include "engine/io/tensor_file.h"
#include "experiments/cli.h"
#include "experiments/distributed.h"
#include "experiments/evaluation.h"
#include "experiments/interrupt.h"
#include "experiments/model_config.h"
#include "experiments/run_config.h"
#include "experiments/trainer.h"
#include "models/transfer.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {

static const std::vector<std::pair<ExperimentKind, std::string>> kKindNames = {
    {ExperimentKind::genre, "genre"},
    {ExperimentKind::regress, "regress"},
    {ExperimentKind::transfer, "transfer"},
    {ExperimentKind::multitask, "multitask"}};

std::string experiment_kind_name(ExperimentKind kind) {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  throw std::logic_error("experiment_kind_name: kind " + std::to_string(int(kind)) +
                         " has no name");
}

ExperimentKind parse_experiment_kind(const std::string& name, const std::string& where) {
  for (const auto& [kind, n] : kKindNames)
    if (n == name) return kind;
  throw std::invalid_argument(where + ": unknown experiment '" + name +
                              "' (genre, regress, transfer or multitask)");
}

ExperimentKind experiment_kind_of(const nlohmann::json& config) {
  return parse_experiment_kind(config.at("command").get<std::string>(),
                               "config.json field 'command'");
}

data::Subset subset_for(ExperimentKind kind, bool beat) {
  if (kind == ExperimentKind::genre) return beat ? data::Subset::genre_beat : data::Subset::genre;
  return beat ? data::Subset::multitask_beat : data::Subset::multitask;
}

void apply_recipe_defaults(ExperimentSpec& s) {
  if (s.kind == ExperimentKind::transfer || s.kind == ExperimentKind::multitask) s.model = "cnn";
  if (s.model == "lstm") {
    // REFERENCE §2 trains the LSTM with lr 1e-5..2e-5 for many epochs; at the study's
    // budget of a few epochs on the small data set that barely moves the weights, so the
    // default is 1e-3 (docs/EXPERIMENTS.md shows the comparison).
    s.lr = 1e-3;
    s.weight_decay = 1e-6;
    s.patience = 15;
    s.lstm = models::LstmConfig{};
    return;
  }
  s.weight_decay = 1e-5;
  s.patience = 12;
  s.lr = s.kind == ExperimentKind::multitask ? 5e-5 : 1e-4;
  s.cnn = models::CnnConfig{};
  const bool full_genre = s.kind == ExperimentKind::genre && !s.beat;
  s.cnn.channels = full_genre ? std::vector<int64_t>{1, 16, 64, 256, 512}
                              : std::vector<int64_t>{1, 4, 16, 64, 256};
  s.cnn.pool = full_genre ? 3 : 2;
  s.cnn.frames = 0;
}

Device check_device(const std::string& device) {
  Device d;
  try {
    d = Device::parse(device);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--device: ") + e.what());
  }
  if (d.is_cpu()) return d;
  try {
    backend_for(d);
  } catch (const std::exception&) {
    throw std::runtime_error(
        "--device " + device +
        ": this program was built without the CUDA backend; run with --device cpu");
  }
  // The first device tensor initialises the device: no GPU (in the GPU build) fails here,
  // with a message that points to melgrad-emu.
  try {
    Tensor::zeros({1}, DType::f32, d);
  } catch (const std::exception& e) {
    throw std::runtime_error("--device " + device + ": " + e.what());
  }
  return d;
}

void apply_threads(int64_t threads) {
  if (threads < 0)
    throw cli::UsageError("option --threads must be >= 0, got " + std::to_string(threads));
  const int64_t cores = omp_get_num_procs();
  if (threads > cores) {  // more threads than cores only slows the run down
    std::fprintf(stderr, "melgrad: --threads %lld is more than the %lld cores; using %lld\n",
                 (long long)threads, (long long)cores, (long long)cores);
    threads = cores;
  }
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
}

Task task_for_config(const nlohmann::json& config) {
  if (experiment_kind_of(config) == ExperimentKind::genre)
    return classification_task(config.at("classes").get<std::vector<std::string>>());
  return regression_task(config.at("targets").get<std::vector<std::string>>(),
                         config.value("target_weights", std::vector<double>{}),
                         config.value("loss", std::string("mse")));
}

static data::SubsetData load_data(const std::string& dir, data::Subset subset,
                                  const std::string& features, bool strict,
                                  data::StreamMode stream) {
  data::LoadOptions lo;
  lo.features = data::parse_features(features);
  lo.strict = strict;
  lo.stream = stream;
  lo.cancelled = interrupt_requested;
  return data::load_subset(dir, subset, lo);
}

void print_skipped_rows(const std::string& label, const data::SubsetData& d) {
  if (d.skipped.empty()) return;
  const data::SkippedRow& first = d.skipped.front();
  std::fprintf(stderr,
               "%s: skipped %zu label row(s) of %s whose clip file is missing (first: %s line "
               "%lld, id %s); "
               "--strict makes this an error\n",
               label.c_str(), d.skipped.size(), data::subset_folder(d.subset).c_str(),
               first.label_file.c_str(), (long long)first.line, first.id.c_str());
}

void print_load_report(const std::string& label, const data::SubsetData& d) {
  print_skipped_rows(label, d);
  const data::LoadReport& r = d.report;
  const double mb_per_s = r.seconds > 0 ? double(r.source_bytes) / 1e6 / r.seconds : 0;
  const std::string how = r.from_cache ? "read from the HDF5 cache " + r.cache_file
                          : r.cache_file.empty()
                              ? std::string("read from the clip files; no HDF5 cache")
                              : "read from the clip files; HDF5 cache written to " + r.cache_file;
  std::fprintf(stderr, "%s: loaded %s: %lld clips in %.2f s, %.1f MB/s (%s)\n", label.c_str(),
               data::subset_folder(d.subset).c_str(), (long long)r.clips, r.seconds, mb_per_s,
               how.c_str());
  if (r.streamed)
    std::fprintf(stderr, "%s: streaming batches from the HDF5 cache %s (%s)\n", label.c_str(),
                 r.cache_file.c_str(), r.stream_reason.c_str());
  else if (!r.stream_reason.empty())
    std::fprintf(stderr, "%s: the data set is held in memory (%s)\n", label.c_str(),
                 r.stream_reason.c_str());
}

RunData load_run_data(const nlohmann::json& config, bool strict, data::StreamMode stream) {
  RunData r;
  r.data = load_data(config.at("data").at("path").get<std::string>(),
                     subset_for(experiment_kind_of(config), config.at("beat").get<bool>()),
                     config.at("features").get<std::string>(), strict, stream);
  data::SplitFractions fractions;
  fractions.val = config.value("val_fraction", -1.0);
  fractions.test = config.value("test_fraction", -1.0);
  r.splits =
      data::make_splits(r.data, config.value("split_seed", data::kDefaultSplitSeed), fractions);
  if (config.contains("standardisation")) {
    data::BandStats st;
    st.mean = config["standardisation"].at("mean").get<std::vector<float>>();
    st.std = config["standardisation"].at("std").get<std::vector<float>>();
    if (int64_t(st.mean.size()) != r.data.feature_dim)
      throw std::runtime_error("config.json: standardisation has " +
                               std::to_string(st.mean.size()) + " bands but the data has " +
                               std::to_string(r.data.feature_dim));
    data::apply_band_stats(r.data, st);
  }
  return r;
}

// Builds config.json for a fresh run; needs the loaded data for frames, bands and classes.
static nlohmann::json fresh_config(ExperimentSpec& s, data::SubsetData& loaded,
                                   const data::Splits& splits) {
  nlohmann::json config;
  config["command"] = experiment_kind_name(s.kind);
  config["model"] = s.model;
  config["features"] = s.features;
  config["beat"] = s.beat;
  const bool genre = s.kind == ExperimentKind::genre;
  if (genre)
    config["classes"] = loaded.class_names;
  else
    config["targets"] = s.targets;
  if (!genre && !s.target_weights.empty()) config["target_weights"] = s.target_weights;
  if (!genre) config["loss"] = s.loss;
  config["epochs"] = s.epochs;
  config["batch_size"] = s.batch_size;
  config["lr"] = s.lr;
  config["weight_decay"] = s.weight_decay;
  config["patience"] = s.patience;
  config["clip_grad_norm"] = s.clip_grad_norm;
  config["seed"] = s.seed;
  config["split_seed"] = s.split_seed;
  // Written only when set (`--recipe seed`), so that default-recipe configs stay as they were.
  if (s.split_fractions.val >= 0) config["val_fraction"] = s.split_fractions.val;
  if (s.split_fractions.test >= 0) config["test_fraction"] = s.split_fractions.test;
  if (s.recipe != "default") config["recipe"] = s.recipe;
  config["device"] = s.device;
  config["data"] = describe_data_dir(s.data_dir).to_json();
  const int64_t outputs = genre ? static_cast<int64_t>(loaded.class_names.size())
                                : static_cast<int64_t>(s.targets.size());
  int64_t longest = 0;
  for (const data::Clip& c : loaded.clips) longest = std::max(longest, c.frames);
  nlohmann::json mc;
  if (s.model == "lstm") {
    s.lstm.input_size = loaded.feature_dim;
    s.lstm.outputs = outputs;
    mc = lstm_config_json(s.lstm, s.max_frames);
  } else {
    s.cnn.bands = loaded.feature_dim;
    s.cnn.outputs = outputs;
    if (s.cnn.frames == 0) s.cnn.frames = longest;
    mc = cnn_config_json(s.cnn);
    if (s.kind == ExperimentKind::multitask) {
      mc["type"] = "multitask_cnn";
      mc["targets"] = s.targets;
    }
  }
  if (s.kind == ExperimentKind::transfer)
    config["transfer"] = {{"from", s.transfer_from}, {"freeze_trunk", s.freeze_trunk}};
  if (s.standardise) {
    data::BandStats st = data::standardise_on_train(loaded, splits, interrupt_requested);
    config["standardisation"] = {
        {"mean", st.mean}, {"std", st.std}, {"computed_on", "train split"}};
  }
  config["longest_clip_frames"] = longest;
  // Streamed: shuffle by chunks of ~--stream-chunk-mb of the cache (reads stay near each
  // other); written only when there is more than one chunk, since one chunk is the in-memory
  // order (data::Batcher). Resumed runs keep the order whether they stream or not.
  if (loaded.stream) {
    uint64_t fused_bytes = 0;
    for (const data::Clip& c : loaded.clips)
      fused_bytes += uint64_t(c.frames) * data::kFileRows * 4;
    const double clip_bytes =
        double(fused_bytes) / double(std::max<size_t>(loaded.clips.size(), 1));
    const auto chunk = std::max<int64_t>(1, int64_t(s.stream.chunk_mb * 1e6 / clip_bytes));
    if (chunk < int64_t(loaded.clips.size())) config["stream_chunk_clips"] = chunk;
  }
  config["label"] = s.label;
  config["model_config"] = mc;
  config["melgrad_version"] = kMelgradVersion;
  config["started"] = iso_time_now();
  return config;
}

// Transfer: the genre CNN's config decides the trunk and the frames of the regression CNN.
static void adopt_transfer_source(ExperimentSpec& s) {
  if (s.transfer_from.empty())
    throw std::invalid_argument("transfer: --from GENRE_RUN is required");
  const nlohmann::json src = read_run_config(s.transfer_from);
  if (src.value("command", "") != "genre" || src.value("model", "") != "cnn")
    throw std::invalid_argument("transfer: '" + s.transfer_from +
                                "' is not a genre CNN run (its config.json says " +
                                src.value("command", "?") + " / " + src.value("model", "?") + ")");
  s.cnn = cnn_config_from_json(src.at("model_config"));
  s.features = src.at("features").get<std::string>();
  s.beat = src.at("beat").get<bool>();
}

// Under mpirun, once per experiment on rank 0: the transport and the data-parallel options
// the run uses ("genre: data-parallel over 2 ranks (mpi): gradient buckets of 25 MiB,
// BatchNorm statistics per rank, --dist-timeout 60 s").
static void print_data_parallel_line(const std::string& label, Device device,
                                     const DataParallelOptions& p) {
  std::fprintf(stderr,
               "%s: data-parallel over %d ranks (%s): gradient buckets of %g MiB, BatchNorm "
               "statistics %s, --dist-timeout %g s\n",
               label.c_str(), dist::world().size(), dist::transport_for(device).name().c_str(),
               p.bucket_mb, p.sync_batch_norm ? "over the global batch (--sync-bn)" : "per rank",
               p.timeout_seconds);
}

nlohmann::json run_experiment(ExperimentSpec s) {
  set_deterministic_algorithms(s.deterministic);
  const Device device = check_device(s.device);
  if (s.label.empty()) s.label = experiment_kind_name(s.kind);
  // Data-parallel (mpirun): rank 0 names the folder, locks it and alone writes into it.
  dist::Transport& world = dist::world();
  const bool writer = world.rank() == 0;
  if (writer && s.out.empty()) s.out = default_run_dir(experiment_kind_name(s.kind));  // creates it
  world.broadcast_bytes(s.out, 0);
  RunFolderLock lock;  // held until the run ends
  if (writer) lock = prepare_run_dir(s.out, s.mode);
  const fs::path dir(s.out);
  const bool resume = s.mode == RunDirMode::resume;

  nlohmann::json config;
  RunData run;
  // Ctrl-C while the data set loads stops the load (data::LoadCancelled) before anything of
  // the run is written; from the first batch on, the trainer saves and stops (trainer.h).
  InterruptGuard interrupt_guard;
  try {
    if (resume) {
      std::string text = writer ? read_run_config(s.out).dump() : "";  // validated on rank 0
      world.broadcast_bytes(text, 0);
      config = nlohmann::json::parse(text);
      if (s.epochs_given && s.epochs != config.at("epochs").get<int64_t>()) {
        config["epochs"] = s.epochs;
        if (writer) write_json_file((dir / "config.json").string(), config);
      }
      run = load_run_data(config, s.strict, s.stream.mode);
    } else {
      if (s.kind == ExperimentKind::transfer) adopt_transfer_source(s);
      run.data =
          load_data(s.data_dir, subset_for(s.kind, s.beat), s.features, s.strict, s.stream.mode);
      run.splits = data::make_splits(run.data, s.split_seed, s.split_fractions);
      config = fresh_config(s, run.data, run.splits);
      check_same_run(config, run.data);
      if (writer) write_json_file((dir / "config.json").string(), config);
    }
  } catch (const data::LoadCancelled&) {
    throw Interrupted(s.label + ": interrupted while loading the data set, before any training");
  }
  if (resume) check_same_run(config, run.data);
  const std::string label = config.value("label", config.at("command").get<std::string>());
  print_load_report(label, run.data);
  const Task task = task_for_config(config);
  const nlohmann::json& mc = config.at("model_config");
  std::unique_ptr<models::Network> net = build_network(mc, config.at("seed").get<uint64_t>());

  if (config.contains("transfer")) {
    const std::string from = config["transfer"].at("from").get<std::string>();
    const bool freeze = config["transfer"].at("freeze_trunk").get<bool>();
    auto* cnn = dynamic_cast<models::CnnNet*>(net.get());
    if (!cnn) throw std::runtime_error("transfer: the target network is not a CNN");
    // On resume the weights come from last.h5, but the trunk must be frozen the same way.
    const std::string source = (fs::path(from) / "best.h5").string();
    models::TransferReport rep =
        models::transfer_from_genre_cnn(*cnn, io::load_tensor_file(source).tensors, freeze);
    if (!resume)
      std::fprintf(stderr, "%s: loaded %zu tensors from %s, re-initialised %zu, froze %zu\n",
                   label.c_str(), rep.loaded.size(), source.c_str(), rep.reinitialised.size(),
                   rep.frozen.size());
  }

  net->to(device);  // after the transfer's weights are in; the trainer follows the network
  TrainOptions to;
  to.epochs = config.at("epochs").get<int64_t>();
  to.batch_size = config.at("batch_size").get<int64_t>();
  to.patience = config.at("patience").get<int64_t>();
  to.lr = config.at("lr").get<double>();
  to.weight_decay = config.at("weight_decay").get<double>();
  to.clip_grad_norm = config.value("clip_grad_norm", 0.0);
  to.seed = config.at("seed").get<uint64_t>();
  to.input = input_shape_for(mc);
  to.run_dir = s.out;
  to.resume = resume;
  to.label = label;
  to.progress_bar = s.progress_bar;
  to.cuda_graphs = s.cuda_graphs;
  to.bucket_mb = s.data_parallel.bucket_mb;
  to.dist_timeout = s.data_parallel.timeout_seconds;
  to.sync_bn = s.data_parallel.sync_batch_norm;
  if (world.size() > 1 && writer) print_data_parallel_line(label, device, s.data_parallel);
  to.chunk_clips = config.value("stream_chunk_clips", int64_t(0));
  if (!resume)
    std::fprintf(stderr,
                 "%s: %s; %zu train / %zu val / %zu test clips; %lld parameters; run folder %s\n",
                 label.c_str(), mc.at("summary").get<std::string>().c_str(),
                 run.splits.train.size(), run.splits.val.size(), run.splits.test.size(),
                 (long long)net->parameter_count(), s.out.c_str());
  TrainResult tr = train_network(*net, run.data, run.splits, task, to);

  Inference test =
      run_inference_sharded(*net, run.data, run.splits.test, task, to.input, to.batch_size);
  nlohmann::json metrics = task_metrics(test, task);
  metrics["best_epoch"] = tr.best_epoch;
  metrics["epochs_run"] = tr.epochs_run;
  metrics["train_seconds"] = tr.train_seconds;
  if (writer) {
    write_json_file((dir / "predictions.json").string(), predictions_json(test, task));
    write_json_file((dir / "metrics.json").string(), metrics);
  }
  std::printf("%s: %s; best epoch %lld of %lld, %.0f s; run folder %s\n", label.c_str(),
              metrics_summary(metrics).c_str(), (long long)tr.best_epoch, (long long)tr.epochs_run,
              tr.train_seconds, s.out.c_str());
  std::fflush(stdout);
  return metrics;
}

std::string metrics_summary(const nlohmann::json& m) {
  char buf[256];
  if (m.contains("accuracy")) {
    std::snprintf(buf, sizeof buf, "test accuracy %.3f, macro F1 %.3f (%lld clips)",
                  m["accuracy"].get<double>(), m.value("macro_f1", 0.0),
                  (long long)m.value("test_clips", int64_t(0)));
    return buf;
  }
  std::string s = "test Spearman";
  for (const auto& [name, v] : m.at("spearman").items()) {
    if (v.is_null())
      s += " " + name + " n/a";
    else {
      std::snprintf(buf, sizeof buf, " %s %.3f", name.c_str(), v.get<double>());
      s += buf;
    }
  }
  if (m.contains("test_clips"))
    s += " (" + std::to_string(m["test_clips"].get<int64_t>()) + " clips)";
  return s;
}

}  // namespace melgrad::experiments
