#include "limit_eval/eval/trec_run.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/input_limits.hpp"
#include "limit_eval/core/utf8.hpp"

namespace limit_eval::eval {
namespace {

constexpr std::size_t kTrecRunColumns = 6;

bool is_field_separator(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Non-empty and whitespace-free, so that the written field reads back as one column.
bool is_writable_field(std::string_view value) {
  return !value.empty() &&
         std::none_of(value.begin(), value.end(), [](char c) { return is_field_separator(c) || c == '\n'; });
}

void check_writable_field(std::string_view what, std::string_view value) {
  if (!is_writable_field(value)) {
    throw DataError(fmt::format("cannot write a TREC run: {} '{}' is empty or contains whitespace", what, value));
  }
}

// Splits on runs of blanks; returns how many fields the line has (only the first N are stored).
template <std::size_t N>
std::size_t split_fields(std::string_view line, std::array<std::string_view, N>& fields) {
  std::size_t count = 0;
  std::size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && is_field_separator(line[at])) ++at;
    if (at == line.size()) break;
    const std::size_t start = at;
    while (at < line.size() && !is_field_separator(line[at])) ++at;
    if (count < N) fields[count] = line.substr(start, at - start);
    ++count;
  }
  return count;
}

// Parses the whole text as a double (a leading '+' allowed, as Python's float() does); NaN is
// refused because it cannot be ranked.
bool parse_score(std::string_view text, double& score) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const char* const end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, score);
  return error == std::errc{} && stop == end && !std::isnan(score);
}

// Remembers which original id each written id came from, to refuse two ids that collide.
class TrecIdMapper {
 public:
  const std::string& map(const std::string& id, std::string_view what) {
    auto [it, inserted] = original_of_.try_emplace(trec_id(id), id);
    if (!inserted && it->second != id) {
      throw DataError(fmt::format("cannot write a TREC run: {} ids '{}' and '{}' both become '{}'", what, it->second,
                                  id, it->first));
    }
    return it->first;
  }

 private:
  std::unordered_map<std::string, std::string> original_of_;
};

}  // namespace

std::string trec_id(std::string_view id) {
  std::string out;
  out.reserve(id.size());
  std::size_t at = 0;
  while (at < id.size()) {
    const std::size_t length = white_space_length(id.substr(at));
    if (length > 0) {
      out += '_';
      at += length;
    } else {
      out += id[at++];
    }
  }
  return out;
}

void check_trec_ids(std::span<const std::string_view> ids, const std::filesystem::path& path, std::string_view what) {
  std::unordered_map<std::string, std::size_t> index_of;
  index_of.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto [it, inserted] = index_of.try_emplace(trec_id(ids[i]), i);
    if (!inserted) {
      throw DataError(path, i + 1,
                      fmt::format("{} ids '{}' (line {}) and '{}' both become '{}' in a TREC run file, which writes "
                                  "each whitespace character of an id as '_': rename one of them, or run without "
                                  "--run-file",
                                  what, ids[it->second], it->second + 1, ids[i], it->first));
    }
  }
}

data::Qrels trec_compatible_qrels(const data::Qrels& qrels, const std::filesystem::path& path) {
  data::Qrels out;
  std::unordered_map<std::string, std::string> original_query;
  std::unordered_map<std::string, std::string> original_doc;
  const auto check = [&](std::unordered_map<std::string, std::string>& seen, const std::string& mapped,
                         const std::string& id, const char* what) {
    const auto [it, inserted] = seen.try_emplace(mapped, id);
    if (!inserted && it->second != id) {
      throw DataError::at_id(path, id,
                             fmt::format("{} ids '{}' and '{}' both read as '{}' in TREC form", what, it->second, id,
                                         mapped));
    }
  };
  for (const auto& [query_id, judgements] : qrels) {
    const std::string mapped_query = trec_id(query_id);
    check(original_query, mapped_query, query_id, "query");
    auto& mapped = out[mapped_query];
    for (const auto& [doc_id, relevance] : judgements) {
      std::string mapped_doc = trec_id(doc_id);
      check(original_doc, mapped_doc, doc_id, "document");
      mapped.emplace(std::move(mapped_doc), relevance);
    }
  }
  return out;
}

void write_trec_run(const std::filesystem::path& path, const Run& run, const std::string& tag) {
  AtomicFileWriter writer(path);
  write_trec_run(writer, run, tag);
  writer.commit();
}

void write_trec_run(AtomicFileWriter& writer, const Run& run, const std::string& tag) {
  check_writable_field("run tag", tag);
  std::vector<const std::string*> query_ids;
  query_ids.reserve(run.size());
  for (const auto& entry : run) query_ids.push_back(&entry.first);
  std::sort(query_ids.begin(), query_ids.end(), [](const std::string* a, const std::string* b) { return *a < *b; });

  std::ostream& out = writer.stream();
  fmt::memory_buffer line;
  TrecIdMapper query_ids_out;
  TrecIdMapper doc_ids_out;
  for (const std::string* query_id : query_ids) {
    if (query_id->empty()) throw DataError("cannot write a TREC run: empty query id");
    const std::string& written_query_id = query_ids_out.map(*query_id, "query");
    const std::vector<ScoredDoc>& docs = run.at(*query_id);
    const std::vector<std::size_t> order = rank_order(*query_id, docs);
    for (std::size_t rank = 0; rank < order.size(); ++rank) {
      const ScoredDoc& doc = docs[order[rank]];
      if (doc.doc_id.empty()) {
        throw DataError(fmt::format("cannot write a TREC run: empty document id for query '{}'", *query_id));
      }
      line.clear();
      // "{}" is the shortest text that parses back to the same double.
      fmt::format_to(std::back_inserter(line), "{} Q0 {} {} {} {}\n", written_query_id,
                     doc_ids_out.map(doc.doc_id, "document"), rank + 1, doc.score, tag);
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
    }
  }
}

Run read_trec_run(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw IoError(path, "file not found");
  if (std::filesystem::is_directory(status)) throw IoError(path, "is a folder, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open for reading");

  Run run;
  // (query, doc) -> line of its first occurrence, to name both lines of a duplicate.
  std::unordered_map<std::string, std::unordered_map<std::string, std::size_t>> first_lines;
  std::string line;
  std::size_t line_number = 0;
  std::array<std::string_view, kTrecRunColumns> fields;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.size() > kMaxLineBytes) {
      throw DataError(path, line_number,
                      fmt::format("line of {} bytes, longer than the {} MiB a record may take (is this a TREC run "
                                  "file?)",
                                  line.size(), kMaxLineBytes >> 20));
    }
    const std::size_t columns = split_fields(line, fields);
    if (columns == 0) continue;  // a blank line holds no result
    if (columns != kTrecRunColumns) {
      throw DataError(path, line_number,
                      fmt::format("expected 6 columns (query Q0 doc rank score tag), found {}{}", columns,
                                  columns > kTrecRunColumns
                                      ? ": an id cannot hold a blank in a TREC file; write each whitespace character "
                                        "of an id as '_', as limit-eval --run-file does (the qrels' ids are read "
                                        "the same way)"
                                      : ""));
    }
    // Whitespace that is not a column separator (a no-break space...) is read as '_', as the qrels are.
    const std::string query_id = trec_id(fields[0]);
    const std::string doc_id = trec_id(fields[2]);
    double score = 0.0;
    if (!parse_score(fields[4], score)) {
      throw DataError(path, line_number, fmt::format("score '{}' is not a number", fields[4]));
    }
    auto& lines_of_query = first_lines[query_id];
    const auto [first, inserted] = lines_of_query.try_emplace(doc_id, line_number);
    if (!inserted) {
      throw DataError(path, line_number,
                      fmt::format("document '{}' appears twice for query '{}' (first on line {})", doc_id, query_id,
                                  first->second));
    }
    run[query_id].push_back(ScoredDoc{doc_id, score});
  }
  if (in.bad()) throw IoError(path, "read failed");
  return run;
}

}  // namespace limit_eval::eval
