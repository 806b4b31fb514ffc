// `melgrad overfit-batch`: the study's sanity mode. Trains a fresh CNN or BiLSTM on one
// batch of genre clips, over and over, until the loss falls below --target-loss (exit 0)
// or --steps run out (exit 1). A network and loop that cannot memorise 32 clips have a bug.
// Label rows whose clip file is missing are skipped with a line on stderr (--strict: an error).
#include <algorithm>
#include <cstdio>

#include "datasets/batcher.h"
#include "datasets/default_data.h"
#include "engine/optim/optim.h"
#include "experiments/batch_tensors.h"
#include "experiments/experiment.h"
#include "experiments/experiment_cli.h"
#include "experiments/task_loss.h"
#include "models/cnn.h"
#include "models/lstm.h"

namespace melgrad {
namespace {

using namespace experiments;

int run_overfit(const cli::Args& a) {
  const std::string model = model_option(a);
  apply_threads(a.integer("threads"));
  const Device device = check_device(a.str("device"));
  const int64_t steps = a.integer("steps"), batch_size = a.integer("batch-size");
  const double lr = a.number("lr"), target = a.number("target-loss");
  if (steps <= 0 || batch_size <= 0 || !(lr > 0) || !(target > 0))
    throw cli::UsageError("--steps, --batch-size, --lr and --target-loss must be positive");
  const uint64_t seed = static_cast<uint64_t>(a.integer("seed"));

  data::LoadOptions lo;
  lo.features = data::parse_features(a.str("features"));
  lo.strict = a.flag("strict");
  data::SubsetData d =
      data::load_subset(data::resolve_data_dir(a.str("data")),
                        a.flag("beat") ? data::Subset::genre_beat : data::Subset::genre, lo);
  print_skipped_rows("overfit-batch", d);
  data::Splits splits = data::make_splits(d);
  data::standardise_on_train(d, splits);
  data::Batcher batcher(d, splits.train, {.batch_size = batch_size, .shuffle = true, .seed = seed});
  batcher.start_epoch(1);
  data::Batch batch;
  batcher.next(batch);
  const Task task = classification_task(d.class_names);
  BatchTensors t = batch_tensors(batch, task);

  std::unique_ptr<models::Network> net;
  if (model == "cnn") {
    models::CnnConfig c;  // the beat/regression CNN: 1-4-16-64-256, pool 2, BatchNorm
    c.frames = std::max<int64_t>(batch.shape[1], a.integer("frames"));
    if (c.frames > batch.shape[1]) {  // pad the batch to the requested frames
      batch = data::make_batch(d, batch.indices, c.frames, c.frames);
      t = batch_tensors(batch, task);
    }
    c.bands = d.feature_dim;
    c.outputs = task.outputs();
    c.dropout = a.number("dropout");
    net = std::make_unique<models::CnnNet>(c, seed);
  } else {
    models::LstmConfig c;
    c.input_size = d.feature_dim;
    c.outputs = task.outputs();
    c.dropout = a.number("dropout");
    net = std::make_unique<models::LstmNet>(c, seed);
  }
  std::printf(
      "overfit-batch: %s on one batch of %lld clips (T %lld), Adam lr %g, until loss < %g\n",
      net->describe().c_str(), (long long)t.size, (long long)batch.shape[1], lr, target);
  net->to(device);
  t = to_device(t, device);
  optim::Adam adam(net->parameters(), {.lr = lr});
  net->train();
  for (int64_t step = 1; step <= steps; ++step) {
    net->reseed_dropout(models::derive_seed(seed, uint64_t(step)));
    Tensor loss = task_loss(net->forward(t.x, t.lengths), t, task);
    const double value = loss.item();
    if (!std::isfinite(value))
      throw std::runtime_error("overfit-batch: the loss became " + std::to_string(value) +
                               " at step " + std::to_string(step) + "; lower --lr");
    if (step == 1 || step % 10 == 0 || value < target)
      std::printf("  step %4lld  loss %.5f\n", (long long)step, value);
    if (value < target) {
      std::printf(
          "overfit-batch: loss %.5f < %g after %lld steps: the network and the loop can learn\n",
          value, target, (long long)step);
      return 0;
    }
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  std::fprintf(
      stderr,
      "overfit-batch: the loss did not fall below %g in %lld steps (raise --steps or --lr)\n",
      target, (long long)steps);
  return 1;
}

const cli::CommandRegistrar reg({
    .name = "overfit-batch",
    .summary = "sanity check: drive the loss on one batch of genre clips to ~0",
    .options = {{"model", "cnn | lstm", "cnn"},
                {"data", "DATA_DIR (default: the embedded synthetic data set)", ""},
                {"beat", "use the beat-synchronised sub-set", "", true},
                {"features", "mel | chroma | fused", "mel"},
                strict_option(),
                {"batch-size", "clips in the batch", "32"},
                {"steps", "maximum Adam steps", "300"},
                {"lr", "Adam learning rate", "0.001"},
                {"dropout", "dropout (0: memorising needs none)", "0"},
                {"frames", "CNN: pad the batch to at least this many frames", "0"},
                {"target-loss", "success threshold", "0.01"},
                {"seed", "seed of the batch choice and initialisation", "42"},
                {"device", "cpu | cuda", "cpu"},
                {"threads", "CPU threads (0: all cores)", "0"}},
    .positional_help = "",
    .run = run_overfit,
});

}  // namespace
}  // namespace melgrad
