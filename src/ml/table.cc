#include "ml/table.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/errors.h"
#include "hone/npy.h"

namespace hone::ml {

int64_t Column::missing_count() const {
  if (kind == ColumnKind::kString) return std::count(missing.begin(), missing.end(), true);
  return std::count_if(numbers.begin(), numbers.end(), [](double v) { return std::isnan(v); });
}

int Table::index(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return static_cast<int>(i);
  return -1;
}

StatusOr<Tensor> Table::NumericMatrix(const std::vector<std::string>& names) const {
  std::vector<int> cols;
  if (names.empty()) {
    for (size_t i = 0; i < columns.size(); ++i) cols.push_back(static_cast<int>(i));
  } else {
    for (const auto& n : names) {
      const int i = index(n);
      if (i < 0) return InvalidArgument("no column '{}'", n);
      cols.push_back(i);
    }
  }
  for (int c : cols)
    if (columns[static_cast<size_t>(c)].kind != ColumnKind::kNumeric)
      return InvalidArgument("column '{}' holds strings; a numeric matrix needs numbers",
                             columns[static_cast<size_t>(c)].name);
  const int64_t k = static_cast<int64_t>(cols.size());
  Tensor t = Tensor::Uninitialized(DataType::kFloat32, {rows, k});
  float* p = t.data<float>();
  for (int64_t j = 0; j < k; ++j) {
    const auto& v = columns[static_cast<size_t>(cols[static_cast<size_t>(j)])].numbers;
    for (int64_t r = 0; r < rows; ++r) p[r * k + j] = static_cast<float>(v[static_cast<size_t>(r)]);
  }
  return t;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseNumber(std::string_view s, double& out) {
  s = Trim(s);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

struct Cell {
  std::string text;
  bool quoted = false;
};

// Splits `text` into records of cells. Errors carry the 1-based line of the record.
Status SplitRecords(const std::string& text, char delim, const std::string& what,
                    std::vector<std::vector<Cell>>& records, std::vector<int64_t>& lines) {
  std::vector<Cell> record;
  Cell cell;
  bool in_quotes = false, any = false;
  int64_t line = 1, record_line = 1;
  auto end_cell = [&] {
    record.push_back(std::move(cell));
    cell = Cell();
  };
  auto end_record = [&] {
    end_cell();
    const bool blank = record.size() == 1 && record[0].text.empty() && !record[0].quoted;
    if (!blank) {
      records.push_back(std::move(record));
      lines.push_back(record_line);
    }
    record.clear();
    any = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell.text += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        cell.text += c;
      }
      continue;
    }
    if (!any) record_line = line;
    any = true;
    if (c == '"' && Trim(cell.text).empty()) {
      cell.text.clear();
      cell.quoted = in_quotes = true;
    } else if (c == delim) {
      end_cell();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
    } else {
      cell.text += c;
    }
  }
  if (in_quotes)
    return InvalidArgument("{}: line {}: a quoted cell is never closed", what, record_line);
  if (any) end_record();
  return Status::Ok();
}

}  // namespace

StatusOr<Table> ParseCsv(const std::string& text, const CsvOptions& options,
                         const std::string& what) {
  std::vector<std::vector<Cell>> records;
  std::vector<int64_t> lines;
  HONE_RETURN_IF_ERROR(SplitRecords(text, options.delimiter, what, records, lines));
  if (records.empty()) return InvalidArgument("{}: no rows", what);
  Table table;
  const size_t width = records[0].size();
  size_t first = 0;
  if (options.header) {
    for (auto& c : records[0]) {
      Column col;
      col.name = std::string(Trim(c.text));
      if (col.name.empty()) col.name = "c" + std::to_string(table.columns.size());
      for (const auto& other : table.columns)
        if (other.name == col.name)
          return InvalidArgument("{}: line 1: column name '{}' appears twice", what, col.name);
      table.columns.push_back(std::move(col));
    }
    first = 1;
  } else {
    for (size_t j = 0; j < width; ++j) {
      Column col;
      col.name = "c" + std::to_string(j);
      table.columns.push_back(std::move(col));
    }
  }
  for (const auto& [name, kind] : options.types)
    if (table.index(name) < 0) return InvalidArgument("{}: no column '{}' to type", what, name);
  table.rows = static_cast<int64_t>(records.size() - first);
  auto is_missing = [&](const Cell& c) {
    if (c.quoted) return false;
    const std::string_view t = Trim(c.text);
    return t.empty() ||
           std::find(options.missing.begin(), options.missing.end(), t) != options.missing.end();
  };
  for (size_t r = first; r < records.size(); ++r)
    if (records[r].size() != width)
      return InvalidArgument("{}: line {}: {} cells, the {} has {}", what, lines[r],
                             records[r].size(), options.header ? "header" : "first row", width);
  for (size_t j = 0; j < width; ++j) {
    Column& col = table.columns[j];
    auto forced = options.types.find(col.name);
    bool numeric = true;
    std::vector<double> numbers(static_cast<size_t>(table.rows),
                                std::numeric_limits<double>::quiet_NaN());
    if (forced == options.types.end() || forced->second == ColumnKind::kNumeric) {
      for (size_t r = first; r < records.size() && numeric; ++r) {
        const Cell& c = records[r][j];
        if (is_missing(c)) continue;
        if (!ParseNumber(c.text, numbers[r - first])) {
          if (forced != options.types.end())
            return InvalidArgument(
                "{}: line {}: column '{}' is typed numeric, but '{}' is not a number", what,
                lines[r], col.name, c.text);
          numeric = false;
        }
      }
    } else {
      numeric = false;
    }
    if (numeric) {
      col.kind = ColumnKind::kNumeric;
      col.numbers = std::move(numbers);
    } else {
      col.kind = ColumnKind::kString;
      for (size_t r = first; r < records.size(); ++r) {
        const Cell& c = records[r][j];
        col.missing.push_back(is_missing(c));
        col.strings.push_back(col.missing.back() ? std::string()
                                                 : std::string(c.quoted ? c.text : Trim(c.text)));
      }
    }
  }
  return table;
}

StatusOr<Table> ReadCsv(const std::string& path, const CsvOptions& options) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(StatusCode::kNotFound, "cannot open '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseCsv(ss.str(), options, path);
}

StatusOr<Table> TableFromTensor(const Tensor& t) {
  if (t.rank() != 1 && t.rank() != 2)
    return InvalidArgument("a table needs a 1-D or 2-D array, got shape {}",
                           ShapeToString(t.shape()));
  if (!IsFloatingPoint(t.dtype()) && !IsInteger(t.dtype()) && t.dtype() != DataType::kBool)
    return InvalidArgument("a table needs numbers, got {}", DataTypeName(t.dtype()));
  Table table;
  table.rows = t.dim(0);
  const int64_t k = t.rank() == 2 ? t.dim(1) : 1;
  table.columns.resize(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) {
    Column& col = table.columns[static_cast<size_t>(j)];
    col.name = "c" + std::to_string(j);
    col.numbers.resize(static_cast<size_t>(table.rows));
  }
  auto fill = [&](auto* p) {
    for (int64_t r = 0; r < table.rows; ++r)
      for (int64_t j = 0; j < k; ++j)
        table.columns[static_cast<size_t>(j)].numbers[static_cast<size_t>(r)] =
            static_cast<double>(p[r * k + j]);
  };
  switch (t.dtype()) {
    case DataType::kFloat32:
      fill(t.data<float>());
      break;
    case DataType::kFloat64:
      fill(t.data<double>());
      break;
    case DataType::kInt64:
      fill(t.data<int64_t>());
      break;
    case DataType::kInt32:
      fill(t.data<int32_t>());
      break;
    case DataType::kInt16:
      fill(t.data<int16_t>());
      break;
    case DataType::kInt8:
      fill(t.data<int8_t>());
      break;
    case DataType::kUInt8:
      fill(t.data<uint8_t>());
      break;
    case DataType::kUInt16:
      fill(t.data<uint16_t>());
      break;
    case DataType::kUInt32:
      fill(t.data<uint32_t>());
      break;
    case DataType::kUInt64:
      fill(t.data<uint64_t>());
      break;
    case DataType::kBool:
      fill(t.data<bool>());
      break;
    default:
      return InvalidArgument("a table cannot hold {}", DataTypeName(t.dtype()));
  }
  return table;
}

StatusOr<Table> ReadTable(const std::string& path, const CsvOptions& options) {
  const bool csv = path.size() >= 4 && (path.substr(path.size() - 4) == ".csv" ||
                                        path.substr(path.size() - 4) == ".CSV");
  if (csv) return ReadCsv(path, options);
  HONE_ASSIGN_OR_RETURN(Tensor t, ReadNpy(path));
  auto table = TableFromTensor(t);
  if (!table.ok()) return table.status().WithContext(path);
  // The type overrides, as ReadCsv applies them: a column typed as strings holds its numbers'
  // text (NaN: missing).
  for (const auto& [name, kind] : options.types) {
    const int ci = table->index(name);
    if (ci < 0) return InvalidArgument("{}: no column '{}' to type", path, name);
    Column& col = table->columns[static_cast<size_t>(ci)];
    if (kind != ColumnKind::kString) continue;
    col.kind = ColumnKind::kString;
    for (double v : col.numbers) {
      col.missing.push_back(std::isnan(v));
      col.strings.push_back(std::isnan(v) ? "" : fmt::format("{}", v));
    }
    col.numbers.clear();
  }
  return table;
}

}  // namespace hone::ml
