// Label files of the patreco3 data set, parsed as they really are:
//   genre:      tab-separated, header "Id<TAB>Genre", rows "1042.fused.full.npy.gz<TAB>Blues"
//               (the suffix of the name is not trusted: the clip id is the text before the
//               first '.', and the file on disk is found by that id);
//   multitask:  comma-separated, header "Id,valence,energy,danceability" (columns found by
//               name, any order, any case), bare ids, values in [0, 1].
// CRLF line ends, surrounding blanks and empty lines are tolerated. Malformed rows, unknown
// genres, duplicate ids and out-of-range values are DataErrors naming file, line and id.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace melgrad::data {

struct GenreLabelRow {
  int64_t line = 0;   // 1-based line in the label file
  std::string name;   // the file name the row claims, e.g. "1042.fused.full.npy.gz"
  std::string id;     // "1042"
  std::string genre;  // raw genre, e.g. "Psych-Rock"
  int label = -1;     // class index after CLASS_MAPPING, or kDroppedGenre
};

struct MultitaskLabelRow {
  int64_t line = 0;
  std::string name;  // the Id field as written (a bare id in the real files)
  std::string id;
  std::array<float, 3> targets{};  // valence, energy, danceability
};

// The clip id of a file or label name: the text before the first '.' ("1042.fused.full.npy" ->
// "1042").
std::string clip_id_of(const std::string& name);

std::vector<GenreLabelRow> read_genre_labels(const std::string& path);
std::vector<MultitaskLabelRow> read_multitask_labels(const std::string& path);

}  // namespace melgrad::data
