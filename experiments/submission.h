// The course's submission step: a finished run's predictions for the unlabelled clips of the
// multitask data set's test/ folder, as the CSV the course collects:
//
//   id,valence,energy,danceability
//   1042,0.512,0.634,0.480
//   ...
//
// One row per clip of test/ (in numeric id order, as data::scan_subset lists them), ids as in the
// data set (the file name up to its first '.'), the columns in that order whatever the run's
// target order. The run must predict all three attributes (a `multitask` run, or any
// regression run whose targets include them); its inputs are prepared as in training (its
// features, its standardisation statistics, padding/cropping to its network's frames).
// `melgrad submit` (commands/submit.cpp) is the command line; predict can call the same
// function.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/device.h"

namespace melgrad::experiments {

struct SubmissionOptions {
  std::string run_dir;   // a finished run: config.json + best.h5
  std::string csv_path;  // the file to write (atomically)
  std::string data_dir;  // "" = the data set config.json names
  bool force = false;    // replace csv_path when it exists
  Device device = Device::cpu();
};

struct SubmissionRow {
  std::string id;
  double valence = 0, energy = 0, danceability = 0;
};

// The rows, without writing them: loads the run's network and the data set's unlabelled
// test clips. Throws naming config.json when the run is not a regression run with the three
// attributes, and the data set's folder when test/ holds no clip.
std::vector<SubmissionRow> predict_submission_rows(const SubmissionOptions& options);

// The CSV text of `rows` (header included; numbers with 9 significant digits, enough to
// give back every float32 prediction exactly).
std::string submission_csv(const std::vector<SubmissionRow>& rows);

// predict_submission_rows + submission_csv, written to options.csv_path through a temporary
// file and a rename. Refuses (before any work) when the file exists and !options.force.
// Returns the number of rows written.
int64_t write_submission(const SubmissionOptions& options);

}  // namespace melgrad::experiments
