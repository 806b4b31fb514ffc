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

MelProjector::MelProjector(double sr, int64_t frames, const MelOptions& o) {
  const int64_t bins = 1 + o.n_fft / 2;
  const std::vector<float> basis =
      mel_filterbank(sr, o.n_fft, o.n_mels, o.fmin, o.fmax > 0 ? o.fmax : sr / 2.0);
  bands_.resize(size_t(o.n_mels));
  for (int64_t m = 0; m < o.n_mels; ++m) {  // each band's non-zero weights only
    const float* row = &basis[size_t(m * bins)];
    int64_t lo = 0, hi = bins;
    while (lo < bins && row[lo] == 0.0f) ++lo;
    while (hi > lo && row[hi - 1] == 0.0f) --hi;
    bands_[size_t(m)].first = lo;
    bands_[size_t(m)].weights.assign(row + lo, row + hi);
  }
  out_.mels = o.n_mels;
  out_.frames = frames;
  out_.values.assign(size_t(out_.mels * frames), 0.0f);
}

void MelProjector::add(const float* magnitude, int64_t stride, int64_t first_column, int64_t count,
                       int64_t first_frame) {
  if (first_frame < 0 || count < 0 || first_frame + count > out_.frames)
    throw std::invalid_argument("MelProjector: frames [" + std::to_string(first_frame) + ", " +
                                std::to_string(first_frame + count) + ") outside [0, " +
                                std::to_string(out_.frames) + ")");
  sum_.resize(size_t(count));
  for (int64_t m = 0; m < out_.mels; ++m) {
    const Band& band = bands_[size_t(m)];
    std::fill(sum_.begin(), sum_.end(), 0.0);
    for (size_t j = 0; j < band.weights.size(); ++j) {
      const double w = band.weights[j];
      const float* row = magnitude + (band.first + int64_t(j)) * stride + first_column;
      for (int64_t t = 0; t < count; ++t) {
        const float power = row[t] * row[t];  // |X|^2 in float32, as librosa's S
        sum_[size_t(t)] += w * double(power);
      }
    }
    float* dst = &out_.values[size_t(m * out_.frames + first_frame)];
    for (int64_t t = 0; t < count; ++t) dst[t] = float(sum_[size_t(t)]);
  }
}

MelSpectrogram melspectrogram(std::span<const float> y, double sr, const MelOptions& o) {
  const StftOptions so{.n_fft = o.n_fft, .hop = o.hop, .window = Window::hann, .center = true};
  const int64_t frames = stft_frame_count(int64_t(y.size()), so);
  MelProjector projector(sr, frames, o);
  constexpr int64_t kBlock = 256;  // frames per STFT block: 1025 x 256 complex = 2 MB
  for (int64_t t0 = 0; t0 < frames; t0 += kBlock) {
    const int64_t count = std::min(kBlock, frames - t0);
    const std::vector<float> mag = magnitude(stft_frames(y, so, t0, count), 1.0);
    projector.add(mag.data(), count, 0, count, t0);
  }
  return projector.take();
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
