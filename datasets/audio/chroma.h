// The chromagram from the constant-Q transform, as librosa 0.11.0 computes it with all
// defaults:
//
//   chroma_cqt(y, sr) == librosa.feature.chroma_cqt(y=y, sr=sr)
//   i.e. hop 512, fmin C1 (32.70 Hz), tuning estimated (estimate_tuning with 36 bins per
//   octave), 7 octaves of 36 bins (252), norm inf, threshold 0, 12 chroma, cqt_mode "full".
//
// Steps: C = |cqt(y)| (cqt.h, with the tuning of tuning.h); chroma = cq_to_chroma(252) @ C,
// where chroma c sums, in every octave, the three CQT bins centred on pitch class c
// (bins 3c - 1, 3c, 3c + 1 of the octave, wrapping within it; c = 0 is C); then each frame
// is divided by its largest chroma value (util.normalize(norm=inf, axis=-2); frames whose
// maximum is below float32's tiny stay as they are, i.e. zero).
// The fold is done octave by octave as cqt_octaves hands them over, so the 252-bin CQT is
// never held whole (~47 MB above the signal for a 10-minute track).
// y: mono float32 [n] at rate sr. Result: [12, frames] row-major float32 with
// frames = 1 + n / 512, the same frames as the mel spectrogram's STFT.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace melgrad::audio {

constexpr int kChromaBins = 12;

std::vector<float> chroma_cqt(std::span<const float> y, double sr);

// The same with the tuning given (in fractions of a 36-per-octave bin) instead of estimated:
// librosa.feature.chroma_cqt(y=y, sr=sr, tuning=tuning).
std::vector<float> chroma_cqt(std::span<const float> y, double sr, double tuning);

// The chroma steps after the CQT: cq_to_chroma folding of C [252, frames] (36 bins per
// octave from C1) and the per-frame inf-norm normalisation. Result [12, frames].
std::vector<float> chroma_from_cqt(std::span<const float> cqt_magnitude, int64_t frames);

}  // namespace melgrad::audio
