// How a trained network is scored: inference over a split (eval mode, no gradients) and,
// from its outputs, the metrics, the per-epoch validation fields and the predictions of the
// run-folder contract (docs/EXPERIMENTS.md). The task is task.h; batches become tensors in
// batch_tensors.h; the loss is task_loss.h.
//
//   Inference::outputs [clip][output column]: logits (classification) or one prediction
//   per target (regression)
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "datasets/batcher.h"
#include "experiments/batch_tensors.h"
#include "experiments/task.h"
#include "models/network.h"

namespace melgrad::experiments {

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
Inference run_inference(models::Network& net, const data::SubsetData& data,
                        const std::vector<int64_t>& clips, const Task& task,
                        const InputShape& shape, int64_t batch_size);

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
