// The cuDNN wrappers' bookkeeping (kernels/cudnn_layers_impl.cuh), plain C++ apart from the
// cuDNN calls so that the emulator build's tests exercise it with fakes
// (tests/kernels/test_cudnn_bookkeeping.cpp):
//   choose_cudnn_algorithm  which of cuDNN's candidate algorithms a convolution runs, under
//                           the determinism setting;
//   CudnnAlgorithmCache     that choice per shape, stored only once the search succeeded;
//   GraphSafeBuffer         grow-only device scratch (cuDNN's workspace, the masked dy) that
//                           never frees memory a captured CUDA graph may still point at.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace melgrad::kernels::detail {

// One entry of a cudnnGet*_v7 / cudnnFind* result list, in the list's order.
struct CudnnAlgoCandidate {
  int algo = 0;
  bool ok = false;             // status == CUDNN_STATUS_SUCCESS
  bool deterministic = false;  // determinism == CUDNN_DETERMINISTIC
};

// deterministic: the first working candidate whose results are bit-reproducible (cuDNN's
// atomics-based algorithms are not); the caller passes cuDNN's heuristic ranking
// (cudnnGet*_v7), which depends on the shape and the device only, never on a timing, so
// the same seed gives the same numbers in every run. Otherwise the first working one (the
// caller passes cudnnFind*'s list: the fastest it measured). Throws std::runtime_error
// naming `what` when none qualifies.
inline int choose_cudnn_algorithm(const std::vector<CudnnAlgoCandidate>& candidates,
                                  bool deterministic, const std::string& what) {
  for (const CudnnAlgoCandidate& c : candidates)
    if (c.ok && (c.deterministic || !deterministic)) return c.algo;
  int working = 0;
  for (const CudnnAlgoCandidate& c : candidates) working += c.ok ? 1 : 0;
  if (deterministic && working > 0) {
    throw std::runtime_error(what + ": cuDNN offers no deterministic algorithm for this shape (" +
                             std::to_string(working) +
                             " nondeterministic ones work); --deterministic off allows them");
  }
  throw std::runtime_error(what + ": cuDNN found no working algorithm (" +
                           std::to_string(candidates.size()) + " candidates)");
}

// The algorithm chosen per key (pass, shape, determinism). An entry is made only when the
// search returns: a search that throws (cuDNN out of memory, a failed launch) leaves nothing
// behind, and the next call for that key searches again.
template <class Key>
class CudnnAlgorithmCache {
 public:
  template <class Search>
  int find_or_search(const Key& key, Search&& search) {
    const auto it = algos_.find(key);
    if (it != algos_.end()) return it->second;
    const int algo = std::forward<Search>(search)();
    algos_.emplace(key, algo);
    return algo;
  }
  bool contains(const Key& key) const { return algos_.count(key) != 0; }
  std::size_t size() const { return algos_.size(); }

 private:
  std::map<Key, int> algos_;
};

// Device memory that grows on demand, shared by the calls of one host thread. A captured
// CUDA graph keeps the address it was given and uses it at every replay, so a buffer handed
// out while the caller's stream was being captured is never freed: when the buffer must
// grow, it is retired and kept until this object is destroyed (the thread's end), which
// outlives the graphs that thread recorded. Sizes are powers of two, so what is retired
// stays below what is in use. A buffer no capture has seen is freed when it is replaced (by
// eager calls only: cudaFree waits for the device's work; while capturing nothing is freed).
class GraphSafeBuffer {
 public:
  using Allocate = std::function<void*(std::size_t)>;
  using Free = std::function<void(void*)>;

  GraphSafeBuffer(Allocate allocate, Free free)
      : allocate_(std::move(allocate)), free_(std::move(free)) {}
  GraphSafeBuffer(const GraphSafeBuffer&) = delete;
  GraphSafeBuffer& operator=(const GraphSafeBuffer&) = delete;
  ~GraphSafeBuffer() {
    try {
      for (void* p : retired_) free_(p);
      if (data_ != nullptr) free_(data_);
    } catch (...) {  // at thread exit the device may be gone; nothing left to report to
    }
  }

  // At least `bytes` (null for 0 when nothing was allocated yet); `capturing`: the stream
  // the caller enqueues on is being captured into a graph, which will hold this address.
  void* get(std::size_t bytes, bool capturing) {
    if (bytes > bytes_) {
      std::size_t grown = 256;
      while (grown < bytes) grown *= 2;
      void* fresh = allocate_(grown);  // first: a failure leaves the old buffer in place
      if (data_ != nullptr) {
        if (captured_ || capturing) {
          retired_.push_back(data_);
          retired_bytes_ += bytes_;
        } else {
          free_(data_);
        }
      }
      data_ = fresh;
      bytes_ = grown;
      captured_ = false;
    }
    captured_ = captured_ || capturing;
    return data_;
  }

  std::size_t bytes() const { return bytes_; }
  std::size_t retired_count() const { return retired_.size(); }
  std::size_t retired_bytes() const { return retired_bytes_; }

 private:
  Allocate allocate_;
  Free free_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  bool captured_ = false;  // handed out while capturing: a graph may point at it
  std::vector<void*> retired_;
  std::size_t retired_bytes_ = 0;
};

}  // namespace melgrad::kernels::detail
