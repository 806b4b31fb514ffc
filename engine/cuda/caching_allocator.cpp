// The caching allocator (see caching_allocator.h).
#include "engine/cuda/caching_allocator.h"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace melgrad::cuda {

namespace {

constexpr std::size_t kSmallStep = 512;
constexpr std::size_t kSmallLimit = std::size_t{1} << 20;

std::string mib(std::size_t bytes) {
  return std::to_string(static_cast<double>(bytes) / double(1 << 20)) + " MiB";
}

}  // namespace

std::size_t CachingAllocator::bucket_size(std::size_t bytes) {
  if (bytes <= kSmallLimit)
    return bytes == 0 ? kSmallStep : (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  const std::size_t quarter = std::bit_floor(bytes) / 4;
  return (bytes + quarter - 1) / quarter * quarter;
}

CachingAllocator::CachingAllocator(DeviceMemory device, bool caching)
    : device_(std::move(device)), caching_(caching) {}

CachingAllocator::~CachingAllocator() {
  // Live blocks belong to tensors that outlive the allocator (only at exit); leave them.
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    release_cached_locked();
  } catch (...) {  // a destructor must not throw (e.g. the device is gone at exit)
  }
}

void* CachingAllocator::device_malloc_locked(std::size_t bucket, std::size_t bytes,
                                             bool may_release) {
  void* p = device_.malloc(bucket);
  if (!p && may_release && (stats_.cached_bytes > 0 || !pending_.empty())) {
    release_all_locked();
    p = device_.malloc(bucket);
  }
  if (!p)
    throw std::runtime_error("cuda:0 is out of memory: allocating " + mib(bytes) + " with " +
                             mib(stats_.in_use_bytes) + " in use by tensors (peak " +
                             mib(stats_.peak_in_use_bytes) + ")" +
                             (may_release ? "" : " while recording a CUDA graph"));
  ++stats_.device_mallocs;
  return p;
}

kernels::Stream CachingAllocator::current_stream() const {
  return device_.current_stream ? device_.current_stream() : nullptr;
}

void* CachingAllocator::allocate(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  process_pending_locked();
  const std::size_t bucket = caching_ ? bucket_size(bytes) : std::max<std::size_t>(bytes, 1);
  const kernels::Stream stream = current_stream();
  ++stats_.allocations;
  void* p = nullptr;
  auto& free_lists = (open_pool_ ? pools_.at(open_pool_).free_blocks : free_blocks_)[stream];
  auto it = free_lists.find(bucket);
  if (it != free_lists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    (open_pool_ ? stats_.pool_free_bytes : stats_.cached_bytes) -= bucket;
    ++stats_.cache_hits;
  } else {
    p = device_malloc_locked(bucket, bytes, /*may_release=*/open_pool_ == 0);
  }
  live_[p] = {bucket, bytes, open_pool_, stream, {}};
  if (open_pool_) ++pools_.at(open_pool_).live_blocks;
  stats_.in_use_bytes += bucket;
  stats_.requested_bytes += bytes;
  if (stats_.in_use_bytes > stats_.peak_in_use_bytes)
    stats_.peak_in_use_bytes = stats_.in_use_bytes;
  return p;
}

void CachingAllocator::record_stream(void* p, kernels::Stream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(p);
  if (it == live_.end())
    throw std::logic_error("CachingAllocator::record_stream: not a live block of this allocator");
  if (!device_.record_event)
    throw std::logic_error("CachingAllocator::record_stream: this device has no events");
  Live& block = it->second;
  if (stream == block.stream ||
      std::find(block.used_on.begin(), block.used_on.end(), stream) != block.used_on.end())
    return;
  block.used_on.push_back(stream);
}

void CachingAllocator::deallocate(void* p, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(p);
  if (it == live_.end() || it->second.requested != bytes)
    throw std::logic_error("CachingAllocator::deallocate: " + std::to_string(bytes) +
                           " bytes at a pointer it did not hand out (or freed twice)");
  const Live block = std::move(it->second);
  live_.erase(it);
  stats_.in_use_bytes -= block.bucket;
  stats_.requested_bytes -= bytes;
  if (block.pool != 0) {
    Pool& pool = pools_.at(block.pool);
    --pool.live_blocks;
    if (pool.released && pool.live_blocks == 0) pools_.erase(block.pool);
  }
  if (block.used_on.empty()) {
    return_block_locked(p, block.bucket, block.stream, block.pool);
    return;
  }
  // Used on other streams: reusable once the work queued there so far has run.
  PendingFree pending{p, block.bucket, block.stream, block.pool, {}};
  try {
    for (kernels::Stream s : block.used_on) pending.events.push_back(device_.record_event(s));
  } catch (...) {  // called from ~Storage; a faulted device: the block is never reused, and
    return;        // the next synchronisation reports the error
  }
  stats_.pending_free_bytes += block.bucket;
  pending_.push_back(std::move(pending));
}

void CachingAllocator::return_block_locked(void* p, std::size_t bucket, kernels::Stream stream,
                                           uint64_t pool_id) {
  if (pool_id != 0) {
    auto pool = pools_.find(pool_id);
    if (pool != pools_.end() && !pool->second.released) {  // reserved: a graph may use it
      pool->second.free_blocks[stream][bucket].push_back(p);
      stats_.pool_free_bytes += bucket;
      return;
    }
  }
  if (caching_) {
    free_blocks_[stream][bucket].push_back(p);
    stats_.cached_bytes += bucket;
  } else {
    ++stats_.device_frees;
    try {
      device_.free(p);
    } catch (...) {  // called from ~Storage: a failed free (a faulted device) is reported by
    }                // the next synchronisation, not by terminating here
  }
}

void CachingAllocator::process_pending_locked() {
  if (open_pool_ != 0) return;  // no event queries while a graph is being captured
  auto done = [this](kernels::Event e) { return device_.event_done(e); };
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!std::all_of(it->events.begin(), it->events.end(), done)) {
      ++it;
      continue;
    }
    for (kernels::Event e : it->events) device_.destroy_event(e);
    stats_.pending_free_bytes -= it->bucket;
    return_block_locked(it->p, it->bucket, it->stream, it->pool);
    it = pending_.erase(it);
  }
}

uint64_t CachingAllocator::open_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_pool_ != 0)
    throw std::logic_error("CachingAllocator::open_pool: pool " + std::to_string(open_pool_) +
                           " is still open (one graph is recorded at a time)");
  if (!caching_)
    throw std::invalid_argument(
        "CUDA graphs need the caching allocator (MELGRAD_CUDA_ALLOCATOR=direct is set)");
  open_pool_ = next_pool_++;
  pools_[open_pool_];
  return open_pool_;
}

void CachingAllocator::close_pool(uint64_t pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_pool_ == pool) open_pool_ = 0;
}

void CachingAllocator::release_pool(uint64_t pool_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_pool_ == pool_id) open_pool_ = 0;
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return;
  Pool& pool = it->second;
  for (auto& [stream, lists] : pool.free_blocks) {
    for (auto& [bucket, blocks] : lists) {
      for (void* p : blocks) {
        free_blocks_[stream][bucket].push_back(p);
        stats_.pool_free_bytes -= bucket;
        stats_.cached_bytes += bucket;
      }
    }
  }
  pool.free_blocks.clear();
  pool.released = true;
  if (pool.live_blocks == 0) pools_.erase(it);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_in_use_bytes = stats_.in_use_bytes;
}

std::size_t CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  return release_all_locked();
}

std::size_t CachingAllocator::release_all_locked() {
  if (open_pool_ == 0)  // (a capture may not wait for events)
    for (const PendingFree& pending : pending_)
      for (kernels::Event e : pending.events) device_.wait_event(e);
  process_pending_locked();
  return release_cached_locked();
}

std::size_t CachingAllocator::release_cached_locked() {
  std::size_t released = 0;
  for (auto& [stream, lists] : free_blocks_) {
    for (auto& [bucket, blocks] : lists) {
      while (!blocks.empty()) {
        device_.free(blocks.back());
        blocks.pop_back();
        released += bucket;
        stats_.cached_bytes -= bucket;
        ++stats_.device_frees;
      }
    }
  }
  free_blocks_.clear();
  return released;
}

}  // namespace melgrad::cuda
