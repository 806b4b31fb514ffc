// SIGINT/SIGTERM flag and handler (see interrupt.h). The flag is the one piece of process-wide
// mutable state here: a signal handler can reach nothing else.
#include "experiments/interrupt.h"

#include <csignal>

namespace melgrad::experiments {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;  // set by the handler, polled by the loop
int g_guard_depth = 0;                         // nested guards: main thread only
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

extern "C" void on_sigint(int) { g_interrupted = 1; }
}  // namespace

InterruptGuard::InterruptGuard() {
  if (g_guard_depth++ > 0) return;
  struct sigaction action {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);  // `kill PID`, a job scheduler's stop
}

InterruptGuard::~InterruptGuard() {
  if (--g_guard_depth > 0) return;
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool interrupt_requested() { return g_interrupted != 0; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace melgrad::experiments
