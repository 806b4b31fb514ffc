// Parsing of the genre (TSV) and multitask (CSV) label files (see labels.h).
#include "datasets/labels.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "datasets/file_io.h"
#include "datasets/genres.h"

namespace melgrad::data {

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t at = s.find(sep, start);
    out.push_back(trim(s.substr(start, at - start)));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return out;
}

// Non-empty lines with their 1-based numbers; a UTF-8 byte-order mark is dropped.
std::vector<std::pair<int64_t, std::string>> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open label file '" + path + "'");
  std::vector<std::pair<int64_t, std::string>> lines;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (n == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line = line.substr(3);
    if (!trim(line).empty()) lines.emplace_back(n, line);
  }
  if (in.bad()) throw DataError("read error on label file '" + path + "'");
  return lines;
}

std::string where(const std::string& path, int64_t line) {
  return path + " line " + std::to_string(line);
}

}  // namespace

std::string clip_id_of(const std::string& name) {
  const std::string base =
      name.substr(name.find_last_of('/') == std::string::npos ? 0 : name.find_last_of('/') + 1);
  return base.substr(0, base.find('.'));
}

std::vector<GenreLabelRow> read_genre_labels(const std::string& path) {
  const auto lines = read_lines(path);
  if (lines.empty())
    throw DataError(path + ": empty label file (expected the header 'Id<TAB>Genre')");
  const auto header = split(lines[0].second, '\t');
  if (header.size() != 2 || lower(header[0]) != "id" || lower(header[1]) != "genre")
    throw DataError(where(path, lines[0].first) + ": expected the header 'Id<TAB>Genre', found '" +
                    trim(lines[0].second) + "'");
  std::vector<GenreLabelRow> rows;
  std::map<std::string, int64_t> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto& [line_no, text] = lines[i];
    const auto fields = split(text, '\t');
    if (fields.size() != 2)
      throw DataError(where(path, line_no) +
                      ": expected 2 tab-separated fields (name, genre), found " +
                      std::to_string(fields.size()) + " in '" + trim(text) + "'");
    GenreLabelRow row;
    row.line = line_no;
    row.name = fields[0];
    row.id = clip_id_of(fields[0]);
    row.genre = fields[1];
    if (row.id.empty())
      throw DataError(where(path, line_no) + ": empty clip id in '" + row.name + "'");
    row.label = map_genre(row.genre);
    if (row.label == kUnknownGenre)
      throw DataError(where(path, line_no) + " (" + row.name + "): unknown genre '" + row.genre +
                      "' (not one of the 20 FMA genres of patreco3)");
    if (auto [it, fresh] = seen.emplace(row.id, line_no); !fresh)
      throw DataError(where(path, line_no) + ": clip id " + row.id + " already labelled on line " +
                      std::to_string(it->second));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<MultitaskLabelRow> read_multitask_labels(const std::string& path) {
  static const char* kColumns[4] = {"id", "valence", "energy", "danceability"};
  const auto lines = read_lines(path);
  if (lines.empty())
    throw DataError(path +
                    ": empty label file (expected the header 'Id,valence,energy,danceability')");
  const auto header = split(lines[0].second, ',');
  int column[4] = {-1, -1, -1, -1};
  for (size_t c = 0; c < header.size(); ++c)
    for (int k = 0; k < 4; ++k)
      if (lower(header[c]) == kColumns[k]) column[k] = static_cast<int>(c);
  for (int k = 0; k < 4; ++k)
    if (column[k] < 0)
      throw DataError(where(path, lines[0].first) + ": header lacks the column '" + kColumns[k] +
                      "' (expected 'Id,valence,energy,danceability', found '" +
                      trim(lines[0].second) + "')");
  std::vector<MultitaskLabelRow> rows;
  std::map<std::string, int64_t> seen;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto& [line_no, text] = lines[i];
    const auto fields = split(text, ',');
    if (fields.size() != header.size())
      throw DataError(where(path, line_no) + ": expected " + std::to_string(header.size()) +
                      " comma-separated fields, found " + std::to_string(fields.size()));
    MultitaskLabelRow row;
    row.line = line_no;
    row.name = fields[static_cast<size_t>(column[0])];
    row.id = clip_id_of(row.name);
    if (row.id.empty()) throw DataError(where(path, line_no) + ": empty clip id");
    for (int k = 1; k < 4; ++k) {
      const std::string& f = fields[static_cast<size_t>(column[k])];
      char* end = nullptr;
      const double v = std::strtod(f.c_str(), &end);
      // Decimal numbers only: strtod would also take "0x1p-1", "inf" and "nan".
      const bool decimal = f.find_first_not_of("0123456789.eE+-") == std::string::npos;
      if (f.empty() || !decimal || end != f.c_str() + f.size() || !std::isfinite(v) || v < 0.0 ||
          v > 1.0)
        throw DataError(where(path, line_no) + " (id " + row.id + "): field '" + kColumns[k] +
                        "' must be a number in [0, 1], found '" + f + "'");
      row.targets[static_cast<size_t>(k - 1)] = static_cast<float>(v);
    }
    if (auto [it, fresh] = seen.emplace(row.id, line_no); !fresh)
      throw DataError(where(path, line_no) + ": clip id " + row.id + " already labelled on line " +
                      std::to_string(it->second));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace melgrad::data
