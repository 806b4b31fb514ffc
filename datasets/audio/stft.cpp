// STFT on FFTW3: see stft.h for the librosa semantics it reproduces.
#include "datasets/audio/stft.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "datasets/audio/frame_fft.h"

namespace melgrad::audio {
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
  Spectrum s;
  s.bins = o.n_fft / 2 + 1;
  s.frames = frame_count;
  s.values.resize(size_t(s.bins * s.frames));
  const std::vector<double> window =
      o.window == Window::hann ? hann_window(o.n_fft) : std::vector<double>{};  // {}: all ones
  CenteredFrames framer(y, o.n_fft, o.hop, o.center);
  for (int64_t t = 0; t < s.frames; ++t) {
    const std::span<const std::complex<double>> bins = framer.transform(first_frame + t, window);
    for (int64_t f = 0; f < s.bins; ++f)
      s.values[size_t(f * s.frames + t)] = {float(bins[size_t(f)].real()),
                                            float(bins[size_t(f)].imag())};
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
