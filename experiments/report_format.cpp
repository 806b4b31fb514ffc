// Number, p-value and duration formatting every section builder of the report shares
// (report_content.h): "0.431", "3.2e-05", "4 min 05 s", "n/a" for what is not finite.
#include <cmath>
#include <cstdio>

#include "experiments/report_content.h"

namespace melgrad::report {

std::string format_number(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s = s.substr(1);
  return s;
}

std::string format_pvalue(double p) {
  if (!std::isfinite(p)) return "n/a";
  char buf[64];
  if (p != 0 && p < 1e-3)
    std::snprintf(buf, sizeof buf, "%.1e", p);
  else
    std::snprintf(buf, sizeof buf, "%.3f", p);
  return buf;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "n/a";
  char buf[64];
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", seconds);
  } else if (seconds < 3600) {
    const long s = std::lround(seconds);
    std::snprintf(buf, sizeof buf, "%ld min %02ld s", s / 60, s % 60);
  } else {
    const long m = std::lround(seconds / 60);
    std::snprintf(buf, sizeof buf, "%ld h %02ld min", m / 60, m % 60);
  }
  return buf;
}

Cell number_cell(double value, int decimals) {
  return {format_number(value, decimals), std::isfinite(value) ? "num" : "na"};
}

}  // namespace melgrad::report
