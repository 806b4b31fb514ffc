// The training loop (see trainer.h).
#include "experiments/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/dist/sync_batch_norm.h"
#include "engine/io/tensor_file.h"
#include "engine/nn/cnn_layers.h"
#include "engine/optim/optim.h"
#include "experiments/distributed.h"
#include "experiments/graph_step.h"
#include "experiments/interrupt.h"
#include "experiments/run_folder.h"
#include "experiments/task_loss.h"
#include "models/transfer.h"

namespace fs = std::filesystem;

namespace melgrad::experiments {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Where the loop stands; saved in last.h5's attributes.
struct LoopState {
  int64_t epochs_done = 0;   // completed epochs
  int64_t batches_done = 0;  // batches of epoch epochs_done + 1 already trained (mid-epoch save)
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t best_epoch = 0;
  int64_t bad_epochs = 0;       // epochs since the best one
  double partial_loss_sum = 0;  // sum of batch loss * batch size in the epoch in progress
  int64_t partial_clips = 0;
  double partial_train_seconds = 0;
  double train_seconds = 0;  // completed epochs, all sessions
};

// A batch loss above this factor times the session's first one (floored, so that a tiny
// first loss does not make ordinary noise an explosion) stops training, as NaN does.
constexpr double kLossExplosionFactor = 1e4;
constexpr double kLossExplosionFloor = 1e-2;

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double attr_number(const std::map<std::string, std::string>& attrs, const std::string& key,
                   const std::string& file) {
  auto it = attrs.find(key);
  if (it == attrs.end())
    throw std::runtime_error("'" + file + "' has no attribute '" + key +
                             "' (not a melgrad last.h5?)");
  return std::stod(it->second);
}

void save_last(const std::string& path, const models::Network& net, optim::Adam& adam,
               const LoopState& s) {
  nn::NamedTensors tensors;
  for (const auto& [name, t] : net.state()) tensors.emplace_back("model." + name, t);
  for (size_t i = 0; i < adam.params().size(); ++i) {
    tensors.emplace_back("adam.exp_avg." + std::to_string(i), adam.exp_avg(i));
    tensors.emplace_back("adam.exp_avg_sq." + std::to_string(i), adam.exp_avg_sq(i));
  }
  io::save_tensor_file(path, tensors,
                       {{"format", "melgrad last.h5 v1"},
                        {"epochs_done", std::to_string(s.epochs_done)},
                        {"batches_done", std::to_string(s.batches_done)},
                        {"adam_steps", std::to_string(adam.steps_taken())},
                        {"best_val_loss", exact(s.best_val_loss)},
                        {"best_epoch", std::to_string(s.best_epoch)},
                        {"bad_epochs", std::to_string(s.bad_epochs)},
                        {"partial_loss_sum", exact(s.partial_loss_sum)},
                        {"partial_clips", std::to_string(s.partial_clips)},
                        {"partial_train_seconds", exact(s.partial_train_seconds)},
                        {"train_seconds", exact(s.train_seconds)}});
}

LoopState load_last(const std::string& path, models::Network& net, optim::Adam& adam) {
  io::TensorFile file = io::load_tensor_file(path);
  std::map<std::string, Tensor> model;
  for (const auto& [name, t] : file.tensors)
    if (name.rfind("model.", 0) == 0) model.emplace(name.substr(6), t);
  net.load_state(model, /*strict=*/true);
  NoGradGuard no_grad;
  for (size_t i = 0; i < adam.params().size(); ++i)
    for (auto [prefix, slot] : {std::pair{"adam.exp_avg.", &adam.exp_avg(i)},
                                {"adam.exp_avg_sq.", &adam.exp_avg_sq(i)}}) {
      auto it = file.tensors.find(prefix + std::to_string(i));
      if (it == file.tensors.end() || it->second.shape() != slot->shape())
        throw std::runtime_error("'" + path + "' does not hold Adam state " + prefix +
                                 std::to_string(i) +
                                 " for this network (was it written by another model?)");
      slot->copy_(it->second);
    }
  const auto& a = file.attributes;
  adam.set_steps_taken(static_cast<int64_t>(attr_number(a, "adam_steps", path)));
  LoopState s;
  s.epochs_done = static_cast<int64_t>(attr_number(a, "epochs_done", path));
  s.batches_done = static_cast<int64_t>(attr_number(a, "batches_done", path));
  s.best_val_loss = attr_number(a, "best_val_loss", path);
  s.best_epoch = static_cast<int64_t>(attr_number(a, "best_epoch", path));
  s.bad_epochs = static_cast<int64_t>(attr_number(a, "bad_epochs", path));
  s.partial_loss_sum = attr_number(a, "partial_loss_sum", path);
  s.partial_clips = static_cast<int64_t>(attr_number(a, "partial_clips", path));
  s.partial_train_seconds = attr_number(a, "partial_train_seconds", path);
  s.train_seconds = attr_number(a, "train_seconds", path);
  return s;
}

// Data-parallel resume: rank 0 read last.h5; the model, Adam's state and the loop position
// go to every rank (which may be more or fewer than the run had before).
void share_training_state(dist::Transport& world, models::Network& net, optim::Adam& adam,
                          LoopState& s) {
  broadcast_state(world, net);
  NoGradGuard no_grad;
  for (size_t i = 0; i < adam.params().size(); ++i)
    for (Tensor* t : {&adam.exp_avg(i), &adam.exp_avg_sq(i)})
      dist::transport_for(t->device()).broadcast(*t, 0);
  int64_t steps = adam.steps_taken();
  std::string bytes(reinterpret_cast<const char*>(&s), sizeof s);
  bytes.append(reinterpret_cast<const char*>(&steps), sizeof steps);
  world.broadcast_bytes(bytes, 0);  // the same build on every rank (checked at start)
  std::memcpy(&s, bytes.data(), sizeof s);
  std::memcpy(&steps, bytes.data() + sizeof s, sizeof steps);
  adam.set_steps_taken(steps);
}

std::string clock_text(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600),
                  (long long)(s / 60 % 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

// The in-place progress line (terminals only) and the per-epoch lines (always).
class ProgressLine {
 public:
  // `ranks` > 1: data-parallel (clips/s is then the ranks' sum); only rank 0 prints.
  ProgressLine(std::string label, bool bar, int ranks, bool printer)
      : label_(std::move(label)),
        tty_(bar && isatty(STDERR_FILENO)),
        printer_(printer),
        ranks_(ranks > 1 ? " " + std::to_string(ranks) + " ranks" : "") {}
  void batch(int64_t epoch, int64_t epochs, int64_t b, int64_t batches, double loss,
             double clips_per_s, double eta) {
    if (!printer_ || !tty_ || seconds_since(last_) < 0.2) return;
    last_ = Clock::now();
    const int width = 20;
    const int filled = static_cast<int>(width * b / std::max<int64_t>(batches, 1));
    std::fprintf(
        stderr, "\r\033[K%s epoch %lld/%lld [%s%s] %lld/%lld loss %.4f %.1f clips/s%s ETA %s",
        label_.c_str(), (long long)epoch, (long long)epochs, std::string(filled, '#').c_str(),
        std::string(width - filled, '.').c_str(), (long long)b, (long long)batches, loss,
        clips_per_s, ranks_.c_str(), clock_text(eta).c_str());
    std::fflush(stderr);
  }
  const std::string& ranks() const { return ranks_; }
  void line(const std::string& text) {
    if (!printer_) return;
    std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", text.c_str());
    std::fflush(stderr);
  }

 private:
  std::string label_;
  bool tty_, printer_;
  std::string ranks_;  // " 2 ranks" or ""
  Clock::time_point last_ = Clock::now() - std::chrono::seconds(1);
};

std::string validation_text(const nlohmann::json& fields) {
  char buf[64];
  if (fields.contains("val_accuracy")) {
    std::snprintf(buf, sizeof buf, "val acc %.3f", fields["val_accuracy"].get<double>());
    return buf;
  }
  std::string s = "val rho";
  for (const auto& [name, v] : fields["val_spearman"].items()) {
    if (v.is_null())
      s += " " + name.substr(0, 1) + " n/a";
    else {
      std::snprintf(buf, sizeof buf, " %s %.3f", name.substr(0, 1).c_str(), v.get<double>());
      s += buf;
    }
  }
  return s;
}

}  // namespace

TrainResult train_network(models::Network& net, const data::SubsetData& data,
                          const data::Splits& splits, const Task& task, const TrainOptions& o) {
  if (o.epochs <= 0 || o.batch_size <= 0 || o.patience < 0)
    throw std::invalid_argument(
        "training: epochs and batch size must be positive and patience >= 0");
  if (splits.train.empty() || splits.val.empty())
    throw std::runtime_error("training: the train split has " +
                             std::to_string(splits.train.size()) +
                             " clips and the validation split " +
                             std::to_string(splits.val.size()) + "; both need at least one");
  const fs::path dir(o.run_dir);
  const std::string log_path = (dir / "log.jsonl").string(), best_path = (dir / "best.h5").string(),
                    last_path = (dir / "last.h5").string();

  std::vector<Tensor> params = models::trainable_parameters(net);
  // Forward, loss and backward on the network's device, as a replayed CUDA graph where it
  // can be (graph_step.h); batches are uploaded once per step.
  dist::Transport& world = dist::world();
  const bool parallel = world.size() > 1, writer = world.rank() == 0;
  // SyncBatchNorm's collectives wait on the host, which a recorded step cannot do.
  const bool sync_bn = parallel && o.sync_bn;
  GraphedStep graphed_step(net, task, params, o.cuda_graphs && !sync_bn);
  std::string graph_note;
  optim::Adam adam(params, {.lr = o.lr, .weight_decay = o.weight_decay});
  // Data-parallel under mpirun (distributed.h); rank 0 alone writes files and prints.
  std::unique_ptr<GradientBuckets> buckets;
  if (parallel) {
    world.set_timeout(o.dist_timeout);
    dist::Transport& transport = dist::transport_for(network_device(net));
    transport.set_timeout(o.dist_timeout);
    buckets = std::make_unique<GradientBuckets>(transport, params,
                                                static_cast<int64_t>(o.bucket_mb * (1 << 20)));
  }
  data::Batcher batcher(data, splits.train,
                        {.batch_size = o.batch_size,
                         .shuffle = true,
                         .seed = o.seed,
                         .pad_to = o.input.pad_to,
                         .crop_to = o.input.crop_to,
                         .shard_rank = world.rank(),
                         .shard_count = world.size(),
                         .chunk_clips = o.chunk_clips});
  const int64_t batches = batcher.batches_per_epoch();
  const int64_t last_batch = int64_t(splits.train.size()) - (batches - 1) * o.batch_size;
  if (sync_bn && std::min(o.batch_size, last_batch) < world.size())
    throw std::invalid_argument(
        "--sync-bn: every rank needs clips in every batch, but a batch of " +
        std::to_string(std::min(o.batch_size, last_batch)) + " clips meets " +
        std::to_string(world.size()) + " ranks; change --batch-size");
  ProgressLine progress(o.label, o.progress_bar, world.size(), writer);

  LoopState s;
  if (o.resume && writer) {
    s = load_last(last_path, net, adam);
    truncate_log(log_path, s.epochs_done);
  }
  if (parallel) share_training_state(world, net, adam, s);  // also a fresh run: rank 0's weights
  if (o.resume) {
    progress.line(o.label + ": resuming after epoch " + std::to_string(s.epochs_done) +
                  (s.batches_done ? ", batch " + std::to_string(s.batches_done) : std::string()) +
                  " from " + last_path);
  }
  InterruptGuard interrupt_guard;
  auto stop_on_interrupt = [&](int64_t epoch, int64_t batch) {
    if (writer) save_last(last_path, net, adam, s);
    throw Interrupted(o.label + ": interrupted at epoch " + std::to_string(epoch) + ", batch " +
                      std::to_string(batch) + " of " + std::to_string(batches) +
                      "; the run's state is saved in " + last_path +
                      " (continue it with the same command and --resume)");
  };

  bool stopped_early = o.patience > 0 && s.bad_epochs >= o.patience;
  double first_loss = -1;  // this session's first batch loss: the scale of an explosion
  double epoch_seconds_avg = 0;
  int64_t epochs_timed = 0;
  for (int64_t epoch = s.epochs_done + 1; epoch <= o.epochs && !stopped_early; ++epoch) {
    const Clock::time_point epoch_start = Clock::now();
    net.train();
    batcher.start_epoch(epoch);
    data::Batch batch;
    batcher.skip(s.batches_done);  // already trained before the interruption
    const double resumed_train_seconds = s.partial_train_seconds;
    for (int64_t b = s.batches_done + 1; batcher.next(batch); ++b) {
      const uint64_t step_seed =
          models::derive_seed(models::derive_seed(o.seed, uint64_t(epoch)), uint64_t(b));
      double value = 0;  // the batch's mean loss
      int64_t clips = batch.size();
      bool interrupted = false;
      if (!parallel) {
        const BatchTensors t = batch_tensors(batch, task);
        value =
            graphed_step.run(t, step_seed).item();  // the step's one read-back (logging, NaN stop)
        interrupted = interrupt_requested();
      } else {
        // This rank's shard; gradients summed over ranks weighted by shard size. Dropout
        // masks differ per rank (rank 0 draws the single process's seed).
        clips = batcher.last_global_size();
        buckets->begin_step(double(batch.size()) / double(clips));
        double loss_sum = 0;
        if (batch.size() > 0) {
          LeafGradReadyGuard start_buckets_during_backward = buckets->guard();
          const double rank_weight = double(batch.size()) / double(clips);
          nn::BatchNormTrainingGuard global_batch_statistics(
              sync_bn ? nn::BatchNormTrainingForward([&](nn::BatchNorm2d& bn, const Tensor& x) {
                return dist::sync_batch_norm(
                    x, bn.weight, bn.bias, bn.running_mean.defined() ? &bn.running_mean : nullptr,
                    bn.running_var.defined() ? &bn.running_var : nullptr, bn.momentum, bn.eps,
                    dist::transport_for(x.device()), rank_weight);
              })
                      : nn::BatchNormTrainingForward());
          const uint64_t seed =
              world.rank() ? models::derive_seed(step_seed, 0xd15700 + world.rank()) : step_seed;
          loss_sum =
              graphed_step.run(batch_tensors(batch, task), seed).item() * double(batch.size());
        } else {
          for (Tensor& p : params) p.zero_grad();  // a rank without clips adds zeros
        }
        buckets->finish();
        const Tensor all = world.all_gather(Tensor::from_vector(
            std::vector<double>{loss_sum, interrupt_requested() ? 1.0 : 0.0}, {2}));
        const std::vector<double> v = all.to_vector();
        double sum = 0;
        for (int r = 0; r < world.size(); ++r) {
          sum += v[size_t(2 * r)];
          interrupted = interrupted || v[size_t(2 * r + 1)] != 0;
        }
        value = sum / double(clips);
      }
      if (!std::isfinite(value))
        throw std::runtime_error(o.label + ": training stopped: the loss became " +
                                 std::to_string(value) + " at epoch " + std::to_string(epoch) +
                                 ", batch " + std::to_string(b) + " of " + std::to_string(batches) +
                                 " (learning rate " + exact(o.lr) +
                                 "); lower --lr or check the input data");
      if (first_loss < 0) first_loss = value;
      if (value > kLossExplosionFactor * std::max(first_loss, kLossExplosionFloor))
        throw std::runtime_error(
            o.label + ": training stopped: the loss exploded to " + exact(value) + " at epoch " +
            std::to_string(epoch) + ", batch " + std::to_string(b) + ", over " +
            exact(kLossExplosionFactor) + " times its first value " + exact(first_loss) +
            " (learning rate " + exact(o.lr) + "); lower --lr or check the input data");
      if (o.clip_grad_norm > 0) optim::clip_grad_norm_on_device(params, o.clip_grad_norm);
      adam.step();
      if (graphed_step.note() != graph_note)
        progress.line(o.label + ": " + (graph_note = graphed_step.note()));
      s.partial_loss_sum += value * double(clips);
      s.partial_clips += clips;
      s.batches_done = b;
      s.partial_train_seconds = resumed_train_seconds + seconds_since(epoch_start);
      const double clips_per_s = s.partial_clips / std::max(s.partial_train_seconds, 1e-9);
      const double per_epoch =
          epochs_timed ? epoch_seconds_avg : s.partial_train_seconds / b * batches * 1.15;
      const double eta =
          per_epoch * (o.epochs - epoch) + std::max(0.0, per_epoch - s.partial_train_seconds);
      progress.batch(epoch, o.epochs, b, batches, s.partial_loss_sum / s.partial_clips, clips_per_s,
                     eta);
      if (interrupted) stop_on_interrupt(epoch, b);
    }

    if (parallel) broadcast_state(world, net);  // per-rank BatchNorm statistics: rank 0's
    Inference val = run_inference_sharded(net, data, splits.val, task, o.input, o.batch_size);
    if (!std::isfinite(val.mean_loss))
      throw std::runtime_error(o.label + ": training stopped: the validation loss became " +
                               std::to_string(val.mean_loss) + " after epoch " +
                               std::to_string(epoch) + "; lower --lr or check the input data");
    const double train_loss = s.partial_loss_sum / std::max<int64_t>(s.partial_clips, 1);
    const double clips_per_s = s.partial_clips / std::max(s.partial_train_seconds, 1e-9);
    const double seconds =
        resumed_train_seconds + seconds_since(epoch_start);  // train + validation
    const bool best = val.mean_loss < s.best_val_loss;
    if (best) {
      s.best_val_loss = val.mean_loss;
      s.best_epoch = epoch;
      s.bad_epochs = 0;
      if (writer)
        io::save_module(best_path, net,
                        {{"epoch", std::to_string(epoch)}, {"val_loss", exact(val.mean_loss)}});
    } else {
      ++s.bad_epochs;
    }
    nlohmann::json fields = validation_fields(val, task);
    nlohmann::json line = {
        {"epoch", epoch},  {"train_loss", train_loss}, {"val_loss", val.mean_loss},
        {"lr", adam.lr()}, {"seconds", seconds},       {"clips_per_s", clips_per_s},
        {"best", best}};
    line.update(fields);
    if (writer) append_json_line(log_path, line);
    s.epochs_done = epoch;
    s.batches_done = 0;
    s.partial_loss_sum = 0;
    s.partial_clips = 0;
    s.partial_train_seconds = 0;
    s.train_seconds += seconds;
    if (writer) save_last(last_path, net, adam, s);
    epoch_seconds_avg = (epoch_seconds_avg * epochs_timed + seconds) / (epochs_timed + 1);
    ++epochs_timed;

    char text[320];
    std::snprintf(text, sizeof text,
                  "%s epoch %lld/%lld train loss %.4f val loss %.4f %s %.1f clips/s%s %.1f s%s",
                  o.label.c_str(), (long long)epoch, (long long)o.epochs, train_loss, val.mean_loss,
                  validation_text(fields).c_str(), clips_per_s, progress.ranks().c_str(), seconds,
                  best ? " *" : "");
    progress.line(text);
    stopped_early = o.patience > 0 && s.bad_epochs >= o.patience;
    if (stopped_early)
      progress.line(o.label + ": early stop, no better validation loss for " +
                    std::to_string(o.patience) + " epochs; best epoch " +
                    std::to_string(s.best_epoch));
    bool interrupted = interrupt_requested();
    if (parallel) {
      const Tensor flags = world.all_gather(Tensor::full({1}, interrupted ? 1.0 : 0.0, DType::f64));
      for (double flag : flags.to_vector()) interrupted = interrupted || flag != 0;
    }
    if (interrupted) stop_on_interrupt(epoch, batches);
  }
  if (writer) {
    if (!fs::exists(best_path)) throw std::runtime_error("training: no checkpoint at " + best_path);
    io::load_module(best_path, net, /*strict=*/true);
  }
  if (parallel) broadcast_state(world, net);
  TrainResult r;
  r.best_epoch = s.best_epoch;
  r.epochs_run = s.epochs_done;
  r.best_val_loss = s.best_val_loss;
  r.train_seconds = s.train_seconds;
  r.stopped_early = stopped_early;
  return r;
}

}  // namespace melgrad::experiments
