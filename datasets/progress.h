// A thread-safe progress bar for long loads and generation, drawn on stderr.
// Progress::automatic draws in place when stderr is a terminal; otherwise it stays quiet
// unless the work runs longer than 5 s, and then prints one plain line every 5 s.
// Progress::never prints nothing (tests); Progress::always draws even when not a terminal.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "datasets/patreco3.h"

namespace melgrad::data {

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, Progress mode);
  ~ProgressBar();  // finishes the line if anything was drawn
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Called by any thread when `items` more are done and `bytes` more were read.
  void advance(int64_t items, uint64_t bytes = 0);
  void finish();

 private:
  void draw(bool final_line);
  std::string label_;
  int64_t total_;
  Progress mode_;
  bool tty_;
  std::atomic<int64_t> done_{0};
  std::atomic<uint64_t> bytes_{0};
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drew_ = false, finished_ = false;
};

}  // namespace melgrad::data
