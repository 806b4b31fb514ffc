// Progress bar on stderr (see progress.h).
#include "datasets/progress.h"

#include <unistd.h>

#include <cstdio>

namespace melgrad::data {

ProgressBar::ProgressBar(std::string label, int64_t total, Progress mode)
    : label_(std::move(label)), total_(total), mode_(mode), tty_(::isatty(2) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::advance(int64_t items, uint64_t bytes) {
  done_ += items;
  bytes_ += bytes;
  if (mode_ == Progress::never) return;
  std::unique_lock<std::mutex> lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const bool in_place = tty_ || mode_ == Progress::always;
  if (in_place ? since_draw >= 0.1 : (elapsed >= 5.0 && since_draw >= 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> lock(draw_mutex_);
  if (finished_) return;
  finished_ = true;
  if (drew_) draw(true);
}

void ProgressBar::draw(bool final_line) {
  const int64_t done = done_.load();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  const double mbps = elapsed > 0 ? static_cast<double>(bytes_.load()) / 1e6 / elapsed : 0.0;
  const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  const bool in_place = tty_ || mode_ == Progress::always;
  char line[256];
  if (in_place) {
    const int width = 30, filled = static_cast<int>(frac * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar += std::string(static_cast<size_t>(width - filled), '.');
    std::snprintf(line, sizeof line, "\r%s [%s] %lld/%lld %3.0f%% %6.1f MB/s %s%.0fs ",
                  label_.c_str(), bar.c_str(), static_cast<long long>(done),
                  static_cast<long long>(total_), 100.0 * frac, mbps, final_line ? "in " : "ETA ",
                  final_line ? elapsed : eta);
  } else {
    std::snprintf(line, sizeof line, "%s: %lld/%lld (%.0f%%), %.1f MB/s, %.0fs %s\n",
                  label_.c_str(), static_cast<long long>(done), static_cast<long long>(total_),
                  100.0 * frac, mbps, final_line ? elapsed : eta, final_line ? "elapsed" : "left");
  }
  std::fputs(line, stderr);
  if (final_line && in_place) std::fputc('\n', stderr);
  std::fflush(stderr);
  drew_ = true;
}

}  // namespace melgrad::data
