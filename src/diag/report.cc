#include "diag/report.h"

namespace longlink::diag {

std::string_view DirectionName(Direction direction) {
  return direction == Direction::kOutbound ? "outbound" : "inbound";
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kOk:
      return "ok";
    case Level::kWarning:
      return "warning";
    case Level::kCritical:
      return "critical";
  }
  return "ok";
}

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kCritical:
      return "critical";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "info";
}

std::string_view AdviceName(Advice advice) {
  switch (advice) {
    case Advice::kLeave:
      return "leave";
    case Advice::kConsider:
      return "consider";
    case Advice::kChange:
      return "change";
  }
  return "leave";
}

}  // namespace longlink::diag
