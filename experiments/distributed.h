// Data-parallel training over the world of engine/dist (one rank per process, started by
// mpirun): what the trainer and the experiment drivers add to a single-process run.
//
//   data::shard_of           the contiguous part of a global batch or a split a rank
//                            takes (datasets/batcher.h): the parts in rank order give back
//                            the single process's order
//   GradientBuckets          sums the ranks' gradients, weighted by each rank's share of the
//                            global batch, in buckets of ~bucket_mb started while the
//                            backward still runs (CPU) or right after it (CUDA, NCCL)
//   broadcast_state          rank 0's parameters and buffers everywhere
//   run_inference_sharded    each rank evaluates its part of a split; all get the whole
//   check_same_run           refuses ranks started with another configuration, data set
//                            or build, naming the difference
//
// With one rank (no mpirun) none of this runs: the trainer takes its single-process path.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/autograd.h"
#include "engine/dist/transport.h"
#include "experiments/evaluation.h"

namespace melgrad::experiments {

// The gradients of `params` summed over ranks in buckets (params in reverse order, the
// order a backward finishes them; a bucket closes at bucket_bytes). Per step:
//   begin_step(w)   w = this rank's clips / the global batch's clips (rank gradients are
//                   means over their shard; the weighted sum is the global batch's mean)
//   the backward    under guard(): each bucket whose gradients are all complete is packed,
//                   scaled by w and its all-reduce started, in bucket order
//   finish()        starts the buckets not started yet, waits for all and writes the sums
//                   back into the parameters' .grad (identical on every rank)
// A rank with no clips in a step calls begin_step(0) and finish() without a backward.
class GradientBuckets {
 public:
  GradientBuckets(dist::Transport& transport, std::vector<Tensor> params, int64_t bucket_bytes);
  void begin_step(double weight);
  LeafGradReadyGuard guard();  // the hook that starts buckets during the backward (CPU)
  void finish();
  size_t bucket_count() const { return buckets_.size(); }
  size_t buckets_started() const { return next_to_start_; }  // this step, so far

  // When the last step's buckets started and were seen complete, and when finish() was
  // called (the backward's end), in ms since begin_step (measurement: bench/dist). A bucket is seen
  // complete by a test during the backward (at the next gradient that completes) or by finish()'s
  // wait: done_ms below backward_end_ms means its all-reduce ran while the backward computed.
  struct BucketTiming {
    double started_ms = -1, done_ms = -1;  // -1: not (yet)
  };
  const std::vector<BucketTiming>& timings() const { return timings_; }
  double backward_end_ms() const { return backward_end_ms_; }

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    std::vector<int64_t> offsets;
    Tensor flat;    // float32 [total] on the parameters' device
    Tensor direct;  // a bucket of one contiguous CPU gradient: reduced in place, no copies
    size_t ready = 0;
    std::unique_ptr<dist::Pending> pending;
  };
  void on_ready(TensorImpl& leaf);
  void start(Bucket& b);

  dist::Transport& transport_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> bucket_of_;
  size_t next_to_start_ = 0;
  double weight_ = 1;
  std::chrono::steady_clock::time_point step_start_;
  std::vector<BucketTiming> timings_;
  double backward_end_ms_ = 0;
  double ms_since_step_start() const;
};

// Rank 0's parameters and buffers (BatchNorm statistics) on every rank.
void broadcast_state(dist::Transport& transport, nn::Module& module);

// run_inference over `clips` with each rank taking a contiguous range of its batches (the
// single process's batches, so batch statistics are too); the ranks' results are gathered
// in rank order, so every rank returns what one process would (outputs equal, the mean
// loss up to float rounding of its sum). One rank: run_inference itself.
Inference run_inference_sharded(models::Network& net, const data::SubsetData& data,
                                const std::vector<int64_t>& clips, const Task& task,
                                const InputShape& shape, int64_t batch_size);

// Every rank's fingerprint (config.json without its start time; the data set's clip ids,
// lengths, labels and a checksum of a strided sample of its values; a hash of this
// program's executable) against rank 0's: throws naming the first field that differs and
// the ranks. One rank: nothing to compare.
void check_same_run(const nlohmann::json& config, const data::SubsetData& data);

// Runs `f` on rank 0 first and on the other ranks after it finished (e.g. generating the
// default data set once); waits up to an hour for rank 0.
template <class F>
void rank0_first(F&& f);
void wait_for_rank0(bool before);

template <class F>
void rank0_first(F&& f) {
  wait_for_rank0(/*before=*/true);
  f();
  wait_for_rank0(/*before=*/false);
}

}  // namespace melgrad::experiments
