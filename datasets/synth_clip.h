// The signal model of the synthetic patreco3 clips: one clip's latent musical style, its
// fused spectrogram (140, T) in the real recipe's ranges, its beat-synchronised version
// and its affective targets.
//
// Style (per clip, drawn around its genre's values with a spread that makes genres overlap):
//   spectral envelope (centroid band, width, tilt, bass), loudness (compression + brightness),
//   dynamics, rhythm (tempo -> beats per clip, beat regularity, percussion strength) and
//   harmony (key, mode, chord rate, tonality).
// Spectrogram, float64, shape (140, T), C order:
//   rows 0–127  log-mel in dB, ref = clip max (max 0), floor -80: envelope + slow level
//               changes + percussive pulses at the beats + chord partials at their mel bands
//               + Gaussian noise;
//   rows 128–139 chroma 0..1, max 1 per frame: chord template and key profile + noise.
// Beat version (140, B): median of the frames between consecutive beats (B beats).
// Targets in (0, 1), noisy logistic functions of the latent style:
//   valence ~ mode (major), tempo, tonality;  energy ~ loudness, percussion, tempo;
//   danceability ~ beat regularity, percussion, tempo near the middle of the range.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace melgrad::data {

struct ClipStyle {
  double centroid, width, tilt, bass;  // mel envelope: band, bands, dB over the range, dB
  double tempo;                        // 0..1 -> beat count in [beats_min, beats_max]
  double regularity;                   // 0..1, 1 = metronomic beats
  double percussion;                   // dB of the beat pulses
  bool major;                          // mode
  int key;                             // 0..11 (C..B)
  int chord_beats;                     // beats per chord
  double tonality;                     // 0..1 chroma peakedness
  double loudness;                     // 0..1 compression and brightness
  double dynamics;                     // dB of slow level changes
};

struct ClipFrames {
  int64_t frames_min, frames_max;  // T of the full clip
  int64_t beats_min, beats_max;    // B of the beat-synchronised clip (<= frames_min)
};

struct SynthClip {
  int64_t frames = 0, beats = 0;
  std::vector<double> full;         // (140, frames)
  std::vector<double> beat;         // (140, beats)
  std::array<double, 3> targets{};  // valence, energy, danceability
  ClipStyle style{};
};

// Draws a clip's style around the genre's (one of the 20 raw genres; throws otherwise).
ClipStyle draw_style(const std::string& genre, uint64_t seed);

// Synthesises the clip of a style; `seed` drives every random choice.
SynthClip synthesize_clip(const ClipStyle& style, const ClipFrames& frames, uint64_t seed);

}  // namespace melgrad::data
