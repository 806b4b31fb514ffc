// Inverse STFT on FFTW3: see istft.h for the librosa semantics it reproduces.
#include "datasets/audio/istft.h"

#include <algorithm>
#include <cfloat>
#include <stdexcept>
#include <string>

#include "datasets/audio/fftw_plans.h"

namespace melgrad::audio {

std::vector<float> istft(const Spectrum& spectrum, int64_t hop, int64_t length) {
  if (spectrum.bins < 2 || hop < 1 || length < 1)
    throw std::invalid_argument(
        "istft: need at least 2 frequency bins, hop >= 1 and length >= 1 (got bins " +
        std::to_string(spectrum.bins) + ", hop " + std::to_string(hop) + ", length " +
        std::to_string(length) + ")");
  const int64_t n_fft = 2 * (spectrum.bins - 1);
  const int64_t padded_length = length + 2 * (n_fft / 2);
  const int64_t n_frames = std::min(spectrum.frames, (padded_length + hop - 1) / hop);
  const int64_t buffer_length = n_fft + hop * (n_frames - 1);
  const std::vector<double> window = hann_window(n_fft);

  std::vector<double> sum(static_cast<size_t>(std::max<int64_t>(buffer_length, 0)), 0.0);
  std::vector<double> window_square_sum(sum.size(), 0.0);
  fftw_plan plan = real_inverse_plan(n_fft);
  fftw_complex* in = fftw_alloc_complex(size_t(spectrum.bins));
  double* out = fftw_alloc_real(size_t(n_fft));
  if (!in || !out) throw std::bad_alloc();
  const double scale = 1.0 / double(n_fft);
  for (int64_t t = 0; t < n_frames; ++t) {
    for (int64_t f = 0; f < spectrum.bins; ++f) {
      const std::complex<float> v = spectrum.at(f, t);
      in[f][0] = double(v.real());
      in[f][1] = double(v.imag());
    }
    in[0][1] = 0.0;  // irfft ignores the imaginary parts of DC and Nyquist
    in[spectrum.bins - 1][1] = 0.0;
    fftw_execute_dft_c2r(plan, in, out);
    double* dst = sum.data() + t * hop;
    double* wss = window_square_sum.data() + t * hop;
    for (int64_t i = 0; i < n_fft; ++i) {
      dst[i] += window[size_t(i)] * (out[i] * scale);
      wss[i] += window[size_t(i)] * window[size_t(i)];
    }
  }
  fftw_free(in);
  fftw_free(out);

  // librosa keeps the envelope in float32 and divides where it exceeds float32's tiny.
  std::vector<float> y(size_t(length), 0.0f);
  for (int64_t i = 0; i < length; ++i) {
    const int64_t j = i + n_fft / 2;
    if (j >= buffer_length) break;
    const float envelope = float(window_square_sum[size_t(j)]);
    const float value = float(sum[size_t(j)]);
    y[size_t(i)] = envelope > FLT_MIN ? value / envelope : value;
  }
  return y;
}

}  // namespace melgrad::audio
