// BEIR/MTEB dataset loader with strict validation.
//
// Format decisions (kept in step with what BEIR 2.2's GenericDataLoader accepts, so that a folder
// we load is one the reference pipeline loads too, and never more lenient in ways that would
// silently change the evaluation):
// - Lines end in "\n" or "\r\n"; a final newline at the end of the file is optional.
// - Blank (or whitespace-only) lines are errors: BEIR feeds every line to json.loads and fails on
//   them, and in a qrels TSV its csv reader yields an empty row that it cannot index.
// - A UTF-8 byte order mark is an error (Python's "utf8" codec keeps it and json.loads rejects it).
// - Ids (_id, query-id, corpus-id) are non-empty strings. A number is a mistyped id and an error
//   (the README's "a mistyped field stops the run"): BEIR keeps it as a number, which then never
//   matches the text ids of a qrels TSV, so it would be evaluated wrongly rather than loudly.
// - title is optional; absent or null means "". text is a required string (it may be empty).
// - Fields other than these are ignored.
// - Qrels scores are integers. In JSON an integral float (1.0, as pandas writes it) is accepted;
//   1.5 is an error because truncating it (what Python's int() does) would silently change a
//   graded judgement. In TSV the score must be integer text (Python's int("1.0") fails in BEIR).
// - The same (query-id, corpus-id) pair twice is an error: BEIR silently keeps the last one.
// - A qrels TSV must start with BEIR's header line, which BEIR skips unread; a first line whose
//   score column is an integer is a missing header, reported instead of losing a judgement.
//   Rows have exactly three tab-separated fields; CSV quoting is not interpreted.
// - TREC qrels (trec_eval's own format) are lines "query-id iteration doc-id relevance",
//   separated by blanks or tabs (trec_eval splits on white space); no header. Exactly four fields,
//   the relevance an integer (negative allowed, as in trec_eval), the iteration column ignored.
//   The same strictness as above otherwise: blank lines, invalid UTF-8, duplicates are errors.

#include "limit_eval/data/dataset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"
#include "limit_eval/core/shell.hpp"
#include "limit_eval/core/suggest.hpp"
#include "limit_eval/core/utf8.hpp"
#include "limit_eval/core/resources.hpp"
#include "limit_eval/core/version.hpp"

namespace limit_eval::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

std::string read_whole_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw IoError(path, "file not found");
  if (fs::is_directory(status)) throw IoError(path, "is a folder, not a file");

  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw IoError(path, fmt::format("cannot open: {}", std::strerror(errno)));
  std::string contents;
  // One large read when the size is known; the loop also covers files whose size the
  // filesystem does not report (pipes, /proc).
  const auto size = fs::is_regular_file(status) ? fs::file_size(path, ec) : 0;
  contents.resize(ec ? 0 : static_cast<std::size_t>(size));
  std::size_t filled = std::fread(contents.data(), 1, contents.size(), file);
  contents.resize(filled);
  char chunk[1 << 16];
  while (std::size_t got = std::fread(chunk, 1, sizeof chunk, file)) contents.append(chunk, got);
  const bool failed = std::ferror(file) != 0;
  const int read_errno = errno;
  std::fclose(file);
  if (failed) throw IoError(path, fmt::format("read failed: {}", std::strerror(read_errno)));
  return contents;
}

// Calls on_line(text, line_number) for every line, numbered from 1, without its "\n" or "\r\n".
// A newline at the very end does not start another line.
template <class OnLine>
void for_each_line(std::string_view contents, OnLine&& on_line) {
  std::size_t line_number = 0;
  while (!contents.empty()) {
    const std::size_t end = contents.find('\n');
    std::string_view line = contents.substr(0, end);
    contents.remove_prefix(end == std::string_view::npos ? contents.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    on_line(line, ++line_number);
  }
}


bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r\f\v") == std::string_view::npos; }

// Checks that apply to every line of a text data file, whatever its format.
void check_line_text(std::string_view line, const fs::path& path, std::size_t line_number) {
  if (line.size() > kMaxLineBytes) {
    throw DataError(path, line_number,
                    fmt::format("line of {} bytes, longer than the {} MiB a record may take (is this a text file "
                                "with one record per line?)",
                                line.size(), kMaxLineBytes >> 20));
  }
  if (is_blank(line)) {
    throw DataError(path, line_number, "blank line (BEIR's loader fails on blank lines too; remove it)");
  }
  if (line.starts_with(kUtf8ByteOrderMark)) {
    throw DataError(path, line_number, "UTF-8 byte order mark (BEIR's loader rejects it; save the file without BOM)");
  }
  if (const std::size_t offset = find_invalid_utf8(line); offset != std::string_view::npos) {
    throw DataError(path, line_number,
                    fmt::format("invalid UTF-8 (byte 0x{:02X} at column {})", static_cast<unsigned char>(line[offset]),
                                offset + 1));
  }
}

json parse_json_object(std::string_view line, const fs::path& path, std::size_t line_number) {
  check_line_text(line, path, line_number);
  if (const std::size_t at = find_json_too_deep(line); at != std::string_view::npos) {
    throw DataError(path, line_number,
                    fmt::format("JSON nested more than {} levels deep (column {})", kMaxJsonDepth, at + 1));
  }
  json value;
  try {
    value = json::parse(line);
  } catch (const json::exception& e) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 1, column 7:
    // syntax error ..."; the file line is ours, so keep only the column and the diagnosis. A number
    // too large for a double is an out_of_range error ("[json.exception.out_of_range.406] number
    // overflow parsing '1e400'"), not a parse_error.
    std::string_view detail = e.what();
    if (const auto pos = detail.find("column "); pos != std::string_view::npos) {
      detail.remove_prefix(pos);
    } else if (const auto end = detail.find("] "); end != std::string_view::npos) {
      detail.remove_prefix(end + 2);
    }
    throw DataError(path, line_number, fmt::format("malformed JSON: {}", detail));
  }
  if (!value.is_object()) {
    throw DataError(path, line_number, fmt::format("expected a JSON object, found {}", value.type_name()));
  }
  return value;
}

json* find_field(json& object, const char* field) {
  const auto it = object.find(field);
  return it == object.end() ? nullptr : &*it;
}

std::string take_id(json& object, const char* field, const fs::path& path, std::size_t line_number) {
  json* value = find_field(object, field);
  if (value == nullptr) throw DataError(path, line_number, fmt::format("missing field '{}'", field));
  if (!value->is_string()) {
    throw DataError(path, line_number,
                    fmt::format("field '{}' must be a string, found {}{}", field, value->type_name(),
                                value->is_number_integer() ? fmt::format(" (write the id as \"{}\")", value->dump())
                                                           : std::string{}));
  }
  std::string id = std::move(value->get_ref<std::string&>());
  if (id.empty()) throw DataError(path, line_number, fmt::format("field '{}' is an empty id", field));
  return id;
}

std::string take_required_string(json& object, const char* field, const fs::path& path, std::size_t line_number) {
  json* value = find_field(object, field);
  if (value == nullptr) throw DataError(path, line_number, fmt::format("missing field '{}'", field));
  if (!value->is_string()) {
    throw DataError(path, line_number, fmt::format("field '{}' must be a string, found {}", field, value->type_name()));
  }
  return std::move(value->get_ref<std::string&>());
}

std::string take_optional_string(json& object, const char* field, const fs::path& path, std::size_t line_number) {
  json* value = find_field(object, field);
  if (value == nullptr || value->is_null()) return {};
  if (!value->is_string()) {
    throw DataError(path, line_number, fmt::format("field '{}' must be a string, found {}", field, value->type_name()));
  }
  return std::move(value->get_ref<std::string&>());
}

int take_score(json& object, const fs::path& path, std::size_t line_number) {
  json* value = find_field(object, "score");
  if (value == nullptr) throw DataError(path, line_number, "missing field 'score'");
  constexpr auto kMin = static_cast<double>(std::numeric_limits<int>::min());
  constexpr auto kMax = static_cast<double>(std::numeric_limits<int>::max());
  if (value->is_number_integer()) {
    if (value->is_number_unsigned()) {
      const auto score = value->get<std::uint64_t>();
      if (score <= static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return static_cast<int>(score);
    } else {
      const auto score = value->get<std::int64_t>();
      if (score >= std::numeric_limits<int>::min() && score <= std::numeric_limits<int>::max()) {
        return static_cast<int>(score);
      }
    }
    throw DataError(path, line_number, fmt::format("field 'score' is out of range: {}", value->dump()));
  }
  if (value->is_number_float()) {
    const double score = value->get<double>();
    if (std::trunc(score) == score && score >= kMin && score <= kMax) return static_cast<int>(score);
    throw DataError(path, line_number, fmt::format("field 'score' must be an integer, found {}", value->dump()));
  }
  throw DataError(path, line_number, fmt::format("field 'score' must be an integer, found {}", value->type_name()));
}

// Python's int() also strips surrounding whitespace and accepts a leading '+'.
std::optional<int> parse_integer_text(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, text.find_last_not_of(" \t") - first + 1);
  if (text.starts_with('+')) {
    text.remove_prefix(1);
    if (text.starts_with('-')) return std::nullopt;
  }
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  while (true) {
    const auto tab = line.find('\t');
    fields.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) return fields;
    line.remove_prefix(tab + 1);
  }
}

struct Judgement {
  std::string query_id;
  std::string doc_id;
  int score = 0;
};

Judgement parse_jsonl_judgement(std::string_view line, const fs::path& path, std::size_t line_number) {
  json object = parse_json_object(line, path, line_number);
  Judgement judgement;
  judgement.query_id = take_id(object, "query-id", path, line_number);
  judgement.doc_id = take_id(object, "corpus-id", path, line_number);
  judgement.score = take_score(object, path, line_number);
  return judgement;
}

void check_tsv_header(std::string_view line, const fs::path& path) {
  check_line_text(line, path, 1);
  const auto fields = split_tabs(line);
  if (fields.size() != 3 || parse_integer_text(fields[2])) {
    throw DataError(path, 1,
                    "expected the header line 'query-id<TAB>corpus-id<TAB>score' (BEIR skips the first line "
                    "unread; this one looks like a judgement or is not three columns)");
  }
}

Judgement parse_tsv_judgement(std::string_view line, const fs::path& path, std::size_t line_number) {
  check_line_text(line, path, line_number);
  const auto fields = split_tabs(line);
  if (fields.size() != 3) {
    throw DataError(
        path, line_number,
        fmt::format("expected 3 tab-separated fields (query-id, corpus-id, score), found {}", fields.size()));
  }
  if (fields[0].empty()) throw DataError(path, line_number, "empty query-id");
  if (fields[1].empty()) throw DataError(path, line_number, "empty corpus-id");
  const auto score = parse_integer_text(fields[2]);
  if (!score) throw DataError(path, line_number, fmt::format("score must be an integer, found '{}'", fields[2]));
  return {std::string(fields[0]), std::string(fields[1]), *score};
}

std::vector<std::string_view> split_blanks(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (true) {
    at = line.find_first_not_of(" \t", at);
    if (at == std::string_view::npos) return fields;
    const std::size_t end = line.find_first_of(" \t", at);
    fields.push_back(line.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (end == std::string_view::npos) return fields;
    at = end;
  }
}

Judgement parse_trec_judgement(std::string_view line, const fs::path& path, std::size_t line_number) {
  check_line_text(line, path, line_number);
  const auto fields = split_blanks(line);
  if (fields.size() != 4) {
    throw DataError(path, line_number,
                    fmt::format("expected 4 fields of TREC qrels (query-id iteration doc-id relevance), found {}",
                                fields.size()));
  }
  const auto score = parse_integer_text(fields[3]);
  if (!score) {
    throw DataError(path, line_number, fmt::format("relevance must be an integer, found '{}'", fields[3]));
  }
  return {std::string(fields[0]), std::string(fields[2]), *score};
}

bool looks_like_trec_line(std::string_view line) {
  const auto fields = split_blanks(line);
  return fields.size() == 4 && parse_integer_text(fields[3]).has_value();
}

std::string_view first_line_of(std::string_view contents) {
  std::string_view line = contents.substr(0, contents.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The format of a qrels file: by its name (.jsonl; .tsv is BEIR's unless its first line is a
// TREC judgement), else by its first line.
QrelsFormat qrels_format_of(const fs::path& path, std::string_view contents) {
  const auto extension = path.extension();
  if (extension == ".jsonl") return QrelsFormat::jsonl;
  const std::string_view first = first_line_of(contents);
  if (looks_like_trec_line(first)) return QrelsFormat::trec;
  if (extension == ".tsv") return QrelsFormat::beir_tsv;
  const auto start = first.find_first_not_of(" \t");
  if (start != std::string_view::npos && first[start] == '{') return QrelsFormat::jsonl;
  if (split_tabs(first).size() == 3) return QrelsFormat::beir_tsv;
  throw DataError(path, 1,
                  "cannot tell the qrels format: expected BEIR/MTEB jsonl ({\"query-id\", \"corpus-id\", \"score\"}), "
                  "a BEIR .tsv (header query-id<TAB>corpus-id<TAB>score) or TREC qrels (query-id iteration doc-id "
                  "relevance); name it with --qrels-format");
}

Judgement parse_judgement(QrelsFormat format, std::string_view line, const fs::path& path, std::size_t line_number) {
  switch (format) {
    case QrelsFormat::jsonl: return parse_jsonl_judgement(line, path, line_number);
    case QrelsFormat::beir_tsv: return parse_tsv_judgement(line, path, line_number);
    case QrelsFormat::trec: return parse_trec_judgement(line, path, line_number);
    case QrelsFormat::automatic: break;
  }
  throw ContractError("parse_judgement: the qrels format is not resolved");
}

// The line on which (query_id, doc_id) first appears. Only called to word a duplicate error, so
// the qrels can be loaded without remembering the line of every judgement.
std::size_t first_line_of_judgement(std::string_view contents, QrelsFormat format, const fs::path& path,
                                    const std::string& query_id, const std::string& doc_id) {
  std::size_t found = 0;
  for_each_line(contents, [&](std::string_view line, std::size_t line_number) {
    if (found != 0 || (format == QrelsFormat::beir_tsv && line_number == 1)) return;
    const Judgement judgement = parse_judgement(format, line, path, line_number);
    if (judgement.query_id == query_id && judgement.doc_id == doc_id) found = line_number;
  });
  return found;
}

// The command that downloads LIMIT into `root` (the download script writes <data root>/limit).
std::string download_command(const fs::path& root) {
  const fs::path script = fs::path(kSourceDir) / "scripts" / "download_data.sh";
  std::error_code ec;
  fs::path folder = fs::absolute(root, ec).lexically_normal();
  if (!folder.has_filename()) folder = folder.parent_path();
  const fs::path data_root = folder.parent_path();
  const bool default_root = fs::equivalent(data_root, resource_dir() / "data", ec);
  return fmt::format("{}{} limit", default_root ? std::string{} : "LIMIT_EVAL_DATA_ROOT=" + shell_word(data_root.string()) + " ",
                     shell_word(script.string()));
}

std::string dataset_name_of(const fs::path& root) {
  fs::path normal = root.lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();
  std::string name = normal.filename().string();
  if (name.empty() || name == "." || name == "..") {
    std::error_code ec;
    const fs::path absolute = fs::weakly_canonical(root, ec);
    if (!ec) name = absolute.filename().string();
  }
  return name;
}

}  // namespace

fs::path resolve_dataset(const std::string& name_or_path, const fs::path& data_root) {
  std::error_code ec;
  const fs::path as_given(name_or_path);
  if (name_or_path.empty()) throw UsageError("--dataset is empty: give a dataset name or folder");
  if (fs::is_directory(as_given, ec)) return as_given;
  const bool path_like = name_or_path.find('/') != std::string::npos || name_or_path.starts_with('.') ||
                         name_or_path.starts_with('~');
  if (path_like) {
    throw UsageError(fs::exists(as_given, ec) ? fmt::format("dataset folder expected, but {} is not a folder", name_or_path)
                                              : fmt::format("dataset folder not found: {}", name_or_path));
  }
  const fs::path under_data_root = data_root / name_or_path;
  if (fs::is_directory(under_data_root, ec)) return under_data_root;
  std::vector<std::string> known;
  for (fs::directory_iterator it(data_root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec)) known.push_back(it->path().filename().string());
  }
  std::sort(known.begin(), known.end());
  const auto suggestion = closest_match(name_or_path, known);
  throw UsageError(fmt::format("dataset '{}' not found: {} is not a folder{} (datasets under {}: {}; or give the "
                               "path of a dataset folder)",
                               name_or_path, under_data_root.string(),
                               suggestion ? fmt::format("; did you mean '{}'?", *suggestion) : std::string{},
                               data_root.string(), known.empty() ? std::string("none") : fmt::format("{}", fmt::join(known, ", "))));
}

std::vector<Document> load_corpus(const fs::path& path) {
  const std::string contents = read_whole_file(path);
  std::vector<Document> corpus;
  corpus.reserve(static_cast<std::size_t>(std::count(contents.begin(), contents.end(), '\n')) + 1);
  std::unordered_map<std::string, std::size_t> line_of_id;
  line_of_id.reserve(corpus.capacity());
  for_each_line(contents, [&](std::string_view line, std::size_t line_number) {
    json object = parse_json_object(line, path, line_number);
    Document document;
    document.id = take_id(object, "_id", path, line_number);
    document.title = take_optional_string(object, "title", path, line_number);
    document.text = take_required_string(object, "text", path, line_number);
    const auto [it, inserted] = line_of_id.try_emplace(document.id, line_number);
    if (!inserted) {
      throw DataError(path, line_number,
                      fmt::format("duplicate document id '{}' (first on line {})", document.id, it->second));
    }
    corpus.push_back(std::move(document));
  });
  if (corpus.empty()) throw DataError(path, 0, "empty corpus: the file holds no documents");
  return corpus;
}

std::vector<Query> load_queries(const fs::path& path) {
  const std::string contents = read_whole_file(path);
  std::vector<Query> queries;
  std::unordered_map<std::string, std::size_t> line_of_id;
  for_each_line(contents, [&](std::string_view line, std::size_t line_number) {
    json object = parse_json_object(line, path, line_number);
    Query query;
    query.id = take_id(object, "_id", path, line_number);
    query.text = take_required_string(object, "text", path, line_number);
    const auto [it, inserted] = line_of_id.try_emplace(query.id, line_number);
    if (!inserted) {
      throw DataError(path, line_number,
                      fmt::format("duplicate query id '{}' (first on line {})", query.id, it->second));
    }
    queries.push_back(std::move(query));
  });
  if (queries.empty()) throw DataError(path, 0, "empty query set: the file holds no queries");
  return queries;
}

std::string to_string(QrelsFormat format) {
  switch (format) {
    case QrelsFormat::automatic: return "auto";
    case QrelsFormat::jsonl: return "jsonl";
    case QrelsFormat::beir_tsv: return "tsv";
    case QrelsFormat::trec: return "trec";
  }
  return "?";
}

Qrels load_qrels(const fs::path& path, QrelsReport* report, QrelsFormat format) {
  const std::string contents = read_whole_file(path);
  if (format == QrelsFormat::automatic) format = qrels_format_of(path, contents);
  Qrels qrels;
  std::size_t lines = 0;
  std::size_t judgements = 0;
  for_each_line(contents, [&](std::string_view line, std::size_t line_number) {
    if (format == QrelsFormat::beir_tsv && line_number == 1) {
      check_tsv_header(line, path);
      return;
    }
    ++lines;
    Judgement judgement = parse_judgement(format, line, path, line_number);
    auto& judged_docs = qrels[judgement.query_id];
    if (!judged_docs.try_emplace(std::move(judgement.doc_id), judgement.score).second) {
      // try_emplace leaves its key argument untouched when nothing was inserted.
      const std::size_t first_line =
          first_line_of_judgement(contents, format, path, judgement.query_id, judgement.doc_id);
      throw DataError(path, line_number,
                      fmt::format("duplicate judgement for query '{}' and document '{}' (first on line {})",
                                  judgement.query_id, judgement.doc_id, first_line));
    }
    ++judgements;
  });
  if (judgements == 0) throw DataError(path, 0, "empty qrels: the file holds no judgements");
  if (report != nullptr) {
    report->path = path;
    report->lines = lines;
    report->judgements = judgements;
  }
  return qrels;
}

void check_qrels_against(const Qrels& qrels, const std::vector<Document>& corpus, const std::vector<Query>& queries,
                         QrelsReport& report) {
  std::unordered_set<std::string_view> doc_ids;
  doc_ids.reserve(corpus.size());
  for (const auto& document : corpus) doc_ids.insert(document.id);
  std::unordered_set<std::string_view> query_ids;
  query_ids.reserve(queries.size());
  for (const auto& query : queries) query_ids.insert(query.id);

  report.unknown_query_judgements = 0;
  report.unknown_doc_judgements = 0;
  report.unknown_queries = 0;
  std::unordered_set<std::string_view> unknown_docs;
  for (const auto& [query_id, judged_docs] : qrels) {
    if (!query_ids.contains(query_id)) {
      ++report.unknown_queries;
      report.unknown_query_judgements += judged_docs.size();
    }
    for (const auto& [doc_id, score] : judged_docs) {
      if (!doc_ids.contains(doc_id)) {
        ++report.unknown_doc_judgements;
        unknown_docs.insert(doc_id);
      }
    }
  }
  report.unknown_docs = unknown_docs.size();

  report.queries_without_judgements = 0;
  for (const auto& query : queries) {
    if (!qrels.contains(query.id)) ++report.queries_without_judgements;
  }
}

Dataset load_dataset(const fs::path& root, const std::string& split) {
  Dataset dataset;
  dataset.name = dataset_name_of(root);
  dataset.root = root;
  dataset.corpus_path = root / "corpus.jsonl";
  dataset.queries_path = root / "queries.jsonl";

  // Find every file before reading any, so a missing one is reported before a long corpus load.
  std::error_code ec;
  if (!fs::exists(dataset.corpus_path, ec)) {
    if (dataset.name == "limit") {
      throw IoError(dataset.corpus_path,
                    fmt::format("file not found; the LIMIT corpus is not shipped with limit-eval. Download it "
                                "(from the Hugging Face hub) with:\n  {}",
                                download_command(root)));
    }
    throw IoError(dataset.corpus_path, "file not found");
  }
  if (!fs::exists(dataset.queries_path, ec)) throw IoError(dataset.queries_path, "file not found");
  const fs::path jsonl_qrels = root / "qrels.jsonl";
  const fs::path tsv_qrels = root / "qrels" / (split + ".tsv");
  fs::path qrels_path;
  if (fs::exists(jsonl_qrels, ec)) {
    qrels_path = jsonl_qrels;
  } else if (fs::exists(tsv_qrels, ec)) {
    qrels_path = tsv_qrels;
  } else {
    throw IoError(
        root, fmt::format("no qrels found: neither '{}' nor '{}' exists", jsonl_qrels.string(), tsv_qrels.string()));
  }

  dataset.corpus = load_corpus(dataset.corpus_path);
  dataset.queries = load_queries(dataset.queries_path);
  dataset.qrels = load_qrels(qrels_path, &dataset.qrels_report);
  check_qrels_against(dataset.qrels, dataset.corpus, dataset.queries, dataset.qrels_report);
  return dataset;
}

}  // namespace limit_eval::data
