// The forward + loss + backward part of a training step, recorded once as a CUDA graph and
// replayed while the batch shape repeats (Backend::capture_step; --cuda-graphs on|off):
//
//   batch x [N, T, F], lengths [N], labels [N] or targets [N, k] (host tensors)
//   run() -> the loss [] on the network's device; the parameters' .grad hold the gradients
//
// On a device that can record (the GPU build), the first batch of a shape runs eagerly
// (warm-up: cuDNN's algorithm search, cuBLAS handles, the allocator's blocks), the second
// of the same shape is recorded and run, and later ones are copied into the graph's input
// buffers and replayed: one launch instead of hundreds, and no allocation. The optimiser
// step stays outside (Adam's bias corrections change every step) and uses the graph's
// gradient tensors. A batch of another shape (an epoch's last, smaller batch; a BiLSTM
// batch of another length) runs eagerly. Dropout masks, BatchNorm statistics and results
// are those of the eager step: the graph reads fresh dropout seeds drawn from the same
// generators. The emulator build records too (its recordings stand in for stream capture,
// kernels/emu/emu.h), so CI runs the same path. On the CPU, with graphs off, under
// MELGRAD_CUDA_ALLOCATOR=direct (graphs need the caching allocator), or where a recording
// failed (note() gives the reason), every step is eager.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "experiments/batch_tensors.h"
#include "experiments/task.h"

namespace melgrad::experiments {

class GraphedStep {
 public:
  // `params`: the trainable parameters (their gradients are zeroed and written).
  GraphedStep(models::Network& net, const Task& task, std::vector<Tensor> params, bool graphs);

  // Reseeds the network's dropout with `dropout_seed`, then forward, loss and backward on
  // the network's device for the batch `host` (CPU tensors). Returns the loss tensor.
  Tensor run(const BatchTensors& host, uint64_t dropout_seed);

  // One line for the log when graphs were asked for on a device: recorded (for which
  // shape), or why not. Empty on the CPU or with graphs off. Changes at most twice.
  const std::string& note() const { return note_; }
  bool replaying() const { return graph_ != nullptr; }

 private:
  Tensor eager(const BatchTensors& on_device, uint64_t dropout_seed);
  void copy_into_inputs(const BatchTensors& host);

  models::Network& net_;
  Task task_;
  std::vector<Tensor> params_;
  Device device_;
  bool graphs_;             // asked for and possible so far
  Shape shape_;             // the x shape of the last batch
  int64_t same_shape_ = 0;  // consecutive batches of that shape
  std::unique_ptr<StepGraph> graph_;
  BatchTensors inputs_;        // the graph's input buffers on the device
  Tensor loss_;                // the graph's loss
  std::vector<Tensor> grads_;  // the graph's gradients, one per parameter
  std::string note_;
};

}  // namespace melgrad::experiments
