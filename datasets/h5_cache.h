// The HDF5 cache of loaded sub-sets, so that a second run starts in seconds.
//
// One file per sub-set and data folder: <cache_dir>/<subset key>-<16 hex digits of the
// absolute sub-folder path>.h5, written atomically (temp file + rename). Contents, all
// float32 values fused (140 bands, so any feature selection reads from the same file):
//   values   float32 [total_frames, 140]   clips concatenated along time, [T, 140] each
//   offsets  int64   [N + 1]               clip i is rows offsets[i] .. offsets[i+1]
//   labels   int64   [N]                   genre class or -1
//   targets  float32 [N, 3]                valence, energy, danceability (NaN = none)
//   clips    uint8   text, one line per clip: id TAB source(0/1) TAB label_line TAB path
//   skipped  uint8   text, one line per skipped row: file TAB line TAB id TAB reason
//   fingerprint uint8 text; format uint8 text ("melgrad-h5-cache v2")
//   checksums uint8 text, one line per table: name SPACE CRC-32 in 8 hex digits, for
//               offsets, labels, targets, clips, skipped and values (the float32 bytes of
//               every clip in order)
// The fingerprint hashes the names, sizes and modification times (ns) of the label files
// and of every file in train/ and test/; any change invalidates the cache. The checksums
// are checked on every read: a damaged table (bit flips, edited values) fails the read and
// the caller rebuilds the cache.
#pragma once

#include <string>

#include "datasets/patreco3.h"

namespace melgrad::data {

// Hex digest over the label files and the train/ and test/ listings of `root`.
std::string subset_fingerprint(const std::string& root);

// <cache_dir>/<key>-<hash of absolute root>.h5
std::string cache_file_for(const std::string& cache_dir, const std::string& root, Subset subset);

// Fills `out` (clips narrowed to `features`) from the cache file when it exists, was
// written by this version, has the same fingerprint and passes its checksums; returns
// false otherwise (the caller then reloads and rewrites it). When the file is there but
// unreadable or damaged, `damage` (if given) says what is wrong, naming the table.
bool read_h5_cache(const std::string& file, const std::string& fingerprint, Features features,
                   SubsetData& out, std::string* damage = nullptr);

// Writes fused data (feature_dim 140) atomically; throws DataError on failure.
void write_h5_cache(const std::string& file, const std::string& fingerprint, const SubsetData& fused);

}  // namespace melgrad::data
