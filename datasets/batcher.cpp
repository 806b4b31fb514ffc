// Zero-padded [N, T, F] batches and the seeded per-epoch order (see batcher.h).
#include "datasets/batcher.h"

#include <algorithm>
#include <stdexcept>

#include "datasets/rng.h"

namespace melgrad::data {

Batch make_batch(const SubsetData& data, const std::vector<int64_t>& clip_indices, int64_t pad_to,
                 int64_t crop_to) {
  const int64_t N = static_cast<int64_t>(clip_indices.size()), F = data.feature_dim;
  Batch b;
  int64_t T = pad_to;
  for (int64_t i : clip_indices) {
    const Clip& c = data.clips.at(static_cast<size_t>(i));
    const int64_t len = crop_to > 0 ? std::min(c.frames, crop_to) : c.frames;
    b.lengths.push_back(len);
    T = std::max(T, len);
  }
  b.shape = {N, T, F};
  b.x.assign(static_cast<size_t>(N * T * F), 0.0f);
  b.targets.resize(static_cast<size_t>(N * 3));
  for (int64_t n = 0; n < N; ++n) {
    const Clip& c = data.clips[static_cast<size_t>(clip_indices[static_cast<size_t>(n)])];
    const int64_t len = b.lengths[static_cast<size_t>(n)];
    std::copy_n(c.values.begin(), len * F, b.x.begin() + n * T * F);
    b.labels.push_back(c.label);
    std::copy(c.targets.begin(), c.targets.end(), b.targets.begin() + n * 3);
    b.ids.push_back(c.id);
    b.indices.push_back(clip_indices[static_cast<size_t>(n)]);
  }
  return b;
}

ShardRange shard_of(int64_t n, int rank, int count) {
  if (count < 1 || rank < 0 || rank >= count)
    throw std::invalid_argument("shard_of: part " + std::to_string(rank) + " of " +
                                std::to_string(count));
  const int64_t base = n / count, extra = n % count;
  ShardRange s;
  s.begin = rank * base + std::min<int64_t>(rank, extra);
  s.end = s.begin + base + (rank < extra ? 1 : 0);
  return s;
}

Batcher::Batcher(const SubsetData& data, std::vector<int64_t> indices, BatcherOptions options)
    : data_(&data), indices_(std::move(indices)), options_(options) {
  shard_of(0, options_.shard_rank, options_.shard_count);  // checks the shard's numbers
  if (options_.batch_size < 1)
    throw std::invalid_argument("Batcher: batch_size must be >= 1, got " + std::to_string(options_.batch_size));
  for (int64_t i : indices_)
    if (i < 0 || i >= static_cast<int64_t>(data.clips.size()))
      throw std::out_of_range("Batcher: clip index " + std::to_string(i) + " outside [0, " +
                              std::to_string(data.clips.size()) + ")");
  start_epoch(0);
}

void Batcher::start_epoch(int64_t epoch) {
  order_ = indices_;
  if (options_.shuffle) {
    Rng rng(mix_seed(options_.seed, static_cast<uint64_t>(epoch) + 1));
    rng.shuffle(order_);
  }
  cursor_ = 0;
}

int64_t Batcher::batches_per_epoch() const {
  const int64_t n = static_cast<int64_t>(indices_.size()), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

bool Batcher::next(Batch& out) {
  const int64_t n = static_cast<int64_t>(order_.size());
  const int64_t left = n - cursor_;
  if (left <= 0 || (options_.drop_last && left < options_.batch_size)) return false;
  const int64_t take = std::min(left, options_.batch_size);
  const ShardRange part = shard_of(take, options_.shard_rank, options_.shard_count);
  std::vector<int64_t> chosen(order_.begin() + cursor_ + part.begin,
                              order_.begin() + cursor_ + part.end);
  cursor_ += take;
  last_global_size_ = take;
  out = make_batch(*data_, chosen, options_.pad_to, options_.crop_to);
  return true;
}

}  // namespace melgrad::data
