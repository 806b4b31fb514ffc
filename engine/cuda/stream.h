// Streams and events of the CUDA backend, as in PyTorch:
//   cuda::Stream side;                    // a new stream (non-blocking), owned
//   {
//     cuda::StreamGuard guard(side);      // this thread's launches, copies and allocations
//     y = ops::relu(x);                   //   go to `side` until the guard is destroyed
//   }
//   cuda::Event done;
//   done.record(side);                    // a marker after the work queued on side so far
//   done.wait();                          // the current stream's later work waits for it
//   cuda::record_stream(x, side);         // x's memory is also used by side's work
// Without a guard everything runs on the device's stream (device_runtime.h), in order.
// Work on different streams is not ordered: using a tensor on another stream than the one
// that produced it needs an event (or wait_stream), and freeing it needs record_stream so
// that the caching allocator does not hand its memory out before that stream's work ran.
// In the emulator launches run at once, so streams only change which free lists serve an
// allocation, and events complete as soon as they are recorded (host clock timings).
#pragma once

#include "engine/cuda/device_runtime.h"
#include "engine/tensor.h"
#include "kernels/runtime.h"

namespace melgrad::cuda {

// A timed CUDA event (created on construction, destroyed with the object).
class Event {
 public:
  Event();
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(kernels::Stream s = stream());      // after the work queued on s so far
  void wait(kernels::Stream s = stream()) const;  // s's later work waits for this event
  bool query() const;                             // complete? (never recorded: true)
  void synchronize() const;                       // the host waits until it is complete
  float elapsed_ms(const Event& end) const;       // both recorded and complete
  kernels::Event handle() const { return handle_; }

 private:
  kernels::Event handle_ = nullptr;
};

// An owned non-blocking stream. Destroying it waits for its queued work first, so its
// handle is never reused while the caching allocator still orders blocks by it.
class Stream {
 public:
  Stream();
  ~Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  kernels::Stream handle() const { return handle_; }
  operator kernels::Stream() const { return handle_; }  // for launchers and guards

  void synchronize() const;                       // the host waits for its queued work
  void wait(const Event& e) const;                // later work waits for e
  void wait_stream(kernels::Stream other) const;  // later work waits for other's work so far

 private:
  kernels::Stream handle_ = nullptr;
};

// Makes `s` this thread's current stream (cuda::stream()) until destroyed, then restores
// the previous one; guards nest. It must not outlive the stream it names.
class StreamGuard {
 public:
  explicit StreamGuard(kernels::Stream s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  kernels::Stream previous_;
  bool previous_guarded_;
};

// The memory of t (a cuda tensor) is also used by work queued on s: when it is freed, the
// caching allocator reuses it only after that work has run (PyTorch's Tensor.record_stream).
void record_stream(const Tensor& t, kernels::Stream s);

}  // namespace melgrad::cuda
