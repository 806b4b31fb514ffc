// Frame-at-a-time FFTs on FFTW3 (double precision): the framing under stft.h, and the CQT's
// and tuning estimate's frames, which consume each frame's spectrum at once and so never hold
// a whole STFT in memory (a 10-minute track's [513, 25 840] complex STFT would be ~100 MB per
// CQT octave).
//
// CenteredFrames(y, n_fft, hop) frames a mono signal y [n] exactly as
// librosa.stft(y, n_fft=n_fft, hop_length=hop, center=True, pad_mode="constant") does:
// n_fft / 2 zeros on both sides, frame t starts at sample t * hop - n_fft / 2,
// frames = 1 + (n + 2 * (n_fft / 2) - n_fft) / hop (with center = false: no padding, frame t
// starts at t * hop, frames = 1 + (n - n_fft) / hop). It is the one framing and forward FFT
// of the audio code: stft.h's stft / stft_frames are built on it. transform(t, window) windows
// frame t (window: n_fft values, or empty for all ones), transforms it in double precision (numpy's
// float32 signal times librosa's float64 window) and returns its n_fft / 2 + 1 bins.
// Plans come from fftw_plans.h and are executed on per-object buffers, so separate objects
// may be used from separate threads.
#pragma once

#include <cmath>
#include <complex>
#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

class CenteredFrames {
 public:
  CenteredFrames(std::span<const float> y, int64_t n_fft, int64_t hop, bool center = true);
  ~CenteredFrames();
  CenteredFrames(const CenteredFrames&) = delete;
  CenteredFrames& operator=(const CenteredFrames&) = delete;

  int64_t frames() const { return frames_; }
  int64_t bins() const { return n_fft_ / 2 + 1; }
  // Spectrum of frame t: bins() values, valid until the next call.
  std::span<const std::complex<double>> transform(int64_t t, std::span<const double> window);

 private:
  std::span<const float> y_;
  int64_t n_fft_, hop_, pad_, frames_;
  void* plan_;                 // fftw_plan (kept opaque so this header does not need fftw3.h)
  double* in_;                 // [n_fft], fftw_malloc'ed
  std::complex<double>* out_;  // [n_fft / 2 + 1], fftw_malloc'ed
};

// numpy's np.abs of a complex64 value (glibc's hypotf, which evaluates in double precision;
// this form gives the same float on 1e8 random pairs checked and, inlined, vectorises).
inline float complex64_abs(float re, float im) {
  return float(std::sqrt(double(re) * double(re) + double(im) * double(im)));
}

// Forward complex FFT of x (length n, numpy.fft.fft's sign and scale) in double precision.
std::vector<std::complex<double>> complex_fft(std::span<const std::complex<double>> x);

}  // namespace melgrad::audio
