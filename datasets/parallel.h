// A plain parallel loop over [0, n) on std::threads for loading and generation.
// Work items are taken in index order from an atomic counter; when items fail, the
// exception of the lowest failing index is rethrown after all threads joined, so the
// error a user sees does not depend on thread timing.
#pragma once

#include <cstdint>
#include <functional>

namespace melgrad::data {

// threads <= 0: std::thread::hardware_concurrency(). fn(i) must only touch item i's data.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);

int resolve_threads(int threads);

}  // namespace melgrad::data
