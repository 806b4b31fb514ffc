// Reading rows of the Markdown tables the report writes (report_markdown.cpp), for tests.
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace e2e {

// The line of `text` that contains `needle` ("" when none).
inline std::string line_with(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) return "";
  const size_t begin = text.rfind('\n', at) + 1, end = text.find('\n', at);
  return text.substr(begin, end - begin);
}

// The trimmed cells of a Markdown table row.
inline std::vector<std::string> cells_of(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream in(row);
  std::string cell;
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) {
    const size_t b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
    out.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
  }
  return out;
}

inline bool has_cell(const std::string& row, const std::string& cell) {
  const std::vector<std::string> cells = cells_of(row);
  return std::find(cells.begin(), cells.end(), cell) != cells.end();
}

}  // namespace e2e
