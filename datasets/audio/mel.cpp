// Mel filterbank, mel spectrogram and power_to_db: see mel.h for the librosa functions.
#include "datasets/audio/mel.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "datasets/audio/stft.h"

namespace melgrad::audio {
namespace {

// Slaney's scale, librosa.core.convert: linear (200/3 Hz per mel) below 1 kHz, then
// logarithmic with 27 mels per factor 6.4.
constexpr double kLinearHzPerMel = 200.0 / 3.0;
constexpr double kLogStartHz = 1000.0;
constexpr double kLogStartMel = kLogStartHz / kLinearHzPerMel;
const double kLogStep = std::log(6.4) / 27.0;

// One band's non-zero weights: bins [first, first + weights.size()).
struct MelBand {
  int64_t first = 0;
  std::vector<float> weights;
};

std::vector<MelBand> sparse_bands(const std::vector<float>& basis, int64_t n_mels, int64_t bins) {
  std::vector<MelBand> bands(static_cast<size_t>(n_mels));
  for (int64_t m = 0; m < n_mels; ++m) {
    const float* row = &basis[size_t(m * bins)];
    int64_t lo = 0, hi = bins;
    while (lo < bins && row[lo] == 0.0f) ++lo;
    while (hi > lo && row[hi - 1] == 0.0f) --hi;
    bands[size_t(m)].first = lo;
    bands[size_t(m)].weights.assign(row + lo, row + hi);
  }
  return bands;
}

}  // namespace

double hz_to_mel(double hz) {
  return hz >= kLogStartHz ? kLogStartMel + std::log(hz / kLogStartHz) / kLogStep
                           : hz / kLinearHzPerMel;
}

double mel_to_hz(double mel) {
  return mel >= kLogStartMel ? kLogStartHz * std::exp(kLogStep * (mel - kLogStartMel))
                             : kLinearHzPerMel * mel;
}

std::vector<float> mel_filterbank(double sr, int64_t n_fft, int64_t n_mels, double fmin,
                                  double fmax) {
  if (!(sr > 0) || n_fft < 2 || n_mels < 1 || fmin < 0 || !(fmax > fmin))
    throw std::invalid_argument(
        "mel_filterbank: need sr > 0, n_fft >= 2, n_mels >= 1 and "
        "0 <= fmin < fmax; got sr " +
        std::to_string(sr) + ", n_fft " + std::to_string(n_fft) + ", n_mels " +
        std::to_string(n_mels) + ", fmin " + std::to_string(fmin) + ", fmax " +
        std::to_string(fmax));
  const int64_t bins = 1 + n_fft / 2;
  // np.fft.rfftfreq(n_fft, d=1/sr): k * (1 / (n_fft * (1 / sr))).
  const double bin_hz = 1.0 / (double(n_fft) * (1.0 / sr));
  // mel_frequencies(n_mels + 2, fmin, fmax): np.linspace over the mel scale (i * step + start,
  // the last point set to the end exactly), mapped back to Hz.
  const int64_t points = n_mels + 2;
  const double mel_lo = hz_to_mel(fmin), mel_hi = hz_to_mel(fmax);
  const double step = (mel_hi - mel_lo) / double(points - 1);
  std::vector<double> mel_hz(static_cast<size_t>(points));
  for (int64_t i = 0; i < points; ++i)
    mel_hz[size_t(i)] = mel_to_hz(i == points - 1 ? mel_hi : double(i) * step + mel_lo);

  std::vector<float> basis(size_t(n_mels * bins));
  for (int64_t m = 0; m < n_mels; ++m) {
    const double width_lo = mel_hz[size_t(m + 1)] - mel_hz[size_t(m)];
    const double width_hi = mel_hz[size_t(m + 2)] - mel_hz[size_t(m + 1)];
    const double slaney_norm = 2.0 / (mel_hz[size_t(m + 2)] - mel_hz[size_t(m)]);
    for (int64_t k = 0; k < bins; ++k) {
      const double f = double(k) * bin_hz;
      const double lower = -(mel_hz[size_t(m)] - f) / width_lo;
      const double upper = (mel_hz[size_t(m + 2)] - f) / width_hi;
      const float w = float(std::max(0.0, std::min(lower, upper)));
      basis[size_t(m * bins + k)] = float(double(w) * slaney_norm);
    }
  }
  return basis;
}

MelSpectrogram melspectrogram(std::span<const float> y, double sr, const MelOptions& o) {
  const StftOptions so{.n_fft = o.n_fft, .hop = o.hop, .window = Window::hann, .center = true};
  const int64_t bins = 1 + o.n_fft / 2;
  const double fmax = o.fmax > 0 ? o.fmax : sr / 2.0;
  const std::vector<MelBand> bands =
      sparse_bands(mel_filterbank(sr, o.n_fft, o.n_mels, o.fmin, fmax), o.n_mels, bins);

  MelSpectrogram out;
  out.mels = o.n_mels;
  out.frames = stft_frame_count(int64_t(y.size()), so);
  out.values.assign(size_t(out.mels * out.frames), 0.0f);
  constexpr int64_t kBlock = 256;  // frames per STFT block: 1025 x 256 complex = 2 MB
  std::vector<float> power;
  std::vector<double> sum(static_cast<size_t>(kBlock));
  for (int64_t t0 = 0; t0 < out.frames; t0 += kBlock) {
    const int64_t count = std::min(kBlock, out.frames - t0);
    power = magnitude(stft_frames(y, so, t0, count), 2.0);  // [bins, count], float32
    for (int64_t m = 0; m < o.n_mels; ++m) {
      const MelBand& band = bands[size_t(m)];
      std::fill(sum.begin(), sum.begin() + count, 0.0);
      for (size_t j = 0; j < band.weights.size(); ++j) {
        const double w = band.weights[j];
        const float* row = &power[size_t((band.first + int64_t(j)) * count)];
        for (int64_t t = 0; t < count; ++t) sum[size_t(t)] += w * double(row[t]);
      }
      float* dst = &out.values[size_t(m * out.frames + t0)];
      for (int64_t t = 0; t < count; ++t) dst[t] = float(sum[size_t(t)]);
    }
  }
  return out;
}

void power_to_db(std::span<float> S, double amin, double top_db) {
  if (!(amin > 0)) throw std::invalid_argument("power_to_db: amin must be > 0");
  if (S.empty()) return;
  float ref = S[0];
  for (float v : S) ref = std::max(ref, v);
  const float ref_db = float(10.0 * std::log10(std::max(amin, double(ref))));
  float top = -INFINITY;
  for (float& v : S) {
    v = float(10.0 * double(std::log10(std::max(float(amin), v)))) - ref_db;
    top = std::max(top, v);
  }
  if (top_db >= 0) {
    const float floor_db = float(double(top) - top_db);
    for (float& v : S) v = std::max(v, floor_db);
  }
}

}  // namespace melgrad::audio
