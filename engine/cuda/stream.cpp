// Streams, events, the current stream and record_stream (see stream.h).
#include "engine/cuda/stream.h"

#include <stdexcept>
#include <utility>

#include "engine/cuda/caching_allocator.h"
#include "engine/cuda/cuda_backend.h"

namespace melgrad::cuda {

namespace {
// This thread's current stream, when a StreamGuard set one.
thread_local kernels::Stream t_current = nullptr;
thread_local bool t_guarded = false;
}  // namespace

kernels::Stream stream() { return t_guarded ? t_current : default_stream(); }

StreamGuard::StreamGuard(kernels::Stream s) : previous_(t_current), previous_guarded_(t_guarded) {
  t_current = s;
  t_guarded = true;
}

StreamGuard::~StreamGuard() {
  t_current = previous_;
  t_guarded = previous_guarded_;
}

Event::Event() {
  require_device(Device::cuda(0));
  handle_ = kernels::event_create();
}

Event::~Event() {
  try {
    kernels::event_destroy(handle_);
  } catch (...) {  // a destructor must not throw; the next call reports a device error
  }
}

Event::Event(Event&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
Event& Event::operator=(Event&& other) noexcept {
  std::swap(handle_, other.handle_);
  return *this;
}

void Event::record(kernels::Stream s) { kernels::event_record(handle_, s); }
void Event::wait(kernels::Stream s) const { kernels::stream_wait_event(s, handle_); }
bool Event::query() const { return kernels::event_query(handle_); }
void Event::synchronize() const { kernels::event_synchronize(handle_); }
float Event::elapsed_ms(const Event& end) const {
  return kernels::event_elapsed_ms(handle_, end.handle_);
}

Stream::Stream() {
  require_device(Device::cuda(0));
  handle_ = kernels::stream_create();
}

Stream::~Stream() {
  if (handle_ == nullptr) return;
  try {
    kernels::stream_synchronize(handle_);
    kernels::stream_destroy(handle_);
  } catch (...) {  // a destructor must not throw; the next call reports a device error
  }
}

Stream::Stream(Stream&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
Stream& Stream::operator=(Stream&& other) noexcept {
  std::swap(handle_, other.handle_);
  return *this;
}

void Stream::synchronize() const { kernels::stream_synchronize(handle_); }
void Stream::wait(const Event& e) const { kernels::stream_wait_event(handle_, e.handle()); }
void Stream::wait_stream(kernels::Stream other) const {
  Event e;
  e.record(other);
  wait(e);  // destroying a recorded event after the wait is enqueued is allowed
}

void record_stream(const Tensor& t, kernels::Stream s) {
  if (!t.defined() || !t.device().is_cuda())
    throw std::invalid_argument("cuda::record_stream: the tensor is not on cuda");
  device_allocator().record_stream(t.impl().storage->data(), s);
}

}  // namespace melgrad::cuda
