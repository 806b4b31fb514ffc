// The CPU allocator: 64-byte aligned blocks from the C heap, with a cache of freed large
// blocks.
//
// Why: a training step allocates and frees the same large activations and gradients every
// step (cnn-full: ~100 MB per tensor). The C library hands blocks over 32 MB (and, after
// trimming, smaller ones) back to the kernel on free, so every step paid ~25 000 page
// faults and the zeroing of every fresh page: 10-20 % of a CNN step. Blocks of at least
// kMinCachedBytes are therefore kept on free and handed out again for a request of the
// same size class; small blocks go straight to the C heap, which recycles them well.
//
// Sizes are rounded up to classes 1/8 of a power of two apart (<= 12.5 % slack). The
// cache holds at most `limit_bytes` (MELGRAD_CPU_CACHE_MB, default 4096); beyond that the
// oldest cached blocks are released. Thread-safe (one mutex). Memory is not zeroed, as
// with malloc.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <mutex>

#include "engine/storage.h"

namespace melgrad::cpu {

class CachingCpuAllocator final : public Allocator {
 public:
  static constexpr size_t kMinCachedBytes = size_t{1} << 20;

  explicit CachingCpuAllocator(size_t limit_bytes);
  ~CachingCpuAllocator() override;
  void* allocate(size_t bytes) override;
  void deallocate(void* p, size_t bytes) override;

  size_t cached_bytes() const;
  void release_cached();                   // frees every cached block
  static size_t size_class(size_t bytes);  // the rounded size a request is served with

 private:
  void release_oldest_locked();
  size_t limit_;
  mutable std::mutex mutex_;
  size_t cached_ = 0;
  std::list<std::pair<size_t, void*>> order_;  // cached blocks, oldest first
  std::multimap<size_t, std::list<std::pair<size_t, void*>>::iterator> by_size_;
};

// The process's CPU allocator (the default of allocator_for(cpu)).
CachingCpuAllocator& default_cpu_allocator();

}  // namespace melgrad::cpu
