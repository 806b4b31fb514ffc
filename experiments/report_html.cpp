// The study report as one self-contained HTML page: inline CSS, inline SVG figures, no
// scripts and no external assets, so it opens offline from a copied folder. Every piece
// of text from the data is escaped; every element is closed (XHTML-style), so the page
// also parses as XML.
#include <cctype>

#include "experiments/report_content.h"
#include "experiments/svg.h"

namespace melgrad::report {
namespace {

using svg::escape_xml;

const char* const kStyle = R"CSS(
:root { --ink: #1d2430; --muted: #6b7280; --line: #e3e6ea; --ours: #eef5fc; --pub: #fdf6e7;
        --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #f5f6f8;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
.page { max-width: 1320px; margin: 0 auto; padding: 24px 28px 48px; }
header.top { background: #fff; border: 1px solid var(--line); border-radius: 10px;
             padding: 20px 24px; margin-bottom: 18px; }
h1 { margin: 0 0 12px; font-size: 26px; letter-spacing: -0.01em; }
h2 { font-size: 21px; margin: 0 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 0; display: inline; }
.banner { border-radius: 8px; padding: 12px 16px; font-weight: 600; margin-bottom: 14px; }
.banner.synthetic { background: #fff4e0; border: 2px solid #e69500; color: #7a4a00; }
.banner.real { background: #e8f6ec; border: 2px solid #2e9b4f; color: #17532a; }
.banner.unknown { background: #fde8e8; border: 2px solid #c33; color: #7a1d1d; }
table { border-collapse: collapse; margin: 10px 0 6px; background: #fff; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
tbody tr:nth-child(even) td { background-color: #fafbfc; }
td:first-child:not(.num) { min-width: 11em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.na { color: #9aa0a6; font-style: italic; }
td.best { font-weight: 700; color: #17532a; }
td.ours, th.ours { background-color: var(--ours) !important; }
td.pub, th.pub { background-color: var(--pub) !important; }
table.facts td, table.facts th { border: none; padding: 2px 16px 2px 0; background: none !important; }
table.facts th { color: var(--muted); font-weight: 500; }
nav.toc { margin: 0 0 18px; font-size: 14px; }
nav.toc a { display: inline-block; margin: 0 6px 6px 0; padding: 3px 10px; border-radius: 14px;
            background: #fff; border: 1px solid var(--line); color: var(--accent); text-decoration: none; }
section.report { background: #fff; border: 1px solid var(--line); border-radius: 10px;
                 padding: 18px 20px; margin-bottom: 18px; overflow-x: auto; }
details.run { border-top: 1px solid var(--line); padding: 10px 0 4px; margin-top: 10px; }
details.run > summary { cursor: pointer; padding: 2px 0; }
p.note { color: #8a5a00; background: #fffaf0; border-left: 3px solid #e6a23c; padding: 4px 10px;
         margin: 6px 0; font-size: 14px; }
p.foot { color: var(--muted); font-size: 13px; margin: 2px 0; }
div.figs { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 14px; margin: 10px 0; }
figure { margin: 0; padding: 8px; border: 1px solid var(--line); border-radius: 8px; background: #fff;
         max-width: 100%; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; width: 0; min-width: 100%; }
footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 24px; }
)CSS";

void render_table(std::string& out, const Table& t) {
  out += "<table>\n<thead><tr>";
  for (size_t c = 0; c < t.header.size(); ++c) {
    const std::string cls = c < t.column_class.size() ? t.column_class[c] : "";
    out +=
        (cls.empty() ? "<th>" : "<th class=\"" + cls + "\">") + escape_xml(t.header[c]) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) {
      std::string cls = row[c].style;
      if (c < t.column_class.size() && !t.column_class[c].empty())
        cls += (cls.empty() ? "" : " ") + t.column_class[c];
      std::string text = escape_xml(row[c].text);
      if (!row[c].link.empty())
        text = "<a href=\"#" + escape_xml(row[c].link) + "\">" + text + "</a>";
      out += (cls.empty() ? "<td>" : "<td class=\"" + cls + "\">") + text + "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  for (const std::string& f : t.footnotes) out += "<p class=\"foot\">" + escape_xml(f) + "</p>\n";
}

void render_blocks(std::string& out, const std::vector<Block>& blocks) {
  for (const Block& b : blocks) {
    if (const auto* p = std::get_if<Paragraph>(&b)) {
      out += std::string(p->note ? "<p class=\"note\">" : "<p>") + escape_xml(p->text) + "</p>\n";
    } else if (const auto* t = std::get_if<Table>(&b)) {
      if (!t->markdown_only) render_table(out, *t);
    } else if (const auto* figs = std::get_if<FigureRow>(&b)) {
      out += "<div class=\"figs\">\n";
      for (const Figure& f : *figs)
        out += "<figure>\n" + f.svg + "\n<figcaption>" + escape_xml(f.caption) +
               "</figcaption>\n</figure>\n";
      out += "</div>\n";
    }
  }
}

std::string banner_class(const DatasetInfo& d) {
  if (!d.known) return "unknown";
  return d.synthetic ? "synthetic" : "real";
}

}  // namespace

std::string render_html(const ReportContent& c) {
  std::string out;
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  out += "<title>" +
         escape_xml(c.title + " — " +
                    (c.dataset.name.empty() ? "data set not recorded" : c.dataset.name)) +
         "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<div class=\"page\">\n";
  out += "<header class=\"top\">\n<h1>" + escape_xml(c.title) + "</h1>\n";
  out += "<div class=\"banner " + banner_class(c.dataset) + "\" id=\"dataset-label\">" +
         escape_xml(c.dataset_label) + "</div>\n<table class=\"facts\">\n<tbody>\n";
  for (const auto& [label, value] : c.facts)
    out += "<tr><th>" + escape_xml(label) + "</th><td>" + escape_xml(value) + "</td></tr>\n";
  out += "</tbody>\n</table>\n</header>\n<nav class=\"toc\">\n";
  for (const Section& s : c.sections)
    out += "<a href=\"#" + escape_xml(s.id) + "\">" + escape_xml(s.title) + "</a>\n";
  out += "</nav>\n<main>\n";
  for (const Section& s : c.sections) {
    out += "<section class=\"report\" id=\"" + escape_xml(s.id) + "\">\n<h2>" +
           escape_xml(s.title) + "</h2>\n";
    render_blocks(out, s.blocks);
    for (const Section& child : s.children) {
      out += "<details class=\"run\" open=\"open\" id=\"" + escape_xml(child.id) +
             "\">\n<summary><h3>" + escape_xml(child.title) + "</h3></summary>\n";
      render_blocks(out, child.blocks);
      out += "</details>\n";
    }
    out += "</section>\n";
  }
  out += "</main>\n<footer>Written by melgrad (" + escape_xml(c.remake) +
         " re-renders it). "
         "Self-contained: no scripts, no external files.</footer>\n</div>\n</body>\n</html>\n";
  return out;
}

}  // namespace melgrad::report
