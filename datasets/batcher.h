// Mini-batches of clips as plain buffers (no engine dependency).
//
//   Batch::x        float32 [N, T, F], time-major per clip, zero-padded after each clip's
//                   true length; T = the longest clip of the batch (or pad_to / crop_to)
//   Batch::lengths  [N] true lengths (after cropping), for packed LSTMs / masking
//   Batch::labels   [N] genre class indices (genre sets; -1 elsewhere)
//   Batch::targets  float32 [N, 3] valence, energy, danceability (multitask; NaN = unlabelled)
//   Batch::ids, indices: clip ids and indices into SubsetData::clips
// CNN code views x as [N, 1, T, F].
//
// Order: the clip list is shuffled per epoch with Rng(mix_seed(seed, epoch)), so epoch e
// is the same whatever happened before it; shuffle = false keeps the given order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/patreco3.h"

namespace melgrad::data {

struct Batch {
  std::vector<float> x;
  std::vector<int64_t> shape;  // {N, T, F}
  std::vector<int64_t> lengths;
  std::vector<int64_t> labels;
  std::vector<float> targets;  // N * 3
  std::vector<std::string> ids;
  std::vector<int64_t> indices;
  int64_t size() const { return shape.empty() ? 0 : shape[0]; }
};

struct BatcherOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;  // drop a last, smaller batch
  uint64_t seed = 42;
  int64_t pad_to = 0;      // pad every batch to at least this many frames (0: batch maximum)
  int64_t crop_to = 0;     // cut clips longer than this many frames (0: never)
  // Data-parallel training: each batch of batch_size clips (the global batch) is cut into
  // shard_count contiguous parts (shard_of) and next() returns part shard_rank (possibly
  // empty: size() 0). The global order is the single process's.
  int shard_rank = 0, shard_count = 1;
};

// The contiguous part [begin, end) of n items that part `rank` of `count` takes; the first
// n % count parts take one more, so the parts in order give back the n items.
struct ShardRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
ShardRange shard_of(int64_t n, int rank, int count);

class Batcher {
 public:
  // `data` must outlive the batcher; `indices` selects the clips (e.g. Splits::train).
  Batcher(const SubsetData& data, std::vector<int64_t> indices, BatcherOptions options = {});

  void start_epoch(int64_t epoch);  // sets the order of the epoch and rewinds
  bool next(Batch& out);            // false at the end of the epoch
  int64_t last_global_size() const { return last_global_size_; }  // clips of the last global batch
  int64_t batches_per_epoch() const;
  int64_t clip_count() const { return static_cast<int64_t>(indices_.size()); }
  const std::vector<int64_t>& epoch_order() const { return order_; }

 private:
  const SubsetData* data_;
  std::vector<int64_t> indices_, order_;
  BatcherOptions options_;
  int64_t cursor_ = 0;
  int64_t last_global_size_ = 0;
};

// Builds one batch from the given clip indices (used by Batcher; handy for evaluation).
Batch make_batch(const SubsetData& data, const std::vector<int64_t>& clip_indices,
                 int64_t pad_to = 0, int64_t crop_to = 0);

}  // namespace melgrad::data
