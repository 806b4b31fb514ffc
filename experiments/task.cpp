// Classification and regression tasks (see task.h).
#include "experiments/task.h"

#include <algorithm>
#include <stdexcept>

namespace melgrad::experiments {

static const std::vector<std::string> kTargetNames = {"valence", "energy", "danceability"};

const std::string& target_column_name(int column) { return kTargetNames.at(column); }

int64_t Task::outputs() const {
  return kind == TaskKind::classification ? static_cast<int64_t>(classes.size())
                                          : static_cast<int64_t>(target_columns.size());
}

Task classification_task(const std::vector<std::string>& classes) {
  if (classes.size() < 2)
    throw std::invalid_argument("classification task: needs at least two classes");
  Task t;
  t.kind = TaskKind::classification;
  t.classes = classes;
  return t;
}

Task regression_task(const std::vector<std::string>& targets, const std::vector<double>& weights,
                     const std::string& loss) {
  if (targets.empty()) throw std::invalid_argument("regression task: needs at least one target");
  if (!weights.empty() && weights.size() != targets.size())
    throw std::invalid_argument("regression task: " + std::to_string(weights.size()) +
                                " loss weights for " + std::to_string(targets.size()) + " targets");
  if (loss != "mse" && loss != "l1" && loss != "smooth_l1")
    throw std::invalid_argument("regression task: unknown loss '" + loss +
                                "' (mse, l1 or smooth_l1)");
  Task t;
  t.kind = TaskKind::regression;
  t.loss = loss;
  for (const std::string& name : targets) {
    auto it = std::find(kTargetNames.begin(), kTargetNames.end(), name);
    if (it == kTargetNames.end())
      throw std::invalid_argument("unknown target '" + name +
                                  "' (valence, energy or danceability)");
    t.target_columns.push_back(static_cast<int>(it - kTargetNames.begin()));
    t.target_names.push_back(name);
  }
  t.target_weights = weights.empty() ? std::vector<double>(targets.size(), 1.0) : weights;
  return t;
}

}  // namespace melgrad::experiments
