// The training loop shared by every experiment: Adam, epochs of seeded mini-batches,
// validation after each epoch, early stopping on the validation loss with the best
// checkpoint restored at the end, a progress line on stderr, log.jsonl, atomic HDF5
// checkpoints (best.h5: the module; last.h5: module + Adam state + loop position), exact
// resume (also from the middle of an epoch), Ctrl-C handling and a clear stop on a
// non-finite loss.
//
// Determinism: the batch order of epoch e depends only on (seed, e) and the dropout masks
// of batch b of epoch e only on (seed, e, b), so a resumed run computes exactly what an
// uninterrupted run computes; on the CPU with a fixed thread count the whole run is
// bit-for-bit reproducible.
//
// Under mpirun with N ranks (engine/dist): each rank trains on its shard of every global
// batch of batch_size clips (the single process's order), gradients are summed over ranks
// in buckets weighted by shard size (so the step is the single process's step up to float
// rounding), every rank steps the same Adam; validation is sharded and gathered; rank 0
// alone writes log.jsonl and the checkpoints, and a resumed run may use another N.
#pragma once

#include <string>

#include "datasets/splits.h"
#include "experiments/batch_tensors.h"
#include "experiments/task.h"
#include "models/network.h"

namespace melgrad::experiments {

struct TrainOptions {
  int64_t epochs = 30;
  int64_t batch_size = 32;
  int64_t patience = 12;  // stop after this many epochs without a better val loss (0: never)
  double lr = 1e-4;
  double weight_decay = 1e-5;  // Adam's L2 term (PyTorch semantics)
  double clip_grad_norm = 0;   // 0: no clipping
  uint64_t seed = 42;
  InputShape input;
  std::string run_dir;       // receives log.jsonl, best.h5, last.h5
  bool resume = false;       // continue from run_dir/last.h5
  std::string label;         // names the run in progress lines
  bool progress_bar = true;  // draw in place when stderr is a terminal (epoch lines always)
  bool cuda_graphs = true;   // off a CPU: replay the step as a CUDA graph (graph_step.h)
  // Data-parallel training (under mpirun, distributed.h): gradient bucket size and the
  // deadline of every collective (a rank that died or hangs stops the others).
  double bucket_mb = 25;
  double dist_timeout = 60;
  bool sync_bn = false;     // BatchNorm statistics over the global batch (default: per rank)
  int64_t chunk_clips = 0;  // shuffle by chunks of this many clips, then within (batcher.h)
};

struct TrainResult {
  int64_t best_epoch = 0;
  int64_t epochs_run = 0;
  double best_val_loss = 0;
  double train_seconds = 0;  // over all sessions of a resumed run
  bool stopped_early = false;
};

// Trains `net` on splits.train, validating on splits.val; the best checkpoint is loaded
// into `net` on return. Throws Interrupted (interrupt.h) after saving last.h5 when Ctrl-C
// was pressed, and std::runtime_error naming the epoch and batch when the loss is NaN/Inf
// or explodes (over 1e4 times this session's first batch loss, floored at 1e-2).
TrainResult train_network(models::Network& net, const data::SubsetData& data,
                          const data::Splits& splits, const Task& task,
                          const TrainOptions& options);

}  // namespace melgrad::experiments
