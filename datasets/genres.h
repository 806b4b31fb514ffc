// The 20 FMA genres of the patreco3 data set and the study's CLASS_MAPPING onto 10 classes:
//   Rock, Psych-Rock, Post-Rock -> Rock;   Psych-Folk, Folk -> Folk;   Metal, Punk -> Metal;
//   Chiptune, Electronic -> Electronic;    Trip-Hop, Pop, Hip-Hop, Classical, Blues, Jazz keep
//   their names;   Indie-Rock, Post-Punk, Soundtrack, International, Old-Time are dropped.
// Class indices follow the alphabetical order of the 10 class names (Blues = 0 ... Trip-Hop = 9).
#pragma once

#include <string>
#include <vector>

namespace melgrad::data {

// The 20 genre names as they appear in the label files.
const std::vector<std::string>& raw_genres();
// The 10 class names after mapping, alphabetical; a label is an index into this list.
const std::vector<std::string>& genre_classes();

constexpr int kDroppedGenre = -1;  // genre known but dropped by CLASS_MAPPING
constexpr int kUnknownGenre = -2;  // not one of the 20 genres

// Class index of a raw genre name after CLASS_MAPPING, or kDroppedGenre / kUnknownGenre.
// Matching is exact after trimming surrounding blanks (the label files use these spellings).
int map_genre(const std::string& raw_name);

}  // namespace melgrad::data
