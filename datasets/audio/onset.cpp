// Onset strength envelope for the beat tracker: see onset.h.
#include "datasets/audio/onset.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "datasets/audio/mel.h"

namespace melgrad::audio {

std::vector<float> onset_strength_median(std::span<const float> y, double sr) {
  constexpr int64_t n_fft = 2048, hop = 512, n_mels = 128, lag = 1;
  if (y.empty()) throw std::invalid_argument("onset strength: empty signal");
  // Mel power (mel.h: the same STFT, filterbank and double-precision projection as the
  // log-mel rows), then power_to_db(ref=1, amin=1e-10, top_db=80) in float32.
  MelSpectrogram mel = melspectrogram(y, sr, {.n_fft = n_fft, .hop = hop, .n_mels = n_mels});
  const int64_t frames = mel.frames;
  std::vector<float>& db = mel.values;
  for (float& v : db) v = 10.0f * std::log10(std::max(1e-10f, v));
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
