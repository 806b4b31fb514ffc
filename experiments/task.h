// What a network is trained for: genre classification over the sub-set's classes, or
// regression on some of valence / energy / danceability (columns 0, 1, 2 of
// Batch::targets [N, 3]) with one loss function and one loss weight per target.
//
//   network outputs [N, classes] (logits) or [N, k] (one prediction per target)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
Task regression_task(const std::vector<std::string>& targets,
                     const std::vector<double>& weights = {}, const std::string& loss = "mse");

// The name of a column of Batch::targets: "valence", "energy" or "danceability".
const std::string& target_column_name(int column);

}  // namespace melgrad::experiments
