// STFT on FFTW3: see stft.h for the librosa semantics it reproduces.
#include "datasets/audio/stft.h"

#include <fftw3.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>

namespace melgrad::audio {
namespace {

// One real-to-complex plan per transform length, made with FFTW_ESTIMATE (no timing runs,
// so results do not depend on the planner's measurements) and executed with the new-array
// interface on buffers from fftw_malloc (same alignment as the planning buffers).
struct Plan {
  fftw_plan plan = nullptr;
  ~Plan() {
    if (plan) fftw_destroy_plan(plan);
  }
};

fftw_plan r2c_plan(int64_t n) {
  static std::mutex mutex;
  static std::map<int64_t, std::unique_ptr<Plan>> plans;
  std::lock_guard<std::mutex> lock(mutex);  // FFTW's planner is not thread-safe
  auto& slot = plans[n];
  if (!slot) {
    double* in = fftw_alloc_real(size_t(n));
    fftw_complex* out = fftw_alloc_complex(size_t(n / 2 + 1));
    slot = std::make_unique<Plan>();
    slot->plan = fftw_plan_dft_r2c_1d(int(n), in, out, FFTW_ESTIMATE);
    fftw_free(in);
    fftw_free(out);
    if (!slot->plan)
      throw std::runtime_error("stft: FFTW could not plan a transform of length " +
                               std::to_string(n));
  }
  return slot->plan;
}

struct FftwBuffer {
  explicit FftwBuffer(size_t n) : p(fftw_malloc(n)) {
    if (!p) throw std::bad_alloc();
  }
  ~FftwBuffer() { fftw_free(p); }
  FftwBuffer(const FftwBuffer&) = delete;
  FftwBuffer& operator=(const FftwBuffer&) = delete;
  void* p;
};

}  // namespace

std::vector<double> hann_window(int64_t n) {
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    w[size_t(i)] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * double(i) / double(n));
  return w;
}

int64_t stft_frame_count(int64_t n, const StftOptions& o) {
  if (o.n_fft < 2 || o.hop < 1)
    throw std::invalid_argument("stft: n_fft must be >= 2 and hop >= 1");
  const int64_t padded = n + 2 * (o.center ? o.n_fft / 2 : 0);
  if (padded < o.n_fft)
    throw std::invalid_argument("stft: signal of " + std::to_string(n) +
                                " samples is shorter than n_fft " + std::to_string(o.n_fft));
  return 1 + (padded - o.n_fft) / o.hop;
}

Spectrum stft_frames(std::span<const float> y, const StftOptions& o, int64_t first_frame,
                     int64_t frame_count) {
  const int64_t n = int64_t(y.size());
  const int64_t total = stft_frame_count(n, o);
  if (first_frame < 0 || frame_count < 0 || first_frame + frame_count > total)
    throw std::invalid_argument("stft: frames [" + std::to_string(first_frame) + ", " +
                                std::to_string(first_frame + frame_count) + ") outside [0, " +
                                std::to_string(total) + ")");
  const int64_t pad = o.center ? o.n_fft / 2 : 0;
  Spectrum s;
  s.bins = o.n_fft / 2 + 1;
  s.frames = frame_count;
  s.values.resize(size_t(s.bins * s.frames));
  std::vector<double> window =
      o.window == Window::hann ? hann_window(o.n_fft) : std::vector<double>(size_t(o.n_fft), 1.0);

  fftw_plan plan = r2c_plan(o.n_fft);
  FftwBuffer in_buf(sizeof(double) * size_t(o.n_fft));
  FftwBuffer out_buf(sizeof(fftw_complex) * size_t(s.bins));
  double* in = static_cast<double*>(in_buf.p);
  fftw_complex* out = static_cast<fftw_complex*>(out_buf.p);
  for (int64_t t = 0; t < s.frames; ++t) {
    const int64_t start = (first_frame + t) * o.hop - pad;  // in signal coordinates
    for (int64_t i = 0; i < o.n_fft; ++i) {
      const int64_t j = start + i;
      in[i] = (j >= 0 && j < n) ? window[size_t(i)] * double(y[size_t(j)]) : 0.0;
    }
    fftw_execute_dft_r2c(plan, in, out);
    for (int64_t f = 0; f < s.bins; ++f)
      s.values[size_t(f * s.frames + t)] = {float(out[f][0]), float(out[f][1])};
  }
  return s;
}

Spectrum stft(std::span<const float> y, const StftOptions& o) {
  return stft_frames(y, o, 0, stft_frame_count(int64_t(y.size()), o));
}

std::vector<float> magnitude(const Spectrum& s, double power) {
  std::vector<float> m(s.values.size());
  for (size_t i = 0; i < m.size(); ++i) {
    const float a = std::abs(s.values[i]);
    m[i] = power == 1.0 ? a : power == 2.0 ? a * a : float(std::pow(double(a), power));
  }
  return m;
}

}  // namespace melgrad::audio
