// Ctrl-C handling for long runs. While an InterruptGuard lives, the first SIGINT (or
// SIGTERM, treated the same) only sets a flag that the training loop polls between batches
// (it then saves last.h5 and stops cleanly); the handler is one-shot (SA_RESETHAND), so a
// second signal kills the program at once as usual.
#pragma once

#include <stdexcept>

namespace melgrad::experiments {

class InterruptGuard {
 public:
  InterruptGuard();   // installs the handler (nests: only the outermost guard installs)
  ~InterruptGuard();  // restores the previous handler
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

bool interrupt_requested();
void clear_interrupt();

// Thrown when a run stopped on Ctrl-C after saving its state; commands exit with 130.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace melgrad::experiments
