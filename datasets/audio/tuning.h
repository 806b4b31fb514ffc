// Tuning estimation as librosa 0.11.0 does it for the CQT (librosa.estimate_tuning with
// piptrack's defaults), reproduced step by step with librosa's float32 arithmetic:
//
//   estimate_tuning(y, sr, bins_per_octave)
//     == librosa.estimate_tuning(y=y, sr=sr, bins_per_octave=bins_per_octave)
//   with n_fft 2048, hop 512, Hann window, centred frames, resolution 0.01.
//
// piptrack: per STFT frame, magnitudes S (float32); peaks are the local maxima of
// S * (S > 0.1 * max(S)) between 150 Hz and 4 kHz, each refined by parabolic interpolation
// (pitch = (bin + shift) * sr / n_fft, magnitude = S + 0.5 * gradient * shift).
// estimate_tuning keeps the peaks whose magnitude is at least the median peak magnitude, and
// pitch_tuning histograms their deviation from the equal-tempered grid of bins_per_octave
// bins (in fractions of a bin, [-0.5, 0.5), 100 bins of 0.01) and returns the left edge of the
// fullest bin. With no peaks (silence) the tuning is 0.
// y: mono float32 [n]. Frames are FFT'd one at a time (no whole STFT in memory).
#pragma once

#include <span>

namespace melgrad::audio {

double estimate_tuning(std::span<const float> y, double sr, int bins_per_octave = 12);

// librosa.pitch_tuning(frequencies, resolution=0.01, bins_per_octave=...) on float32
// frequencies in Hz (values <= 0 are ignored; none left: 0).
double pitch_tuning(std::span<const float> frequencies, int bins_per_octave = 12);

}  // namespace melgrad::audio
