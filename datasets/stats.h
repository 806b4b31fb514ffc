// `melgrad data-stats`: what a data folder holds, without loading the arrays. For each
// sub-set: clips per class (genre) or clips (multitask) per split after CLASS_MAPPING and
// the seeded split (splits.h), sequence lengths (read from the .npy headers), label rows
// skipped for a missing file, rows dropped by CLASS_MAPPING, gzip and unlisted files.
//
// JSON (data_stats_json): {"data_dir", "seed", "genre", "genre_beat", "multitask",
// "multitask_beat"}; a genre sub-set holds "train", "val", "test" (class -> count), a
// multitask sub-set "train", "val", "test", "unlabelled" (counts); each also has
// "lengths" (split -> {count, min, max, mean, median}), "skipped" (list of {file, line,
// id, reason}), "dropped_by_mapping" ({train, test}: genre -> rows), "gzip_files" and
// "unlisted_files".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "datasets/patreco3.h"

namespace melgrad::data {

struct LengthStats {
  int64_t count = 0, min = 0, max = 0;
  double mean = 0, median = 0;
};

struct SubsetStats {
  Subset subset = Subset::genre;
  std::vector<std::string> split_names;                           // train, val, test[, unlabelled]
  std::map<std::string, int64_t> counts;                          // split -> clips
  std::map<std::string, std::map<std::string, int64_t>> classes;  // split -> class -> clips (genre)
  std::map<std::string, LengthStats> lengths;                     // split -> T statistics
  std::vector<SkippedRow> skipped;
  std::map<std::string, int64_t> dropped_train, dropped_test;
  int64_t gzip_files = 0, unlisted_files = 0;
};

struct DataStats {
  std::string data_dir;
  uint64_t seed = 42;
  std::vector<SubsetStats> subsets;  // the four, in kAllSubsets order
};

// Header-only scan of the four sub-sets (corrupt headers, wrong shapes and truncated
// uncompressed files are DataErrors naming the file; `strict` makes missing files errors).
DataStats compute_data_stats(const std::string& data_dir, uint64_t seed = 42, bool strict = false,
                             int threads = 0);

std::string data_stats_json(const DataStats& stats);
std::string data_stats_text(const DataStats& stats);

}  // namespace melgrad::data
