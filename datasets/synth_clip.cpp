// Synthetic clip generation: genre styles, spectrogram, beat sync and targets (see synth_clip.h).
#include "datasets/synth_clip.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "datasets/rng.h"

namespace melgrad::data {

namespace {

constexpr int kMel = 128, kChroma = 12, kRows = 140;

// Genre centre values. Sub-genres merged by CLASS_MAPPING sit near each other; dropped genres
// sit between the kept ones. Columns: centroid, width, tilt, bass, tempo, regularity,
// percussion, P(major), beats per chord, tonality, loudness, dynamics.
struct GenreStyle {
  const char* name;
  double centroid, width, tilt, bass, tempo, regularity, percussion, major, chord_beats, tonality,
      loudness, dynamics;
};
constexpr GenreStyle kStyles[] = {
    {"Blues", 40, 30, 30, 6, 0.35, 0.60, 8, 0.45, 4, 0.70, 0.45, 8},
    {"Chiptune", 78, 25, 16, 3, 0.72, 0.95, 10, 0.70, 2, 0.85, 0.70, 4},
    {"Classical", 50, 34, 36, 0, 0.30, 0.20, 1, 0.60, 4, 0.90, 0.15, 14},
    {"Electronic", 62, 44, 20, 12, 0.66, 0.95, 14, 0.50, 8, 0.50, 0.75, 4},
    {"Folk", 45, 25, 32, 2, 0.40, 0.50, 4, 0.70, 4, 0.80, 0.35, 8},
    {"Hip-Hop", 30, 34, 28, 16, 0.45, 0.90, 16, 0.35, 8, 0.40, 0.70, 5},
    {"Indie-Rock", 55, 35, 24, 7, 0.55, 0.70, 10, 0.60, 4, 0.60, 0.60, 7},
    {"International", 50, 35, 28, 5, 0.50, 0.60, 8, 0.55, 4, 0.70, 0.50, 8},
    {"Jazz", 46, 40, 30, 4, 0.50, 0.40, 6, 0.50, 1, 0.45, 0.35, 10},
    {"Metal", 76, 40, 14, 10, 0.80, 0.75, 14, 0.25, 4, 0.40, 0.95, 3},
    {"Old-Time", 40, 20, 38, 2, 0.55, 0.50, 5, 0.80, 4, 0.80, 0.30, 9},
    {"Pop", 55, 30, 24, 9, 0.55, 0.85, 10, 0.75, 4, 0.75, 0.65, 5},
    {"Post-Punk", 60, 35, 22, 8, 0.65, 0.75, 11, 0.35, 4, 0.55, 0.70, 6},
    {"Post-Rock", 56, 40, 26, 6, 0.48, 0.62, 9, 0.50, 8, 0.65, 0.58, 11},
    {"Psych-Folk", 49, 29, 30, 3, 0.42, 0.45, 4, 0.62, 4, 0.72, 0.40, 9},
    {"Psych-Rock", 60, 38, 23, 7, 0.56, 0.66, 10, 0.45, 4, 0.60, 0.66, 8},
    {"Punk", 71, 36, 18, 9, 0.84, 0.72, 13, 0.55, 2, 0.50, 0.90, 3},
    {"Rock", 60, 35, 22, 8, 0.60, 0.75, 11, 0.55, 4, 0.65, 0.70, 6},
    {"Soundtrack", 45, 40, 34, 4, 0.30, 0.30, 3, 0.50, 8, 0.80, 0.30, 14},
    {"Trip-Hop", 35, 35, 30, 13, 0.30, 0.85, 12, 0.30, 8, 0.50, 0.50, 6},
};

// How far a clip strays from its genre (standard deviations of the per-clip draw). These,
// with the noise below, set how hard the task is: tuned so a nearest-centroid baseline on
// time-averaged features lands well above chance and well below 100 % (tests/data).
constexpr double kSpread = 1.0;
constexpr double kCellNoiseDb = 4.0;

double clamp01(double x) { return std::clamp(x, 0.0, 1.0); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Krumhansl–Kessler key profiles (tonic first).
constexpr double kMajorProfile[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09,
                                      2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
constexpr double kMinorProfile[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53,
                                      2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

// Mel band (fractional) of a frequency: 128 bands equally spaced in HTK mel over 0..11025 Hz.
double band_of_hz(double f) {
  const double top = 2595.0 * std::log10(1.0 + 11025.0 / 700.0);
  return 2595.0 * std::log10(1.0 + f / 700.0) / top * (kMel + 1) - 1.0;
}

struct Chord {
  int root;
  int third;  // 3 (minor) or 4 (major) semitones
};

// Beat boundaries b_0 = 0 < b_1 < ... < b_B = T, spaced T/B with jitter from irregularity.
std::vector<int64_t> beat_boundaries(int64_t T, int64_t B, double regularity, Rng& rng) {
  std::vector<double> pos(static_cast<size_t>(B + 1));
  const double period = static_cast<double>(T) / static_cast<double>(B);
  for (int64_t k = 0; k <= B; ++k) pos[static_cast<size_t>(k)] = period * static_cast<double>(k);
  for (int64_t k = 1; k < B; ++k)
    pos[static_cast<size_t>(k)] += rng.normal(0.0, (1.0 - regularity) * 0.3 * period);
  std::vector<int64_t> b(static_cast<size_t>(B + 1));
  b[0] = 0;
  b[static_cast<size_t>(B)] = T;
  for (int64_t k = 1; k < B; ++k)
    b[static_cast<size_t>(k)] = std::llround(pos[static_cast<size_t>(k)]);
  // Keep boundaries strictly increasing and leave room for the ones after them.
  for (int64_t k = 1; k < B; ++k)
    b[static_cast<size_t>(k)] =
        std::clamp(b[static_cast<size_t>(k)], b[static_cast<size_t>(k - 1)] + 1, T - (B - k));
  return b;
}

}  // namespace

ClipStyle draw_style(const std::string& genre, uint64_t seed) {
  const GenreStyle* g = nullptr;
  for (const GenreStyle& s : kStyles)
    if (genre == s.name) g = &s;
  if (!g) throw std::invalid_argument("draw_style: unknown genre '" + genre + "'");
  Rng rng(seed);
  const double k = kSpread;
  ClipStyle s{};
  s.centroid = std::clamp(rng.normal(g->centroid, 10 * k), 10.0, 118.0);
  s.width = std::clamp(rng.normal(g->width, 7 * k), 10.0, 70.0);
  s.tilt = std::clamp(rng.normal(g->tilt, 6 * k), 5.0, 50.0);
  s.bass = std::clamp(rng.normal(g->bass, 4 * k), 0.0, 25.0);
  s.tempo = clamp01(rng.normal(g->tempo, 0.16 * k));
  s.regularity = clamp01(rng.normal(g->regularity, 0.16 * k));
  s.percussion = std::clamp(rng.normal(g->percussion, 4 * k), 0.0, 25.0);
  s.major = rng.uniform() < g->major;
  s.key = static_cast<int>(rng.below(12));
  const double cb = std::clamp(rng.normal(std::log2(g->chord_beats), 0.7 * k), 0.0, 3.0);
  s.chord_beats = 1 << static_cast<int>(std::lround(cb));
  s.tonality = clamp01(rng.normal(g->tonality, 0.15 * k));
  s.loudness = clamp01(rng.normal(g->loudness, 0.15 * k));
  s.dynamics = std::clamp(rng.normal(g->dynamics, 3 * k), 1.0, 20.0);
  return s;
}

SynthClip synthesize_clip(const ClipStyle& s, const ClipFrames& shape, uint64_t seed) {
  Rng rng(seed);
  SynthClip clip;
  clip.style = s;
  const int64_t T = rng.integer(shape.frames_min, shape.frames_max);
  const int64_t B = std::clamp<int64_t>(
      std::llround(static_cast<double>(shape.beats_min) +
                   s.tempo * static_cast<double>(shape.beats_max - shape.beats_min)),
      1, T);
  clip.frames = T;
  clip.beats = B;
  const std::vector<int64_t> bounds = beat_boundaries(T, B, s.regularity, rng);
  const double frames_per_beat = static_cast<double>(T) / static_cast<double>(B);

  // Harmony: a chord per `chord_beats` beats drawn from the key's I/IV/V/vi (or i/iv/v/VI).
  const int degrees_major[4] = {0, 5, 7, 9}, degrees_minor[4] = {0, 5, 7, 8};
  std::vector<Chord> chord_of_beat(static_cast<size_t>(B));
  Chord current{s.key, s.major ? 4 : 3};
  for (int64_t k = 0; k < B; ++k) {
    if (k % s.chord_beats == 0) {
      const int pick = k == 0 ? 0 : static_cast<int>(rng.below(4));
      const int deg = s.major ? degrees_major[pick] : degrees_minor[pick];
      const bool minor_chord = s.major ? deg == 9 : (deg == 0 || deg == 5 || deg == 7);
      current = {(s.key + deg) % 12, minor_chord ? 3 : 4};
    }
    chord_of_beat[static_cast<size_t>(k)] = current;
  }

  // Static mel envelope (dB): tilt, spectral bump, bass, brightness from loudness.
  std::array<double, kMel> envelope{};
  for (int m = 0; m < kMel; ++m) {
    const double x = m / 127.0, z = (m - s.centroid) / s.width;
    envelope[static_cast<size_t>(m)] = -s.tilt * x + 18.0 * std::exp(-0.5 * z * z) +
                                       s.bass * std::exp(-m / 8.0) + 10.0 * s.loudness * x;
  }
  // Slow level changes, compressed by loudness.
  const double p1 = static_cast<double>(T) / rng.uniform(1.0, 3.0),
               p2 = static_cast<double>(T) / rng.uniform(3.0, 8.0);
  const double ph1 = rng.uniform(0.0, 2 * M_PI), ph2 = rng.uniform(0.0, 2 * M_PI);
  const double dyn = s.dynamics * (1.0 - 0.8 * s.loudness);
  // Percussive pulse per frame: strong on beats, weaker off-beat, decaying over ~12 % of a beat.
  std::vector<double> pulse(static_cast<size_t>(T), 0.0);
  const double decay = std::max(0.6, 0.12 * frames_per_beat);
  for (int64_t k = 0; k < B; ++k) {
    const int64_t on = bounds[static_cast<size_t>(k)], next = bounds[static_cast<size_t>(k + 1)];
    const int64_t off = on + (next - on) / 2;
    for (int64_t t = on; t < next; ++t) {
      const double a = std::exp(-static_cast<double>(t - on) / decay);
      const double b = t >= off && off > on
                           ? 0.5 * s.regularity * std::exp(-static_cast<double>(t - off) / decay)
                           : 0.0;
      pulse[static_cast<size_t>(t)] = s.percussion * std::max(a, b);
    }
  }
  // Partials of each chord tone (MIDI 48..95) as bumps at their mel bands.
  auto partials = [&](const Chord& c) {
    std::array<double, kMel> p{};
    const int tones[3] = {c.root, (c.root + c.third) % 12, (c.root + 7) % 12};
    for (int midi = 48; midi < 96; ++midi) {
      const int pc = midi % 12;
      if (pc != tones[0] && pc != tones[1] && pc != tones[2]) continue;
      const double band = band_of_hz(440.0 * std::pow(2.0, (midi - 69) / 12.0));
      const double amp =
          9.0 * s.tonality * (pc == tones[0] ? 1.0 : 0.8) * (1.0 - (midi - 48) / 80.0);
      for (int m = std::max(0, static_cast<int>(band) - 3);
           m < std::min(kMel, static_cast<int>(band) + 4); ++m)
        p[static_cast<size_t>(m)] = std::max(p[static_cast<size_t>(m)],
                                             amp * std::exp(-0.5 * (m - band) * (m - band) / 0.5));
    }
    return p;
  };

  std::array<double, kMel> perc_shape{};  // kick in the low bands, broadband snare/hats
  for (int m = 0; m < kMel; ++m)
    perc_shape[static_cast<size_t>(m)] = 0.6 * std::exp(-m / 12.0) + 0.4 * (0.3 + 0.7 * m / 127.0);

  clip.full.assign(static_cast<size_t>(kRows * T), 0.0);
  auto at = [&](int row, int64_t t) -> double& {
    return clip.full[static_cast<size_t>(row * T + t)];
  };
  const double* profile = s.major ? kMajorProfile : kMinorProfile;
  int64_t beat = 0;
  std::array<double, kMel> chord_partials = partials(chord_of_beat[0]);
  for (int64_t t = 0; t < T; ++t) {
    while (beat + 1 < B && t >= bounds[static_cast<size_t>(beat + 1)]) {
      ++beat;
      const Chord& prev = chord_of_beat[static_cast<size_t>(beat - 1)];
      const Chord& now = chord_of_beat[static_cast<size_t>(beat)];
      if (prev.root != now.root || prev.third != now.third) chord_partials = partials(now);
    }
    const double level =
        dyn * (0.6 * std::sin(2 * M_PI * t / p1 + ph1) + 0.4 * std::sin(2 * M_PI * t / p2 + ph2));
    for (int m = 0; m < kMel; ++m) {
      at(m, t) = envelope[static_cast<size_t>(m)] + level +
                 pulse[static_cast<size_t>(t)] * perc_shape[static_cast<size_t>(m)] +
                 chord_partials[static_cast<size_t>(m)] + rng.normal(0.0, kCellNoiseDb);
    }
    // Chroma: chord template mixed with the key profile, plus noise; max-normalised.
    const Chord& c = chord_of_beat[static_cast<size_t>(beat)];
    double mx = 0.0;
    for (int pc = 0; pc < kChroma; ++pc) {
      const int rel = (pc - c.root + 12) % 12;
      const double tone = rel == 0 ? 1.0 : rel == c.third ? 0.8 : rel == 7 ? 0.9 : 0.0;
      const double key = profile[(pc - s.key + 12) % 12] / 6.35;
      const double v = std::max(
          0.0, s.tonality * tone + (1.0 - s.tonality) * 0.6 * key + rng.uniform(0.0, 0.35));
      at(kMel + pc, t) = v;
      mx = std::max(mx, v);
    }
    for (int pc = 0; pc < kChroma; ++pc) at(kMel + pc, t) = mx > 0 ? at(kMel + pc, t) / mx : 1.0;
  }
  // power_to_db(ref=max) and its -80 dB floor.
  double top = -1e300;
  for (int m = 0; m < kMel; ++m)
    for (int64_t t = 0; t < T; ++t) top = std::max(top, at(m, t));
  for (int m = 0; m < kMel; ++m)
    for (int64_t t = 0; t < T; ++t) at(m, t) = std::max(at(m, t) - top, -80.0);

  // Beat synchronisation: median of each row over every beat segment.
  clip.beat.assign(static_cast<size_t>(kRows * B), 0.0);
  std::vector<double> seg;
  for (int64_t k = 0; k < B; ++k) {
    const int64_t a = bounds[static_cast<size_t>(k)], b = bounds[static_cast<size_t>(k + 1)];
    for (int row = 0; row < kRows; ++row) {
      seg.assign(clip.full.begin() + row * T + a, clip.full.begin() + row * T + b);
      const size_t mid = seg.size() / 2;
      std::nth_element(seg.begin(), seg.begin() + static_cast<std::ptrdiff_t>(mid), seg.end());
      double med = seg[mid];
      if (seg.size() % 2 == 0) {
        const double lower =
            *std::max_element(seg.begin(), seg.begin() + static_cast<std::ptrdiff_t>(mid));
        med = 0.5 * (med + lower);
      }
      clip.beat[static_cast<size_t>(row * B + k)] = med;
    }
  }

  // Affective targets: noisy logistic functions of mode, loudness and beat regularity.
  const double mode = s.major ? 1.0 : -1.0;
  clip.targets[0] =
      sigmoid(1.3 * mode + 1.4 * (s.tempo - 0.5) + 1.0 * (s.tonality - 0.6) + rng.normal(0.0, 0.8));
  clip.targets[1] = sigmoid(4.0 * (s.loudness - 0.55) + 0.08 * (s.percussion - 9.0) +
                            1.5 * (s.tempo - 0.5) + rng.normal(0.0, 0.65));
  clip.targets[2] = sigmoid(4.0 * (s.regularity - 0.65) + 0.08 * (s.percussion - 9.0) +
                            1.2 * (0.5 - std::abs(s.tempo - 0.5)) - 0.3 + rng.normal(0.0, 0.65));
  return clip;
}

}  // namespace melgrad::data
