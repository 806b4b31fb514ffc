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
constexpr int kMerge = kBinsPerOctave / kChromaBins;  // 3 CQT bins per chroma bin
constexpr int64_t kHop = 512;

// cq_to_chroma: np.repeat(np.eye(12), 3, axis=1) rolled left by 3 // 2 = 1 and tiled over the
// octaves, so CQT bin b feeds chroma ((b mod 36) + 1) / 3 mod 12; the roll to C is
// round(mod(hz_to_midi(C1), 12)) = 0 (or 12, the same).
int chroma_of_bin(int64_t bin) { return int(((bin % kBinsPerOctave) + 1) / kMerge) % kChromaBins; }

// util.normalize(norm=inf, axis=-2) of chroma [12, frames] in place: float32 / float64 max,
// kept float32; a frame whose max is below tiny(float32) is divided by 1.
void normalize_frames(std::vector<float>& chroma, int64_t frames) {
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
}

// The CQT folded into chroma octave by octave as cqt_octaves hands them over, so the 252-bin
// transform is never held whole (np.einsum("cf,ft->ct") sums in float32; the order of the
// 21 terms differs, which moves results by float32 rounding only).
std::vector<float> chroma_with(std::span<const float> y, double sr, std::optional<double> tuning) {
  CqtOptions options;
  options.hop = kHop;
  options.fmin = note_c1_hz();
  options.n_bins = kBinsPerOctave * kOctaves;
  options.bins_per_octave = kBinsPerOctave;
  options.tuning = tuning;
  std::vector<float> chroma;
  int64_t frames = -1;
  cqt_octaves(y, sr, options, [&](const CqtOctave& octave) {
    if (frames < 0) {
      frames = octave.frames;
      chroma.assign(size_t(kChromaBins * frames), 0.0f);
    }
    if (octave.frames < frames) {  // __trim_stack: keep the fewest frames any octave has
      for (int c = 0; c < kChromaBins; ++c)
        std::copy_n(chroma.begin() + c * frames, octave.frames, chroma.begin() + c * octave.frames);
      frames = octave.frames;
      chroma.resize(size_t(kChromaBins * frames));
    }
    for (int64_t r = 0; r < octave.rows; ++r) {
      float* out = chroma.data() + chroma_of_bin(octave.first_bin + r) * frames;
      const float* in = octave.values.data() + r * octave.frames;
      for (int64_t t = 0; t < frames; ++t) out[t] += in[t];
    }
  });
  normalize_frames(chroma, frames);
  return chroma;
}

}  // namespace

std::vector<float> chroma_from_cqt(std::span<const float> C, int64_t frames) {
  constexpr int64_t n_bins = kBinsPerOctave * kOctaves;
  if (frames < 0 || int64_t(C.size()) != n_bins * frames)
    throw std::invalid_argument("chroma_from_cqt: expected a [" + std::to_string(n_bins) + ", " +
                                std::to_string(frames) + "] CQT, got " + std::to_string(C.size()) +
                                " values");
  std::vector<float> chroma(static_cast<size_t>(kChromaBins * frames), 0.0f);
  for (int64_t bin = 0; bin < n_bins; ++bin) {
    float* out = chroma.data() + chroma_of_bin(bin) * frames;
    const float* in = C.data() + bin * frames;
    for (int64_t t = 0; t < frames; ++t) out[t] += in[t];
  }
  normalize_frames(chroma, frames);
  return chroma;
}

std::vector<float> chroma_cqt(std::span<const float> y, double sr) {
  return chroma_with(y, sr, std::nullopt);
}

std::vector<float> chroma_cqt(std::span<const float> y, double sr, double tuning) {
  return chroma_with(y, sr, tuning);
}

}  // namespace melgrad::audio
