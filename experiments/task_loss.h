// The loss a network is trained on for its task:
//   classification  cross-entropy of the logits [N, classes] against labels [N]
//   regression      per target column k of outputs [N, k] against targets [N, k], the task's
//                   loss (mse, l1 or smooth_l1), then their weighted sum (one target: that
//                   loss alone)
// Both are means over the batch.
#pragma once

#include "experiments/batch_tensors.h"
#include "experiments/task.h"

namespace melgrad::experiments {

// Mean loss of the batch; outputs must be [batch.size, task.outputs()].
Tensor task_loss(const Tensor& outputs, const BatchTensors& batch, const Task& task);

}  // namespace melgrad::experiments
