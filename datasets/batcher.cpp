// Zero-padded [N, T, F] batches and the seeded per-epoch order (see batcher.h).
#include "datasets/batcher.h"

#include <algorithm>
#include <stdexcept>

#include "datasets/clip_stream.h"
#include "datasets/rng.h"

namespace melgrad::data {

Batch make_batch(const SubsetData& data, const std::vector<int64_t>& clip_indices, int64_t pad_to,
                 int64_t crop_to) {
  const int64_t N = static_cast<int64_t>(clip_indices.size()), F = data.feature_dim;
  const std::vector<std::vector<float>> streamed =
      data.stream ? data.stream->read(clip_indices) : std::vector<std::vector<float>>{};
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
    const std::vector<float>& values = data.stream ? streamed[static_cast<size_t>(n)] : c.values;
    std::copy_n(values.begin(), len * F, b.x.begin() + n * T * F);
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
    throw std::invalid_argument("Batcher: batch_size must be >= 1, got " +
                                std::to_string(options_.batch_size));
  for (int64_t i : indices_)
    if (i < 0 || i >= static_cast<int64_t>(data.clips.size()))
      throw std::out_of_range("Batcher: clip index " + std::to_string(i) + " outside [0, " +
                              std::to_string(data.clips.size()) + ")");
  start_epoch(0);
}

Batcher::~Batcher() { stop_prefetch(); }

void Batcher::start_epoch(int64_t epoch) {
  stop_prefetch();
  order_.clear();
  const uint64_t seed = mix_seed(options_.seed, static_cast<uint64_t>(epoch) + 1);
  if (!options_.shuffle) {
    order_ = indices_;
  } else if (options_.chunk_clips <= 0) {
    order_ = indices_;
    Rng(seed).shuffle(order_);
  } else {
    // Chunks in clip-index order, each the given clips of chunk_clips consecutive indices.
    std::vector<std::vector<int64_t>> chunks;
    int64_t current = -1;
    for (int64_t i : indices_) {
      if (chunks.empty() || i / options_.chunk_clips != current) {
        chunks.emplace_back();
        current = i / options_.chunk_clips;
      }
      chunks.back().push_back(i);
    }
    Rng(mix_seed(seed, fnv1a64("chunks"))).shuffle(chunks);
    Rng within(seed);
    for (std::vector<int64_t>& chunk : chunks) {
      within.shuffle(chunk);
      order_.insert(order_.end(), chunk.begin(), chunk.end());
    }
  }
  cursor_ = 0;
}

int64_t Batcher::batches_per_epoch() const {
  const int64_t n = static_cast<int64_t>(indices_.size()), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

int64_t Batcher::take_at(int64_t cursor) const {
  const int64_t left = static_cast<int64_t>(order_.size()) - cursor;
  if (left <= 0 || (options_.drop_last && left < options_.batch_size)) return 0;
  return std::min(left, options_.batch_size);
}

std::vector<int64_t> Batcher::shard_at(int64_t cursor, int64_t take) const {
  const ShardRange part = shard_of(take, options_.shard_rank, options_.shard_count);
  return std::vector<int64_t>(order_.begin() + cursor + part.begin,
                              order_.begin() + cursor + part.end);
}

void Batcher::skip(int64_t batches) {
  stop_prefetch();
  for (int64_t b = 0; b < batches; ++b) {
    const int64_t take = take_at(cursor_);
    if (take == 0) break;
    cursor_ += take;
    last_global_size_ = take;
  }
}

bool Batcher::next(Batch& out) {
  const int64_t take = take_at(cursor_);
  if (take == 0) return false;
  if (!data_->stream || options_.prefetch <= 0) {
    out = make_batch(*data_, shard_at(cursor_, take), options_.pad_to, options_.crop_to);
  } else {
    if (!running_) {
      stop_ = false;
      running_ = true;
      thread_ = std::thread([this, from = cursor_] { prefetch_from(from); });
    }
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty(); });
    Ready ready = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    lock.unlock();
    if (ready.error) {
      stop_prefetch();
      std::rethrow_exception(ready.error);
    }
    out = std::move(ready.batch);
  }
  cursor_ += take;
  last_global_size_ = take;
  return true;
}

void Batcher::prefetch_from(int64_t cursor) {
  for (int64_t take; (take = take_at(cursor)) > 0; cursor += take) {
    Ready ready;
    try {
      ready.batch = make_batch(*data_, shard_at(cursor, take), options_.pad_to, options_.crop_to);
    } catch (...) {
      ready.error = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return stop_ || int64_t(ready_.size()) < options_.prefetch; });
    if (stop_) return;
    const bool failed = ready.error != nullptr;
    ready_.push_back(std::move(ready));
    changed_.notify_all();
    if (failed) return;
  }
}

void Batcher::stop_prefetch() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
  running_ = false;
  ready_.clear();
}

}  // namespace melgrad::data
