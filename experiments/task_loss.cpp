// The task's training loss (see task_loss.h).
#include "experiments/task_loss.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "engine/ops/loss.h"
#include "engine/ops/ops.h"

namespace melgrad::experiments {

static Tensor regression_loss(const Tensor& pred, const Tensor& target, const std::string& loss) {
  if (loss == "l1") return l1_loss(pred, target);
  if (loss == "smooth_l1") return smooth_l1_loss(pred, target);
  return mse_loss(pred, target);
}

Tensor task_loss(const Tensor& outputs, const BatchTensors& b, const Task& task) {
  if (outputs.dim() != 2 || outputs.size(0) != b.size || outputs.size(1) != task.outputs())
    throw std::invalid_argument("task loss: network output " + outputs.str() + " does not match [" +
                                std::to_string(b.size) + ", " + std::to_string(task.outputs()) +
                                "]");
  if (task.kind == TaskKind::classification) return cross_entropy(outputs, b.labels);
  if (task.target_columns.size() == 1) return regression_loss(outputs, b.targets, task.loss);
  std::vector<Tensor> losses;
  for (int64_t k = 0; k < task.outputs(); ++k)
    losses.push_back(
        regression_loss(outputs.narrow(1, k, 1), b.targets.narrow(1, k, 1), task.loss));
  return weighted_sum(losses, task.target_weights);
}

}  // namespace melgrad::experiments
