// The experiment kinds (experiments/experiment.h): each names its command, parses back from
// config.json's "command", and picks the data sub-set (genre: the genre sub-set; the
// regression kinds: the multitask sub-set; full or beat-synchronised); a name that is no
// kind is an error naming the place and the value.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "experiments/experiment.h"

using namespace melgrad;
using namespace melgrad::experiments;

TEST_CASE("experiment kinds: names round-trip through config.json's command") {
  for (ExperimentKind kind : {ExperimentKind::genre, ExperimentKind::regress,
                              ExperimentKind::transfer, ExperimentKind::multitask}) {
    const std::string name = experiment_kind_name(kind);
    CHECK(parse_experiment_kind(name, "test") == kind);
    CHECK(experiment_kind_of(nlohmann::json{{"command", name}}) == kind);
  }
  CHECK(experiment_kind_name(ExperimentKind::regress) == "regress");
}

TEST_CASE("experiment kinds: the data sub-set follows the kind and the beat flag") {
  CHECK(subset_for(ExperimentKind::genre, false) == data::Subset::genre);
  CHECK(subset_for(ExperimentKind::genre, true) == data::Subset::genre_beat);
  for (ExperimentKind kind :
       {ExperimentKind::regress, ExperimentKind::transfer, ExperimentKind::multitask}) {
    CHECK(subset_for(kind, false) == data::Subset::multitask);
    CHECK(subset_for(kind, true) == data::Subset::multitask_beat);
  }
}

TEST_CASE("experiment kinds: an unknown name names where it came from and the value") {
  try {
    experiment_kind_of(nlohmann::json{{"command", "Genre"}});
    FAIL("no error for command 'Genre'");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("config.json field 'command'") != std::string::npos);
    CHECK(what.find("'Genre'") != std::string::npos);
  }
}
