// Onset strength envelope for the beat tracker: see onset.h.
#include "datasets/audio/onset.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "datasets/audio/stft_frames.h"

namespace melgrad::audio {
namespace {

// --- Slaney mel scale (librosa.hz_to_mel / mel_to_hz with htk=False). Duplicate of the
// --- audio-core helper's mel.h, kept local until the merge (see onset.h).
constexpr double kMinLogHz = 1000.0;
constexpr double kLinearHzPerMel = 200.0 / 3.0;
double min_log_mel() { return kMinLogHz / kLinearHzPerMel; }
double log_step() { return std::log(6.4) / 27.0; }

double hz_to_mel(double hz) {
  if (hz >= kMinLogHz) return min_log_mel() + std::log(hz / kMinLogHz) / log_step();
  return hz / kLinearHzPerMel;
}

double mel_to_hz(double mel) {
  if (mel >= min_log_mel()) return kMinLogHz * std::exp(log_step() * (mel - min_log_mel()));
  return kLinearHzPerMel * mel;
}

}  // namespace

std::vector<float> onset_mel_filterbank(double sr, int64_t n_fft, int64_t n_mels) {
  if (sr <= 0 || n_fft < 2 || n_mels < 1)
    throw std::invalid_argument("mel filterbank: need sr > 0, n_fft >= 2, n_mels >= 1");
  const int64_t bins = 1 + n_fft / 2;
  // np.fft.rfftfreq(n_fft, d=1/sr)
  const double bin_hz = 1.0 / (double(n_fft) * (1.0 / sr));
  // np.linspace(hz_to_mel(0), hz_to_mel(sr/2), n_mels + 2), then mel_to_hz
  const int64_t points = n_mels + 2;
  const double mel_lo = hz_to_mel(0.0), mel_hi = hz_to_mel(sr / 2.0);
  const double step = (mel_hi - mel_lo) / double(points - 1);
  std::vector<double> mel_hz(static_cast<size_t>(points));
  for (int64_t i = 0; i < points; ++i)
    mel_hz[size_t(i)] = mel_to_hz(i == points - 1 ? mel_hi : double(i) * step + mel_lo);
  std::vector<float> weights(static_cast<size_t>(n_mels * bins));
  for (int64_t m = 0; m < n_mels; ++m) {
    const double lower_width = mel_hz[size_t(m + 1)] - mel_hz[size_t(m)];
    const double upper_width = mel_hz[size_t(m + 2)] - mel_hz[size_t(m + 1)];
    const double enorm = 2.0 / (mel_hz[size_t(m + 2)] - mel_hz[size_t(m)]);
    for (int64_t f = 0; f < bins; ++f) {
      const double hz = double(f) * bin_hz;
      const double lower = -(mel_hz[size_t(m)] - hz) / lower_width;
      const double upper = (mel_hz[size_t(m + 2)] - hz) / upper_width;
      // librosa stores the triangle in float32, then scales that float32 by enorm.
      const float triangle = float(std::max(0.0, std::min(lower, upper)));
      weights[size_t(m * bins + f)] = float(double(triangle) * enorm);
    }
  }
  return weights;
}

std::vector<float> onset_strength_median(std::span<const float> y, double sr) {
  constexpr int64_t n_fft = 2048, hop = 512, n_mels = 128, lag = 1, chunk = 512;
  if (y.empty()) throw std::invalid_argument("onset strength: empty signal");
  const int64_t bins = n_fft / 2 + 1;
  const int64_t frames = centred_frame_count(int64_t(y.size()), n_fft, hop);
  const std::vector<float> basis = onset_mel_filterbank(sr, n_fft, n_mels);
  // Each band's non-zero bins [lo, hi), so the projection skips the zeros.
  std::vector<int64_t> lo(size_t(n_mels), 0), hi(size_t(n_mels), 0);
  for (int64_t m = 0; m < n_mels; ++m) {
    const float* w = basis.data() + m * bins;
    int64_t a = 0, b = bins;
    while (a < bins && w[a] == 0.0f) ++a;
    while (b > a && w[b - 1] == 0.0f) --b;
    lo[size_t(m)] = a;
    hi[size_t(m)] = b;
  }

  // Mel power in dB, power_to_db(ref=1, amin=1e-10) in float32, a block of frames at a time.
  std::vector<float> db(size_t(n_mels * frames));
  std::vector<float> power;
  for (int64_t c0 = 0; c0 < frames; c0 += chunk) {
    const int64_t width = std::min(chunk, frames - c0);
    const Spectrum block = stft_frames(y, c0, width, n_fft, hop);
    power.resize(size_t(bins * width));
    for (size_t i = 0; i < power.size(); ++i) {
      const float a = std::abs(block.values[i]);  // np.abs(stft) ** 2 in float32
      power[i] = a * a;
    }
    for (int64_t m = 0; m < n_mels; ++m) {
      for (int64_t j = 0; j < width; ++j) {
        double sum = 0.0;
        for (int64_t f = lo[size_t(m)]; f < hi[size_t(m)]; ++f)
          sum += double(basis[size_t(m * bins + f)]) * double(power[size_t(f * width + j)]);
        db[size_t(m * frames + c0 + j)] = 10.0f * std::log10(std::max(1e-10f, float(sum)));
      }
    }
  }
  const float top = *std::max_element(db.begin(), db.end()) - 80.0f;  // top_db = 80
  for (float& v : db) v = std::max(v, top);

  // Positive flux per band, median over bands, shifted by lag + n_fft / (2 hop).
  const int64_t shift = lag + n_fft / (2 * hop);
  std::vector<float> envelope(static_cast<size_t>(frames), 0.0f);
  std::vector<float> flux(static_cast<size_t>(n_mels));
  for (int64_t t = lag; t < frames && t - lag + shift < frames; ++t) {
    for (int64_t m = 0; m < n_mels; ++m)
      flux[size_t(m)] =
          std::max(0.0f, db[size_t(m * frames + t)] - db[size_t(m * frames + t - lag)]);
    const auto middle = flux.begin() + n_mels / 2;
    std::nth_element(flux.begin(), middle, flux.end());
    const float upper = *middle;
    const float lower = *std::max_element(flux.begin(), middle);  // n_mels is even
    envelope[size_t(t - lag + shift)] = (lower + upper) / 2.0f;
  }
  return envelope;
}

}  // namespace melgrad::audio
