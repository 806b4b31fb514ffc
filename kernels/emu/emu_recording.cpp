// The emulator's recordings (see emu.h, Recording): per thread, the launches made between
// begin_recording() and end_recording(), and the first call that could not be recorded.
#include <string>

#include "kernels/emu/emu.h"

namespace melgrad::emu {

namespace {

struct RecordingState {
  bool active = false;
  std::vector<std::function<void()>> launches;
  std::string invalid;  // the first unrecordable call, or empty
};

RecordingState& state() {
  thread_local RecordingState s;
  return s;
}

}  // namespace

void Recording::replay() const {
  for (const auto& launch : launches_) launch();
}

void begin_recording() {
  RecordingState& s = state();
  if (s.active) throw KernelError("emu::begin_recording: this thread is already recording");
  s = RecordingState{};
  s.active = true;
}

Recording end_recording() {
  RecordingState& s = state();
  if (!s.active) throw KernelError("emu::end_recording: nothing is being recorded");
  RecordingState done = std::move(s);
  s = RecordingState{};
  if (!done.invalid.empty())
    throw KernelError("the recording is invalid: " + done.invalid +
                      " while recording (a CUDA graph cannot hold it)");
  Recording r;
  r.launches_ = std::move(done.launches);
  return r;
}

bool is_recording() { return state().active; }

namespace detail {

void record_launch(std::function<void()> launch) { state().launches.push_back(std::move(launch)); }

void note_unrecordable(const char* what) {
  RecordingState& s = state();
  if (s.active && s.invalid.empty()) s.invalid = what;
}

}  // namespace detail

}  // namespace melgrad::emu
