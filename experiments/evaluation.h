// What a network is trained for and how it is scored: the task (genre classification or
// regression on some of valence/energy/danceability), batches as tensors, the loss, and
// inference over a split with the metrics and predictions of the run-folder contract.
//
//   Batch x float32 [N, T, F], lengths int64 [N]; labels int64 [N] (genre);
//   targets float32 [N, k] (the task's k target columns of Batch::targets [N, 3])
//   network outputs [N, classes] (logits) or [N, k] (one prediction per target)
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/batcher.h"
#include "models/network.h"

namespace melgrad::experiments {

enum class TaskKind { classification, regression };

struct Task {
  TaskKind kind = TaskKind::classification;
  std::vector<std::string> classes;       // classification
  std::vector<int> target_columns;        // regression: 0 valence, 1 energy, 2 danceability
  std::vector<std::string> target_names;  // regression, same order
  std::vector<double> target_weights;     // regression loss weights, one per target
  std::string loss = "mse";               // regression: mse | l1 | smooth_l1
  int64_t outputs() const;
};

Task classification_task(const std::vector<std::string>& classes);
// `targets` from valence, energy, danceability; `weights` empty = 1 each.
Task regression_task(const std::vector<std::string>& targets, const std::vector<double>& weights = {},
                     const std::string& loss = "mse");

// How batches are shaped for a network: CNNs need a fixed T (pad and crop to it), LSTMs
// take the batch maximum (crop_to > 0 cuts long clips).
struct InputShape {
  int64_t pad_to = 0;
  int64_t crop_to = 0;
};

struct BatchTensors {
  Tensor x, lengths, labels, targets;
  int64_t size = 0;
};
BatchTensors batch_tensors(const data::Batch& batch, const Task& task);
// The same tensors on `device`: one upload each (x, lengths, labels or targets); a CPU
// device returns `host` itself.
BatchTensors to_device(const BatchTensors& host, Device device);
// Where the network's parameters live (cpu for a network without parameters).
Device network_device(const models::Network& net);

// Mean loss of the batch: cross-entropy (classification) or the weighted sum of one loss
// per target column (regression).
Tensor task_loss(const Tensor& outputs, const BatchTensors& batch, const Task& task);

struct Inference {
  std::vector<std::string> ids;
  std::vector<int64_t> labels;               // classification truth
  std::vector<std::vector<double>> truth;    // regression: [target][clip]
  std::vector<std::vector<double>> outputs;  // [clip][output column]
  double mean_loss = 0;                      // per clip
  int64_t clips() const { return static_cast<int64_t>(ids.size()); }
  std::vector<int64_t> predicted_classes() const;  // argmax per clip
  std::vector<double> column(size_t c) const;      // outputs[:, c]
};

// Eval mode, no gradients, the clips in the given order, in batches of `batch_size`, on the
// network's device: each batch is uploaded once and its outputs copied back once; the loss
// is summed on the device and read once at the end.
Inference run_inference(models::Network& net, const data::SubsetData& data, const std::vector<int64_t>& clips,
                        const Task& task, const InputShape& shape, int64_t batch_size);

// Test metrics of the contract (without the training fields best_epoch, epochs_run,
// train_seconds): genre {accuracy, macro_f1, weighted_f1, classes, per_class, confusion,
// test_clips}; regression {spearman, pvalue, mean_spearman, mse, test_clips}.
nlohmann::json task_metrics(const Inference& inf, const Task& task);
// The per-epoch validation fields of log.jsonl: {"val_accuracy": f} or {"val_spearman": {...}}.
nlohmann::json validation_fields(const Inference& inf, const Task& task);
// predictions.json of the contract.
nlohmann::json predictions_json(const Inference& inf, const Task& task);

// JSON numbers that may be NaN (a constant prediction has no rank correlation): null then.
nlohmann::json number_or_null(double v);

}  // namespace melgrad::experiments
