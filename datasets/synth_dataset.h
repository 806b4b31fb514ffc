// The embedded default data set: a synthetic patreco3 with the real layout, file names,
// quirks and counts (see docs/DATASET.md), written from a seed.
//
// Sizes
//   full   the real counts (genre 3069 train + 765 test clips in 20 genres -> 2305 / 575
//          after CLASS_MAPPING; multitask 1122 labelled + 375 unlabelled) and real lengths
//          (T 1291–1293 full, 29–129 beat-synced); ~8 GB of float64 on disk.
//   small  1/8 of the genre counts (383 + 97 clips -> 288 / 72 after mapping) and 1/4 of
//          the multitask counts (280 + 94), with short sequences (T 128–160 full, 24–40
//          beat) so that the whole study runs in about 15 minutes on 2 CPU cores.
//   short_arrays (option): the counts of the chosen size with tiny arrays (T 3–5, B 1–3),
//          for tests that check counts and layout cheaply.
// Quirks reproduced: genre label rows name "ID.fused.full.npy.gz" while the file is
// "ID.fused.full.npy"; ~15 % of genre test rows say "ID.full.fused.npy.gz"; beat label
// rows say "ID.beatsync.fused.npy"; ~2 % of the files really are gzip (.npy.gz); arrays
// are float64 (140, T); multitask rows use bare ids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/patreco3.h"

namespace melgrad::data {

constexpr int kGeneratorVersion = 1;  // bump when the output changes for a given seed

enum class DatasetSize { small, full };
DatasetSize parse_dataset_size(const std::string& name);  // "small" | "full"
std::string dataset_size_name(DatasetSize size);

struct GenreCount {
  std::string genre;  // raw genre
  int64_t train, test;
};
std::vector<GenreCount> genre_counts(DatasetSize size);
int64_t multitask_count(DatasetSize size, bool labelled);

struct SynthOptions {
  DatasetSize size = DatasetSize::small;
  uint64_t seed = 42;
  bool short_arrays = false;
  int threads = 0;
  Progress progress = Progress::automatic;
};

struct SynthSummary {
  int64_t genre_clips = 0, multitask_clips = 0, files = 0;
  uint64_t bytes = 0;
  double seconds = 0;
};

// Writes the data set to `out_dir`, which must not exist or be empty. Generation happens in
// "<out_dir>.tmp-<pid>" renamed into place at the end, so an interrupted run leaves no
// half data set under `out_dir`.
SynthSummary make_dataset(const std::string& out_dir, const SynthOptions& options);

}  // namespace melgrad::data
