// CLASS_MAPPING of the study (see genres.h).
#include "datasets/genres.h"

#include <algorithm>
#include <utility>

namespace melgrad::data {

namespace {

// raw genre -> mapped class name ("" = dropped). The one table the mapping lives in.
const std::vector<std::pair<std::string, std::string>>& mapping_table() {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"Blues", "Blues"},         {"Chiptune", "Electronic"},
      {"Classical", "Classical"}, {"Electronic", "Electronic"},
      {"Folk", "Folk"},           {"Hip-Hop", "Hip-Hop"},
      {"Indie-Rock", ""},         {"International", ""},
      {"Jazz", "Jazz"},           {"Metal", "Metal"},
      {"Old-Time", ""},           {"Pop", "Pop"},
      {"Post-Punk", ""},          {"Post-Rock", "Rock"},
      {"Psych-Folk", "Folk"},     {"Psych-Rock", "Rock"},
      {"Punk", "Metal"},          {"Rock", "Rock"},
      {"Soundtrack", ""},         {"Trip-Hop", "Trip-Hop"},
  };
  return t;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

}  // namespace

const std::vector<std::string>& raw_genres() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& [raw, mapped] : mapping_table()) v.push_back(raw);
    return v;
  }();
  return names;
}

const std::vector<std::string>& genre_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& [raw, mapped] : mapping_table())
      if (!mapped.empty() && std::find(v.begin(), v.end(), mapped) == v.end()) v.push_back(mapped);
    std::sort(v.begin(), v.end());
    return v;
  }();
  return names;
}

int map_genre(const std::string& raw_name) {
  const std::string name = trim(raw_name);
  for (const auto& [raw, mapped] : mapping_table()) {
    if (raw != name) continue;
    if (mapped.empty()) return kDroppedGenre;
    const auto& classes = genre_classes();
    return static_cast<int>(std::find(classes.begin(), classes.end(), mapped) - classes.begin());
  }
  return kUnknownGenre;
}

}  // namespace melgrad::data
