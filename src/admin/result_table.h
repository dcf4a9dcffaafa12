// What an admin command answers: a table of named, typed columns and rows of text values, as
// the console sends it (a text result set: integers as LONGLONG, decimals as DOUBLE, the rest
// as VARCHAR, so that drivers convert numbers) and as tests read it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace longlink::admin {

enum class ColumnKind { kText, kInteger, kDecimal };

struct ResultColumn {
  std::string name;
  ColumnKind kind = ColumnKind::kText;
};

struct ResultTable {
  std::vector<ResultColumn> columns = {};
  std::vector<std::vector<std::string>> rows = {};  // Each as long as columns.
};

}  // namespace longlink::admin
