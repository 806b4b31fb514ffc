// Classification and rank-correlation metrics (see metrics.h).
#include "experiments/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace melgrad::metrics {

ClassificationReport classification_report(const std::vector<int64_t>& truth,
                                           const std::vector<int64_t>& predicted,
                                           const std::vector<std::string>& classes) {
  if (truth.size() != predicted.size())
    throw std::invalid_argument("classification_report: " + std::to_string(truth.size()) +
                                " labels but " + std::to_string(predicted.size()) + " predictions");
  if (truth.empty()) throw std::invalid_argument("classification_report: no samples");
  const size_t C = classes.size();
  ClassificationReport r;
  r.classes = classes;
  r.confusion.assign(C, std::vector<int64_t>(C, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] < 0 || size_t(truth[i]) >= C || predicted[i] < 0 || size_t(predicted[i]) >= C)
      throw std::invalid_argument("classification_report: class index out of range at sample " +
                                  std::to_string(i));
    ++r.confusion[truth[i]][predicted[i]];
  }
  int64_t correct = 0;
  const double n = double(truth.size());
  for (size_t c = 0; c < C; ++c) {
    int64_t tp = r.confusion[c][c], actual = 0, predicted_c = 0;
    for (size_t k = 0; k < C; ++k) {
      actual += r.confusion[c][k];
      predicted_c += r.confusion[k][c];
    }
    correct += tp;
    double p = predicted_c ? double(tp) / predicted_c : 0.0;
    double rc = actual ? double(tp) / actual : 0.0;
    double f = p + rc > 0 ? 2 * p * rc / (p + rc) : 0.0;
    r.precision.push_back(p);
    r.recall.push_back(rc);
    r.f1.push_back(f);
    r.support.push_back(actual);
    r.macro_precision += p / C;
    r.macro_recall += rc / C;
    r.macro_f1 += f / C;
    r.weighted_precision += p * actual / n;
    r.weighted_recall += rc * actual / n;
    r.weighted_f1 += f * actual / n;
  }
  r.accuracy = correct / n;
  return r;
}

nlohmann::json ClassificationReport::to_json() const {
  nlohmann::json per_class = nlohmann::json::object();
  for (size_t c = 0; c < classes.size(); ++c)
    per_class[classes[c]] = {
        {"precision", precision[c]}, {"recall", recall[c]}, {"f1", f1[c]}, {"support", support[c]}};
  return {
      {"accuracy", accuracy},
      {"macro_avg", {{"precision", macro_precision}, {"recall", macro_recall}, {"f1", macro_f1}}},
      {"weighted_avg",
       {{"precision", weighted_precision}, {"recall", weighted_recall}, {"f1", weighted_f1}}},
      {"per_class", per_class},
      {"classes", classes},
      {"confusion_matrix", confusion}};
}

std::string ClassificationReport::to_text() const {
  std::ostringstream s;
  char line[160];
  std::snprintf(line, sizeof line, "%14s %9s %9s %9s %9s\n", "", "precision", "recall", "f1",
                "support");
  s << line;
  int64_t total = 0;
  for (size_t c = 0; c < classes.size(); ++c) {
    std::snprintf(line, sizeof line, "%14s %9.3f %9.3f %9.3f %9lld\n", classes[c].c_str(),
                  precision[c], recall[c], f1[c], (long long)support[c]);
    s << line;
    total += support[c];
  }
  std::snprintf(line, sizeof line, "\n%14s %9s %9s %9.3f %9lld\n", "accuracy", "", "", accuracy,
                (long long)total);
  s << line;
  std::snprintf(line, sizeof line, "%14s %9.3f %9.3f %9.3f %9lld\n", "macro avg", macro_precision,
                macro_recall, macro_f1, (long long)total);
  s << line;
  std::snprintf(line, sizeof line, "%14s %9.3f %9.3f %9.3f %9lld\n", "weighted avg",
                weighted_precision, weighted_recall, weighted_f1, (long long)total);
  s << line << "\nconfusion matrix (rows: true, columns: predicted)\n";
  for (size_t c = 0; c < classes.size(); ++c) {
    std::snprintf(line, sizeof line, "%14s", classes[c].c_str());
    s << line;
    for (int64_t v : confusion[c]) {
      std::snprintf(line, sizeof line, " %5lld", (long long)v);
      s << line;
    }
    s << "\n";
  }
  return s.str();
}

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (double(i) + double(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = avg;
    i = j + 1;
  }
  return ranks;
}

// Continued fraction of the regularised incomplete beta function (modified Lentz).
static double beta_continued_fraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-16;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < eps) break;
  }
  return h;
}

static double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * beta_continued_fraction(a, b, x) / a;
  return 1 - std::exp(log_front) * beta_continued_fraction(b, a, 1 - x) / b;
}

double student_t_sf(double t, double df) {
  const double x = df / (df + t * t);
  const double tail = 0.5 * incomplete_beta(df / 2, 0.5, x);
  return t >= 0 ? tail : 1 - tail;
}

SpearmanResult spearman(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw std::invalid_argument("spearman: " + std::to_string(x.size()) + " and " +
                                std::to_string(y.size()) + " values");
  if (x.size() < 2) throw std::invalid_argument("spearman: need at least 2 pairs");
  for (size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
      throw std::invalid_argument("spearman: non-finite value at index " + std::to_string(i));
  std::vector<double> rx = average_ranks(x), ry = average_ranks(y);
  const double n = double(x.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n;
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  SpearmanResult r;
  r.n = int64_t(x.size());
  if (sxx == 0 || syy == 0) {
    r.rho = r.pvalue = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  r.rho = std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
  const double df = n - 2;
  if (df <= 0 || std::abs(r.rho) >= 1) {
    r.pvalue = df <= 0 ? 1.0 : 0.0;
    return r;
  }
  const double t = r.rho * std::sqrt(df / ((1 - r.rho) * (1 + r.rho)));
  r.pvalue = 2 * student_t_sf(std::abs(t), df);
  return r;
}

}  // namespace melgrad::metrics
