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
// is the same whatever happened before it; shuffle = false keeps the given order. With
// chunk_clips > 0 the shuffle is by chunk, then within it: the clips fall into chunks of
// chunk_clips consecutive clip indices (neighbours in the HDF5 cache), the chunks are
// shuffled, and the clips of each chunk in turn by the one generator the whole-list shuffle
// uses, so one chunk holding every clip gives the whole-list order exactly.
//
// Streamed data (SubsetData::stream, clip_stream.h): a prefetch thread builds the next
// `prefetch` batches while the caller trains on this one, reading only this rank's shard;
// an error there (a damaged cache) is thrown by next(), and start_epoch, skip and the
// destructor stop the thread (it never outlives the batcher, also on Ctrl-C's exception).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
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
  int64_t pad_to = 0;   // pad every batch to at least this many frames (0: batch maximum)
  int64_t crop_to = 0;  // cut clips longer than this many frames (0: never)
  // Data-parallel training: each batch of batch_size clips (the global batch) is cut into
  // shard_count contiguous parts (shard_of) and next() returns part shard_rank (possibly
  // empty: size() 0). The global order is the single process's.
  int shard_rank = 0, shard_count = 1;
  int64_t chunk_clips = 0;  // shuffle by chunks of this many clips, then within (0: whole list)
  int prefetch = 2;         // streamed data: batches built ahead on a thread (0: none)
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
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  void start_epoch(int64_t epoch);  // sets the order of the epoch and rewinds
  bool next(Batch& out);            // false at the end of the epoch
  void skip(int64_t batches);       // passes over batches without reading them (resume)
  int64_t last_global_size() const { return last_global_size_; }  // clips of the last global batch
  int64_t batches_per_epoch() const;
  int64_t clip_count() const { return static_cast<int64_t>(indices_.size()); }
  const std::vector<int64_t>& epoch_order() const { return order_; }

 private:
  int64_t take_at(int64_t cursor) const;  // clips of the global batch at cursor (0: none)
  std::vector<int64_t> shard_at(int64_t cursor, int64_t take) const;
  void stop_prefetch();
  void prefetch_from(int64_t cursor);  // the thread's loop

  const SubsetData* data_;
  std::vector<int64_t> indices_, order_;
  BatcherOptions options_;
  int64_t cursor_ = 0;
  int64_t last_global_size_ = 0;
  // Prefetch (streamed data): the thread fills `ready_` up to options_.prefetch batches.
  struct Ready {
    Batch batch;
    std::exception_ptr error;
  };
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Ready> ready_;
  bool stop_ = false, running_ = false;
};

// Builds one batch from the given clip indices (used by Batcher; handy for evaluation);
// streamed data reads the clips (thread-safe).
Batch make_batch(const SubsetData& data, const std::vector<int64_t>& clip_indices,
                 int64_t pad_to = 0, int64_t crop_to = 0);

}  // namespace melgrad::data
