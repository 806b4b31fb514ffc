// The study report in Markdown: the same header, paragraphs and tables as the HTML page
// (figures left out), with table columns padded so that it also reads well in a terminal.
#include <algorithm>

#include "experiments/report_content.h"

namespace melgrad::report {
namespace {

// Characters as a terminal shows them: UTF-8 code points (ρ, ≈, — are one column each).
size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Text from the data as Markdown: '<' backslash-escaped so that no renderer reads it as
// an HTML tag (the terminal still shows it plainly).
std::string inline_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "\\<";
    else if (c == '\n' || c == '\r')
      out += ' ';
    else
      out += c;
  }
  return out;
}

std::string cell_text(const std::string& text) {
  std::string out;
  for (char c : inline_text(text)) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out.empty() ? " " : out;
}

void render_table(std::string& out, const Table& t) {
  const size_t columns = t.header.size();
  std::vector<std::vector<std::string>> text(t.rows.size() + 1);
  for (const std::string& h : t.header) text[0].push_back(cell_text(h));
  for (size_t r = 0; r < t.rows.size(); ++r)
    for (size_t c = 0; c < columns; ++c)
      text[r + 1].push_back(cell_text(c < t.rows[r].size() ? t.rows[r][c].text : ""));
  std::vector<size_t> width(columns, 3);
  std::vector<bool> numeric(columns, false);
  for (size_t c = 0; c < columns; ++c) {
    size_t numbers = 0, filled = 0;
    for (size_t r = 0; r < t.rows.size(); ++r)
      if (c < t.rows[r].size() && !t.rows[r][c].text.empty()) {
        ++filled;
        numbers += t.rows[r][c].style == "num" || t.rows[r][c].style == "na";
      }
    numeric[c] = filled > 0 && 2 * numbers >= filled;
    for (const auto& row : text) width[c] = std::max(width[c], display_width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    out += "|";
    for (size_t c = 0; c < columns; ++c) {
      const std::string pad(width[c] - display_width(cells[c]), ' ');
      out += " " + (numeric[c] ? pad + cells[c] : cells[c] + pad) + " |";
    }
    out += "\n";
  };
  line(text[0]);
  out += "|";
  for (size_t c = 0; c < columns; ++c)
    out += " " + std::string(width[c] - 1, '-') + (numeric[c] ? ":" : "-") + " |";
  out += "\n";
  for (size_t r = 1; r < text.size(); ++r) line(text[r]);
  out += "\n";
  for (const std::string& f : t.footnotes) out += "_" + inline_text(f) + "_\n\n";
}

void render_blocks(std::string& out, const std::vector<Block>& blocks) {
  for (const Block& b : blocks) {
    if (const auto* p = std::get_if<Paragraph>(&b)) {
      out += (p->note ? "> " : "") + inline_text(p->text) + "\n\n";
    } else if (const auto* t = std::get_if<Table>(&b)) {
      render_table(out, *t);
    }  // figures: HTML only
  }
}

}  // namespace

std::string render_markdown(const ReportContent& c) {
  std::string out =
      "# " + inline_text(c.title) + "\n\n> **" + inline_text(c.dataset_label) + "**\n\n";
  Table facts;
  facts.header = {"", ""};
  for (const auto& [label, value] : c.facts) facts.rows.push_back({{label, ""}, {value, ""}});
  render_table(out, facts);
  out +=
      "Plots (learning curves, confusion matrices, scatter plots) are in " + c.html_name + ".\n\n";
  for (const Section& s : c.sections) {
    out += "## " + inline_text(s.title) + "\n\n";
    render_blocks(out, s.blocks);
    for (const Section& child : s.children) {
      out += "### " + inline_text(child.title) + "\n\n";
      render_blocks(out, child.blocks);
    }
  }
  return out;
}

}  // namespace melgrad::report
