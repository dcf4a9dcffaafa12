// A strict reader of the Prometheus text exposition format (0.0.4) for tests: it parses what
// RenderPrometheus writes and reports every deviation from the format as an error, so a test can
// assert "parses cleanly" and then look samples up by name and labels.
//
// Checked: "# HELP name text" and "# TYPE name type" (type one of counter, gauge, histogram,
// summary, untyped), at most one of each per family and both before the family's samples;
// sample lines "name{label="value",...} value" with metric and label names of the format's
// alphabet, label values with only the \\, \" and \n escapes, a value that parses whole as a
// double (or +Inf, -Inf, NaN); every sample belongs to the family last declared (its name, or
// for a histogram the name plus _bucket, _sum or _count); no family is declared twice; no two
// samples share name and labels; the text ends with a newline.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longlink::admin::testing {

using Labels = std::map<std::string, std::string>;

struct ExpositionFamily {
  std::string name;
  std::string type;
  std::string help;
  int help_lines = 0;
  int type_lines = 0;
};

struct ExpositionSample {
  std::string family;
  std::string name;
  Labels labels;
  double value = 0;
  std::string value_text;  // As written.
};

struct Exposition {
  std::vector<ExpositionFamily> families;  // In order of first appearance.
  std::vector<ExpositionSample> samples;   // In order.
  std::vector<std::string> errors;         // "line 12: ...".

  const ExpositionFamily* Family(std::string_view name) const;
  // Samples of metric `name` whose labels include every pair of `subset`.
  std::vector<const ExpositionSample*> Find(std::string_view name, const Labels& subset = {}) const;
  // The value of the only sample of `name` with labels including `subset`; nullopt if none or
  // more than one.
  std::optional<double> Value(std::string_view name, const Labels& subset = {}) const;
};

Exposition ParseExposition(std::string_view text);

}  // namespace longlink::admin::testing
