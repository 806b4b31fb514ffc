// The CUDA backend's caching allocator: device memory is expensive to get (cudaMalloc
// synchronises and takes tens of microseconds), and a training step frees and re-requests
// the same sizes every iteration, so freed blocks are kept in per-size free lists and handed
// out again without touching the device.
//
// Buckets: a request is rounded up to a multiple of 512 bytes up to 1 MiB, and above that to
// a quarter of its power of two (1, 1.25, 1.5, 1.75 x 2^k: at most 25% slack); a free block
// serves only requests of its own bucket. When the device is out of memory the cache is
// emptied and the request retried once. All work runs on the device's one stream, in order,
// so a block freed by the host may be reused at once: the kernels that used it run before
// any kernel of its next owner.
//
// Private pools (CUDA graph capture, engine/cuda/step_graph.cpp): between open_pool() and
// close_pool() every allocation is served from that pool (its own free lists, else the
// device) and belongs to it; a pool's block freed at any time returns to the pool, never to
// the shared cache, so a recorded graph may keep writing to it on every replay.
// release_pool() gives the pool's free blocks to the shared cache, and its live ones as
// they are freed. While a pool is open, running out of memory throws at once (emptying the
// cache would call cudaFree, which a capture forbids).
//
// With `caching` off every allocation goes to the device at its exact size and every free
// returns it (MELGRAD_CUDA_ALLOCATOR=direct): slower, but in the emulator a kernel that
// overruns a tensor then hits the block's guard page instead of a bucket's slack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/storage.h"

namespace melgrad::cuda {

struct AllocatorStats {
  std::size_t in_use_bytes = 0;       // bytes of live blocks (bucket sizes)
  std::size_t peak_in_use_bytes = 0;  // highest in_use_bytes since the last reset_peak()
  std::size_t requested_bytes = 0;    // bytes the live allocations asked for
  std::size_t cached_bytes = 0;       // free blocks held for reuse
  uint64_t allocations = 0;           // allocate() calls
  uint64_t cache_hits = 0;            // served from the free lists
  uint64_t device_mallocs = 0;        // calls into the device (misses)
  uint64_t device_frees = 0;
  std::size_t pool_free_bytes = 0;  // free blocks reserved by private pools (not cached_bytes)
};

class CachingAllocator final : public Allocator {
 public:
  struct DeviceMemory {
    std::function<void*(std::size_t)> malloc;  // nullptr when out of memory
    std::function<void(void*)> free;
  };

  explicit CachingAllocator(DeviceMemory device, bool caching = true);
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(std::size_t bytes) override;
  void deallocate(void* p, std::size_t bytes) override;

  AllocatorStats stats() const;
  void reset_peak();
  // Returns every cached block to the device; returns the bytes released.
  std::size_t empty_cache();
  bool caching() const { return caching_; }

  static std::size_t bucket_size(std::size_t bytes);

  // Private pools (see above); ids are never 0. One pool is open at a time.
  uint64_t open_pool();
  void close_pool(uint64_t pool);
  void release_pool(uint64_t pool);

 private:
  std::size_t release_cached_locked();
  void* device_malloc_locked(std::size_t bucket, std::size_t bytes, bool may_release);

  struct Pool {
    std::map<std::size_t, std::vector<void*>> free_blocks;
    std::size_t live_blocks = 0;
    bool released = false;
  };
  std::map<uint64_t, Pool> pools_;
  uint64_t open_pool_ = 0;  // 0: allocations come from the shared cache
  uint64_t next_pool_ = 1;

  DeviceMemory device_;
  bool caching_;
  mutable std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_blocks_;  // bucket size -> free blocks
  struct Live {
    std::size_t bucket, requested;
    uint64_t pool = 0;  // the private pool it belongs to, or 0
  };
  std::unordered_map<void*, Live> live_;
  AllocatorStats stats_;
};

}  // namespace melgrad::cuda
