// chroma_cqt (librosa.feature.chroma_cqt with its defaults): see chroma.h.
#include "datasets/audio/chroma.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "datasets/audio/cqt.h"

namespace melgrad::audio {
namespace {

constexpr int kBinsPerOctave = 36, kOctaves = 7;
constexpr int64_t kHop = 512;

std::vector<float> chroma_with(std::span<const float> y, double sr, std::optional<double> tuning) {
  CqtOptions options;
  options.hop = kHop;
  options.fmin = note_c1_hz();
  options.n_bins = kBinsPerOctave * kOctaves;
  options.bins_per_octave = kBinsPerOctave;
  options.tuning = tuning;
  const CqtMagnitude C = cqt_magnitude(y, sr, options);
  return chroma_from_cqt(C.values, C.frames);
}

}  // namespace

std::vector<float> chroma_from_cqt(std::span<const float> C, int64_t frames) {
  constexpr int64_t n_bins = kBinsPerOctave * kOctaves;
  if (frames < 0 || int64_t(C.size()) != n_bins * frames)
    throw std::invalid_argument("chroma_from_cqt: expected a [" + std::to_string(n_bins) + ", " +
                                std::to_string(frames) + "] CQT, got " + std::to_string(C.size()) +
                                " values");
  constexpr int merge = kBinsPerOctave / kChromaBins;  // 3 CQT bins per chroma bin
  std::vector<float> chroma(size_t(kChromaBins * frames), 0.0f);
  // cq_to_chroma: np.repeat(np.eye(12), 3, axis=1) rolled left by 3 // 2 = 1 and tiled over
  // the octaves; the roll to C is round(mod(hz_to_midi(C1), 12)) = 0 (or 12, the same).
  // np.einsum("cf,ft->ct") sums in float32.
  for (int c = 0; c < kChromaBins; ++c) {
    float* out = chroma.data() + c * frames;
    for (int octave = 0; octave < kOctaves; ++octave) {
      for (int d = -(merge / 2); d < merge - merge / 2; ++d) {
        const int bin = octave * kBinsPerOctave + (c * merge + d + kBinsPerOctave) % kBinsPerOctave;
        const float* in = C.data() + int64_t(bin) * frames;
        for (int64_t t = 0; t < frames; ++t) out[t] += in[t];
      }
    }
  }
  // util.normalize(norm=inf, axis=-2): float32 / float64 max, kept float32; a frame whose max
  // is below tiny(float32) is divided by 1.
  for (int64_t t = 0; t < frames; ++t) {
    double peak = 0.0;
    for (int c = 0; c < kChromaBins; ++c)
      peak = std::max(peak, std::abs(double(chroma[size_t(c * frames + t)])));
    if (peak < double(std::numeric_limits<float>::min())) peak = 1.0;
    for (int c = 0; c < kChromaBins; ++c) {
      float& v = chroma[size_t(c * frames + t)];
      v = float(double(v) / peak);
    }
  }
  return chroma;
}

std::vector<float> chroma_cqt(std::span<const float> y, double sr) {
  return chroma_with(y, sr, std::nullopt);
}

std::vector<float> chroma_cqt(std::span<const float> y, double sr, double tuning) {
  return chroma_with(y, sr, tuning);
}

}  // namespace melgrad::audio
