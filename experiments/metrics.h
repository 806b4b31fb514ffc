// Evaluation metrics of the study: accuracy, per-class precision/recall/F1 with macro and
// weighted averages and the confusion matrix (as scikit-learn's classification_report,
// zero_division = 0); Spearman's rank correlation with average ranks for ties and the
// two-sided p-value of scipy.stats.spearmanr (Student t with n - 2 degrees of freedom).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace melgrad::metrics {

struct ClassificationReport {
  std::vector<std::string> classes;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;  // true samples per class
  double accuracy = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double weighted_precision = 0, weighted_recall = 0, weighted_f1 = 0;

  nlohmann::json to_json() const;
  std::string to_text() const;  // a table like sklearn's, plus the confusion matrix
};

// truth and predicted hold class indices in [0, classes.size()).
ClassificationReport classification_report(const std::vector<int64_t>& truth,
                                           const std::vector<int64_t>& predicted,
                                           const std::vector<std::string>& classes);

struct SpearmanResult {
  double rho = 0;
  double pvalue = 1;
  int64_t n = 0;
};

// NaN rho and p when either input is constant (as scipy).
SpearmanResult spearman(const std::vector<double>& x, const std::vector<double>& y);
// 1-based ranks, ties get the average of their positions.
std::vector<double> average_ranks(const std::vector<double>& v);
// P(T > t) for Student's t with df degrees of freedom.
double student_t_sf(double t, double df);

}  // namespace melgrad::metrics
