// Frame-at-a-time FFTs on FFTW3: see frame_fft.h.
#include "datasets/audio/frame_fft.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "datasets/audio/fftw_plans.h"

namespace melgrad::audio {
CenteredFrames::CenteredFrames(std::span<const float> y, int64_t n_fft, int64_t hop, bool center)
    : y_(y), n_fft_(n_fft), hop_(hop), pad_(center ? n_fft / 2 : 0) {
  if (n_fft < 2 || hop < 1)
    throw std::invalid_argument("CenteredFrames: n_fft " + std::to_string(n_fft) +
                                " must be >= 2 and hop " + std::to_string(hop) + " >= 1");
  if (int64_t(y.size()) + 2 * pad_ < n_fft)
    throw std::invalid_argument("CenteredFrames: a signal of " + std::to_string(y.size()) +
                                " samples is shorter than n_fft " + std::to_string(n_fft));
  frames_ = 1 + (int64_t(y.size()) + 2 * pad_ - n_fft) / hop;
  plan_ = real_forward_plan(n_fft);
  in_ = fftw_alloc_real(size_t(n_fft));
  out_ = reinterpret_cast<std::complex<double>*>(fftw_alloc_complex(size_t(n_fft / 2 + 1)));
  if (!in_ || !out_) {
    fftw_free(in_);
    fftw_free(out_);
    throw std::bad_alloc();
  }
}

CenteredFrames::~CenteredFrames() {
  fftw_free(in_);
  fftw_free(out_);
}

std::span<const std::complex<double>> CenteredFrames::transform(int64_t t,
                                                                std::span<const double> window) {
  if (!window.empty() && int64_t(window.size()) != n_fft_)
    throw std::invalid_argument("CenteredFrames: window of " + std::to_string(window.size()) +
                                " values for frames of " + std::to_string(n_fft_));
  const int64_t n = int64_t(y_.size());
  const int64_t start = t * hop_ - pad_;  // first sample of the frame, in signal coordinates
  const int64_t lo = std::max<int64_t>(0, -start), hi = std::min<int64_t>(n_fft_, n - start);
  std::memset(in_, 0, sizeof(double) * size_t(n_fft_));
  if (window.empty()) {
    for (int64_t i = lo; i < hi; ++i) in_[i] = double(y_[size_t(start + i)]);
  } else {
    for (int64_t i = lo; i < hi; ++i) in_[i] = window[size_t(i)] * double(y_[size_t(start + i)]);
  }
  fftw_execute_dft_r2c(static_cast<fftw_plan>(plan_), in_, reinterpret_cast<fftw_complex*>(out_));
  return {out_, size_t(n_fft_ / 2 + 1)};
}

std::vector<std::complex<double>> complex_fft(std::span<const std::complex<double>> x) {
  const int64_t n = int64_t(x.size());
  fftw_plan plan = complex_forward_plan(n);
  fftw_complex* in = fftw_alloc_complex(size_t(n));
  fftw_complex* out = fftw_alloc_complex(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    in[i][0] = x[size_t(i)].real();
    in[i][1] = x[size_t(i)].imag();
  }
  fftw_execute_dft(plan, in, out);
  std::vector<std::complex<double>> result(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) result[size_t(i)] = {out[i][0], out[i][1]};
  fftw_free(in);
  fftw_free(out);
  return result;
}

}  // namespace melgrad::audio
