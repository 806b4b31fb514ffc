// Splitting an elementwise loop over the OpenMP threads: parallel_range(n, f) calls
// f(begin, end) on disjoint chunks covering [0, n), one per thread, when n is large enough
// to pay for the fork and join (kParallelElements); otherwise f(0, n) on the calling thread.
// Chunks start at multiples of 64 elements, so each chunk keeps the base pointer's
// alignment and vectorised code computes every element exactly as one pass over [0, n)
// would: the result does not depend on the thread count.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace melgrad::cpu {

inline constexpr int64_t kParallelElements = int64_t{1} << 16;

template <class F>
void parallel_range(int64_t n, F&& f) {
  const int threads = omp_get_max_threads();
  if (threads < 2 || n < kParallelElements || omp_in_parallel()) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), k = omp_get_num_threads();
    const int64_t per = ((n + k - 1) / k + 63) / 64 * 64;
    const int64_t begin = std::min(n, t * per), end = std::min(n, begin + per);
    if (begin < end) f(begin, end);
  }
}

}  // namespace melgrad::cpu
