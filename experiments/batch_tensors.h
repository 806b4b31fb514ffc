// A batch of clips (datasets/batcher.h) as the tensors a network and its task's loss take,
// and the shape batches are cut to for a network.
//
//   x float32 [N, T, F], lengths int64 [N]; labels int64 [N] (classification);
//   targets float32 [N, k] (the task's k target columns of Batch::targets [N, 3])
#pragma once

#include <cstdint>

#include "datasets/batcher.h"
#include "experiments/task.h"
#include "models/network.h"

namespace melgrad::experiments {

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
// Host tensors of `batch`: labels for a classification task (a clip without a genre label is
// an error naming it), the task's target columns for a regression task (a missing value is
// an error naming the clip and the target).
BatchTensors batch_tensors(const data::Batch& batch, const Task& task);
// The same tensors on `device`: one upload each (x, lengths, labels or targets); a CPU
// device returns `host` itself.
BatchTensors to_device(const BatchTensors& host, Device device);
// Where the network's parameters live (cpu for a network without parameters).
Device network_device(const models::Network& net);

}  // namespace melgrad::experiments
