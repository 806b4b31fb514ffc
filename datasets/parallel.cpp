// parallel_for on std::thread with deterministic error reporting (see parallel.h).
#include "datasets/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace melgrad::data {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  if (n <= 0) return;
  const int workers = static_cast<int>(std::min<int64_t>(resolve_threads(threads), n));
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> first_failed{n};  // items after a failure are not started
  std::mutex error_mutex;
  int64_t error_index = n;
  std::exception_ptr error;
  auto work = [&] {
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= n || i > first_failed.load()) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (i < error_index) {
          error_index = i;
          error = std::current_exception();
          first_failed = i;
        }
      }
    }
  };
  if (workers == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w) pool.emplace_back(work);
    for (std::thread& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace melgrad::data
