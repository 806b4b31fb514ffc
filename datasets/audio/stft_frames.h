// A block of columns of librosa's centred STFT, for streaming a long signal through the
// spectral steps (HPSS, onset strength) without holding its whole spectrogram.
//
//   stft_frames(y, first, count)  ==  stft(y, {n_fft, hop})[:, first : first + count]
//
// (Hann window, center=True, zero padding: stft.h.) The frames are computed from a copy of
// just the samples they cover, zero-filled outside the signal, with center=false; each frame
// is formed and transformed exactly as stft() does, so the values are identical.
#pragma once

#include <cstdint>
#include <span>

#include "datasets/audio/stft.h"

namespace melgrad::audio {

// Number of frames of the centred STFT of n samples: 1 + n / hop (n_fft even).
int64_t centred_frame_count(int64_t n, int64_t n_fft, int64_t hop);

Spectrum stft_frames(std::span<const float> y, int64_t first, int64_t count, int64_t n_fft = 2048,
                     int64_t hop = 512);

}  // namespace melgrad::audio
