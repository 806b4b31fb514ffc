// The caching CPU allocator (see cpu_allocator.h).
#include "engine/cpu/cpu_allocator.h"

#include <bit>
#include <cstdlib>
#include <new>
#include <string>

namespace melgrad::cpu {

namespace {

void* aligned_block(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

size_t limit_from_environment() {
#if defined(__SANITIZE_ADDRESS__)
  return 0;  // under AddressSanitizer every block goes back to the heap, so it sees misuse
#endif
  size_t mb = 4096;
  if (const char* v = std::getenv("MELGRAD_CPU_CACHE_MB"); v && *v) {
    try {
      mb = static_cast<size_t>(std::stoull(v));
    } catch (const std::exception&) {
      // Ignored: a malformed value keeps the default rather than failing every allocation.
    }
  }
  return mb << 20;
}

}  // namespace

CachingCpuAllocator::CachingCpuAllocator(size_t limit_bytes) : limit_(limit_bytes) {}

CachingCpuAllocator::~CachingCpuAllocator() { release_cached(); }

size_t CachingCpuAllocator::size_class(size_t bytes) {
  if (bytes < kMinCachedBytes) return (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0);
  // Classes 1/8 of a power of two apart: 1 MiB, 1.125 MiB, ..., 2 MiB, 2.25 MiB, ...
  const size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

void* CachingCpuAllocator::allocate(size_t bytes) {
  const size_t size = size_class(bytes);
  if (size < kMinCachedBytes) return aligned_block(size);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_size_.find(size);
    if (it != by_size_.end()) {
      void* p = it->second->second;
      order_.erase(it->second);
      by_size_.erase(it);
      cached_ -= size;
      return p;
    }
  }
  try {
    return aligned_block(size);
  } catch (const std::bad_alloc&) {
    release_cached();  // memory held in the cache may be what the heap is missing
    return aligned_block(size);
  }
}

void CachingCpuAllocator::deallocate(void* p, size_t bytes) {
  if (!p) return;
  const size_t size = size_class(bytes);
  if (size < kMinCachedBytes || size > limit_) {
    std::free(p);
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  order_.emplace_back(size, p);
  by_size_.emplace(size, std::prev(order_.end()));
  cached_ += size;
  while (cached_ > limit_) release_oldest_locked();
}

void CachingCpuAllocator::release_oldest_locked() {
  const auto [size, p] = order_.front();
  for (auto it = by_size_.lower_bound(size); it != by_size_.end() && it->first == size; ++it)
    if (it->second == order_.begin()) {
      by_size_.erase(it);
      break;
    }
  order_.pop_front();
  cached_ -= size;
  std::free(p);
}

size_t CachingCpuAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

void CachingCpuAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  while (!order_.empty()) release_oldest_locked();
}

CachingCpuAllocator& default_cpu_allocator() {
  // Never destroyed: tensors owned by other static objects may be freed after main returns.
  static CachingCpuAllocator* allocator = new CachingCpuAllocator(limit_from_environment());
  return *allocator;
}

}  // namespace melgrad::cpu
