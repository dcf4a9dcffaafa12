#include "exposition_parser.h"

#include <charconv>
#include <limits>
#include <set>
#include <utility>

namespace longlink::admin::testing {
namespace {

bool IsNameStart(char c, bool metric) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}
bool IsNameChar(char c, bool metric) { return IsNameStart(c, metric) || (c >= '0' && c <= '9'); }

// Reads a name at `text[pos]`, advancing pos; empty if none.
std::string ReadName(std::string_view text, std::size_t& pos, bool metric) {
  const std::size_t start = pos;
  if (pos < text.size() && IsNameStart(text[pos], metric)) {
    ++pos;
    while (pos < text.size() && IsNameChar(text[pos], metric)) ++pos;
  }
  return std::string(text.substr(start, pos - start));
}

std::optional<double> ParseValue(std::string_view text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text.empty() || text[0] == '+' || text == "inf" || text == "nan") return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool BelongsTo(const ExpositionFamily& family, std::string_view name) {
  if (name == family.name) return family.type != "histogram";
  if (family.type != "histogram" || !name.starts_with(family.name)) return false;
  const std::string_view suffix = name.substr(family.name.size());
  return suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
}

class Parser {
 public:
  explicit Parser(Exposition& out) : out_(out) {}

  void Line(std::size_t number, std::string_view line) {
    number_ = number;
    if (line.empty()) return Error("empty line");
    if (line[0] == '#') return Comment(line);
    Sample(line);
  }
  void Error(const std::string& what) {
    out_.errors.push_back("line " + std::to_string(number_) + ": " + what);
  }

 private:
  // The family declared last, if any.
  ExpositionFamily* Current() { return out_.families.empty() ? nullptr : &out_.families.back(); }

  ExpositionFamily& Declare(const std::string& name) {
    if (Current() == nullptr || Current()->name != name) {
      if (!declared_.insert(name).second) Error("family " + name + " declared again");
      out_.families.push_back(ExpositionFamily{name, "", "", 0, 0});
      current_has_samples_ = false;
    }
    if (current_has_samples_) Error("HELP or TYPE of " + name + " after its samples");
    return *Current();
  }

  void Comment(std::string_view line) {
    const bool help = line.starts_with("# HELP ");
    const bool type = line.starts_with("# TYPE ");
    if (!help && !type) return;  // Other comments are allowed.
    std::string_view rest = line.substr(7);
    std::size_t pos = 0;
    const std::string name = ReadName(rest, pos, true);
    if (name.empty() || pos >= rest.size() || rest[pos] != ' ') {
      return Error("bad HELP/TYPE line");
    }
    const std::string_view text = rest.substr(pos + 1);
    ExpositionFamily& family = Declare(name);
    if (help) {
      if (++family.help_lines > 1) Error("second HELP for " + name);
      if (text.empty()) Error("empty HELP for " + name);
      family.help = std::string(text);
    } else {
      if (++family.type_lines > 1) Error("second TYPE for " + name);
      static const std::set<std::string_view> kTypes = {"counter", "gauge", "histogram", "summary",
                                                        "untyped"};
      if (!kTypes.contains(text)) Error("unknown type " + std::string(text));
      family.type = std::string(text);
    }
  }

  void Sample(std::string_view line) {
    std::size_t pos = 0;
    ExpositionSample sample;
    sample.name = ReadName(line, pos, true);
    if (sample.name.empty()) return Error("no metric name");
    if (pos < line.size() && line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const std::string label = ReadName(line, pos, false);
        if (label.empty() || line.substr(pos, 2) != "=\"") return Error("bad label");
        pos += 2;
        std::string value;
        for (;;) {
          if (pos >= line.size()) return Error("unterminated label value");
          const char c = line[pos++];
          if (c == '"') break;
          if (c == '\n') return Error("raw newline in label value");
          if (c != '\\') {
            value.push_back(c);
            continue;
          }
          if (pos >= line.size()) return Error("unterminated escape");
          const char escaped = line[pos++];
          if (escaped == '\\' || escaped == '"') {
            value.push_back(escaped);
          } else if (escaped == 'n') {
            value.push_back('\n');
          } else {
            return Error("bad escape \\" + std::string(1, escaped));
          }
        }
        if (!sample.labels.emplace(label, std::move(value)).second) {
          return Error("label " + label + " twice");
        }
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      if (pos >= line.size()) return Error("unterminated label set");
      ++pos;  // '}'
    }
    if (pos >= line.size() || line[pos] != ' ') return Error("no value");
    sample.value_text = std::string(line.substr(pos + 1));
    const auto value = ParseValue(sample.value_text);
    if (!value) return Error("bad value '" + sample.value_text + "'");
    sample.value = *value;
    if (Current() == nullptr || !BelongsTo(*Current(), sample.name)) {
      return Error("sample " + sample.name + " outside its family");
    }
    sample.family = Current()->name;
    current_has_samples_ = true;
    std::string key = sample.name;
    for (const auto& [k, v] : sample.labels) key += "\x1f" + k + "=" + v;
    if (!sample_keys_.insert(key).second) Error("duplicate sample " + sample.name);
    out_.samples.push_back(std::move(sample));
  }

  Exposition& out_;
  std::size_t number_ = 0;
  bool current_has_samples_ = false;
  std::set<std::string> declared_;
  std::set<std::string> sample_keys_;
};

}  // namespace

const ExpositionFamily* Exposition::Family(std::string_view name) const {
  for (const ExpositionFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::vector<const ExpositionSample*> Exposition::Find(std::string_view name,
                                                      const Labels& subset) const {
  std::vector<const ExpositionSample*> out;
  for (const ExpositionSample& sample : samples) {
    if (sample.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : subset) {
      auto it = sample.labels.find(k);
      if (it == sample.labels.end() || it->second != v) match = false;
    }
    if (match) out.push_back(&sample);
  }
  return out;
}

std::optional<double> Exposition::Value(std::string_view name, const Labels& subset) const {
  const auto found = Find(name, subset);
  if (found.size() != 1) return std::nullopt;
  return found[0]->value;
}

Exposition ParseExposition(std::string_view text) {
  Exposition out;
  Parser parser(out);
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t end = text.find('\n');
    if (end == std::string_view::npos) {
      parser.Line(number, text);
      parser.Error("no newline at the end");
      break;
    }
    parser.Line(number, text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace longlink::admin::testing
