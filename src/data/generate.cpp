#include "limit_eval/data/generate.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <system_error>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/random.hpp"

namespace limit_eval::data {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kUnset = std::numeric_limits<std::size_t>::max();
constexpr std::uint64_t kMiddleInitials = 26;
// Plain "First Last" draws tried before a middle initial may be used: with a large names list the
// ids stay plain; with a small one the initials take over once most pairs are taken.
constexpr int kPlainNameAttempts = 8;
constexpr std::array<const char*, 3> kDatasetFiles = {"corpus.jsonl", "queries.jsonl", "qrels.jsonl"};

// Each stage draws from its own stream, so that changing one option leaves the other stages'
// draws alone (e.g. more documents do not change which attributes the queries ask about).
enum class Stage : std::uint64_t {
  query_attributes = 1,
  pool_positions = 2,
  names = 3,
  document_attributes = 4,
  train_names = 5,
  train_document_attributes = 6,
  train_queries = 7,
};

// Each stage's stream of the seed.
class Random : public SeededRandom {
 public:
  Random(std::uint64_t seed, Stage stage) : SeededRandom(seed, static_cast<std::uint64_t>(stage)) {}
};

// Decodes the code point at text[position] and advances past it. False on an invalid sequence
// (truncated, overlong, a surrogate, above U+10FFFF).
bool next_code_point(std::string_view text, std::size_t& position, char32_t& code_point) {
  const auto lead = static_cast<unsigned char>(text[position]);
  std::size_t length = 0;
  char32_t minimum = 0;
  if (lead < 0x80) {
    code_point = lead;
    ++position;
    return true;
  }
  if ((lead & 0xE0U) == 0xC0U) {
    length = 2, code_point = lead & 0x1FU, minimum = 0x80;
  } else if ((lead & 0xF0U) == 0xE0U) {
    length = 3, code_point = lead & 0x0FU, minimum = 0x800;
  } else if ((lead & 0xF8U) == 0xF0U) {
    length = 4, code_point = lead & 0x07U, minimum = 0x10000;
  } else {
    return false;
  }
  if (position + length > text.size()) return false;
  for (std::size_t i = 1; i < length; ++i) {
    const auto continuation = static_cast<unsigned char>(text[position + i]);
    if ((continuation & 0xC0U) != 0x80U) return false;
    code_point = (code_point << 6U) | (continuation & 0x3FU);
  }
  if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
  position += length;
  return true;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t position = 0;
  char32_t code_point = 0;
  while (position < text.size()) {
    if (!next_code_point(text, position, code_point)) return false;
  }
  return true;
}

// A JSON string as Python's json.dumps writes it by default (ensure_ascii): everything outside
// printable ASCII as \uXXXX (lower-case hex, surrogate pairs above U+FFFF), which is how LIMIT's
// files were written.
void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  std::size_t position = 0;
  while (position < text.size()) {
    char32_t code_point = 0;
    if (!next_code_point(text, position, code_point)) {
      throw DataError(fmt::format("cannot write as JSON, not valid UTF-8: {}", text));
    }
    switch (code_point) {
      case U'"': out += "\\\""; continue;
      case U'\\': out += "\\\\"; continue;
      case U'\n': out += "\\n"; continue;
      case U'\r': out += "\\r"; continue;
      case U'\t': out += "\\t"; continue;
      case U'\b': out += "\\b"; continue;
      case U'\f': out += "\\f"; continue;
      default: break;
    }
    if (code_point >= 0x20 && code_point <= 0x7E) {
      out += static_cast<char>(code_point);
    } else if (code_point <= 0xFFFF) {
      out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(code_point));
    } else {
      const std::uint32_t offset = static_cast<std::uint32_t>(code_point) - 0x10000U;
      out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800U + (offset >> 10U), 0xDC00U + (offset & 0x3FFU));
    }
  }
  out += '"';
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kWhitespace = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

std::ifstream open_for_reading(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw IoError(path, "is a folder, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open for reading");
  return in;
}

// C(n, k) >= target, without overflow.
bool combinations_reach(std::size_t n, std::size_t k, std::size_t target) {
  __extension__ using Wide = unsigned __int128;
  Wide count = 1;
  for (std::size_t i = 1; i <= k; ++i) {
    count = count * (n - k + i) / i;  // C(n - k + i, i), exact at every step
    if (count >= target) return true;
  }
  return count >= target;
}

// Steps a k-combination of {0..n-1} (ascending indices) to its lexicographic successor.
void next_combination(std::vector<std::size_t>& combination, std::size_t n) {
  const std::size_t k = combination.size();
  std::size_t i = k;
  while (i > 0 && combination[i - 1] == n - k + i - 1) --i;
  // Only called while a successor exists (fewer queries than C(n, k)), so i > 0 here.
  ++combination[i - 1];
  for (std::size_t j = i; j < k; ++j) combination[j] = combination[j - 1] + 1;
}

// The relevant documents of every query (pool indices, query-major, `k` per query): query i gets
// the i-th k-subset of the pool in lexicographic order, as LIMIT's generator assigns them.
std::vector<std::size_t> query_members(std::size_t queries, std::size_t k, std::size_t pool) {
  std::vector<std::size_t> members;
  members.reserve(queries * k);
  std::vector<std::size_t> combination(k);
  std::iota(combination.begin(), combination.end(), std::size_t{0});
  for (std::size_t query = 0; query < queries; ++query) {
    if (query > 0) next_combination(combination, pool);
    members.insert(members.end(), combination.begin(), combination.end());
  }
  return members;
}

// Appends distinct entries of `population` to `listed` until it holds `count`. `drawn_for` (one
// slot per population entry) remembers the last `key` that drew each entry, so that it need not be
// cleared between documents.
void draw_distinct(SeededRandom& random, std::size_t count, const std::vector<std::size_t>& population,
                   std::vector<std::size_t>& drawn_for, std::size_t key, std::vector<std::size_t>& listed) {
  while (listed.size() < count) {
    const std::size_t index = random.below(population.size());
    if (drawn_for[index] == key) continue;
    drawn_for[index] = key;
    listed.push_back(population[index]);
  }
}

// Per-document attribute counts and text lengths.
class DocumentTally {
 public:
  void add(std::size_t attributes, std::size_t text_chars) {
    min_attributes_ = std::min(min_attributes_, attributes);
    max_attributes_ = std::max(max_attributes_, attributes);
    min_chars_ = std::min(min_chars_, text_chars);
    max_chars_ = std::max(max_chars_, text_chars);
    total_attributes_ += attributes;
    total_chars_ += text_chars;
    ++documents_;
  }
  void store(GenerationStatistics& statistics) const {
    statistics.min_attributes = min_attributes_;
    statistics.max_attributes = max_attributes_;
    statistics.min_text_chars = min_chars_;
    statistics.max_text_chars = max_chars_;
    statistics.mean_attributes = static_cast<double>(total_attributes_) / static_cast<double>(documents_);
    statistics.mean_text_chars = static_cast<double>(total_chars_) / static_cast<double>(documents_);
  }

 private:
  std::size_t min_attributes_ = std::numeric_limits<std::size_t>::max(), max_attributes_ = 0;
  std::size_t min_chars_ = std::numeric_limits<std::size_t>::max(), max_chars_ = 0;
  std::size_t total_attributes_ = 0, total_chars_ = 0, documents_ = 0;
};

void require_attribute_counts(const AttributeCountRange& range) {
  if (range.min == 0 || range.min > range.max) {
    throw UsageError(fmt::format("--attributes-per-document {}-{}: expected 1 <= MIN <= MAX", range.min, range.max));
  }
}

std::size_t saturating_product(std::size_t a, std::size_t b) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return std::numeric_limits<std::size_t>::max();
  return a * b;
}

template <typename Strings>
void require_distinct(const Strings& values, const char* what) {
  std::vector<std::string_view> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  if (const auto duplicate = std::adjacent_find(sorted.begin(), sorted.end()); duplicate != sorted.end()) {
    throw UsageError(fmt::format("the {} list holds '{}' twice", what, *duplicate));
  }
}

// LIMIT joins the last two attributes with " and ", the seed's training set with a comma.
enum class LastSeparator { and_word, comma };

std::string document_text(const std::string& name, const std::vector<std::size_t>& attribute_indices,
                          const std::vector<std::string>& attributes, LastSeparator last = LastSeparator::and_word) {
  std::string text = name;
  text += " likes ";
  for (std::size_t i = 0; i < attribute_indices.size(); ++i) {
    if (i > 0) text += i + 1 == attribute_indices.size() && last == LastSeparator::and_word ? " and " : ", ";
    text += attributes[attribute_indices[i]];
  }
  text += '.';
  return text;
}

fs::path normalized_output(const fs::path& output) {
  std::error_code ec;
  fs::path path = fs::weakly_canonical(fs::absolute(output, ec), ec);
  if (ec) throw IoError(output, "cannot resolve the path: " + ec.message());
  if (path.filename().empty()) path = path.parent_path();
  return path;
}

// Removes the temporary folder unless the dataset was moved into place.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(fs::path path) : path_(std::move(path)) {
    std::error_code ec;
    fs::remove_all(path_, ec);  // a leftover of a killed run with the same process id
    if (!fs::create_directory(path_, ec) || ec) {
      throw IoError(path_, "cannot create temporary folder: " + (ec ? ec.message() : std::string("exists")));
    }
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  ~TemporaryFolder() {
    std::error_code ignored;
    if (!released_) fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  fs::path path_;
  bool released_ = false;
};

template <typename Records, typename Format>
void write_jsonl(const fs::path& path, const Records& records, Format format) {
  AtomicFileWriter file(path);
  std::string buffer;
  constexpr std::size_t kFlushBytes = 1U << 20U;
  for (const auto& record : records) {
    buffer += format(record);
    buffer += '\n';
    if (buffer.size() >= kFlushBytes) {
      file.stream().write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      buffer.clear();
    }
  }
  file.stream().write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  file.commit();
}

}  // namespace

AttributeCountRange parse_attribute_count_range(std::string_view text) {
  const auto parse_count = [text](std::string_view part) {
    std::size_t value = 0;
    const auto* end = part.data() + part.size();
    const auto [stop, error] = std::from_chars(part.data(), end, value);
    if (part.empty() || error != std::errc{} || stop != end || value == 0) {
      throw UsageError(
          fmt::format("attribute count '{}': expected a count N or a range MIN-MAX of counts of at least 1", text));
    }
    return value;
  };
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    const std::size_t count = parse_count(text);
    return {count, count};
  }
  const AttributeCountRange range{parse_count(text.substr(0, dash)), parse_count(text.substr(dash + 1))};
  if (range.min > range.max) {
    throw UsageError(fmt::format("attribute count range '{}': MIN is larger than MAX", text));
  }
  return range;
}

std::vector<std::string> load_attributes(const fs::path& path) {
  std::ifstream in = open_for_reading(path);
  std::vector<std::string> attributes;
  std::unordered_set<std::string> seen;  // membership only; the order is the file's
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string_view attribute = trim(line);
    if (attribute.empty()) continue;
    if (!is_valid_utf8(attribute)) throw DataError(path, line_number, "not valid UTF-8");
    if (attribute.find(',') != std::string_view::npos) {
      throw DataError(path, line_number, "an attribute cannot hold a comma (documents list attributes with commas)");
    }
    if (!seen.emplace(attribute).second) {
      throw DataError(path, line_number, fmt::format("duplicate attribute '{}'", attribute));
    }
    attributes.emplace_back(attribute);
  }
  if (in.bad()) throw IoError(path, "read failed");
  if (attributes.empty()) throw DataError(path, 0, "no attributes: expected one per line");
  return attributes;
}

NameLists load_names(const fs::path& path) {
  std::ifstream in = open_for_reading(path);
  NameLists names;
  std::vector<std::string>* section = nullptr;
  bool seen_first = false;
  bool seen_last = false;
  std::unordered_set<std::string> seen_in_section;  // membership only
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const std::string_view entry = trim(line);
    if (entry.empty() || entry.front() == '#') continue;
    if (entry == "[first]" || entry == "[last]") {
      bool& seen = entry == "[first]" ? seen_first : seen_last;
      if (seen) throw DataError(path, line_number, fmt::format("second {} section", entry));
      seen = true;
      section = entry == "[first]" ? &names.first : &names.last;
      seen_in_section.clear();
      continue;
    }
    if (section == nullptr) {
      throw DataError(path, line_number, "a name before any section: start the file with [first] or [last]");
    }
    if (!is_valid_utf8(entry)) throw DataError(path, line_number, "not valid UTF-8");
    if (entry.front() == '[') throw DataError(path, line_number, "unknown section: expected [first] or [last]");
    if (entry.find_first_of(" \t,") != std::string_view::npos) {
      throw DataError(path, line_number, "a name is one word (no space, tab or comma)");
    }
    if (!seen_in_section.emplace(entry).second) {
      throw DataError(path, line_number, fmt::format("duplicate name '{}' in this section", entry));
    }
    section->emplace_back(entry);
  }
  if (in.bad()) throw IoError(path, "read failed");
  if (names.first.empty()) throw DataError(path, 0, "no first names: expected a [first] section with names");
  if (names.last.empty()) throw DataError(path, 0, "no last names: expected a [last] section with names");
  return names;
}

std::size_t relevant_pool_size(std::size_t queries, std::size_t relevant_per_query) {
  if (relevant_per_query == 0) return 0;
  std::size_t pool = relevant_per_query;
  while (!combinations_reach(pool, relevant_per_query, queries)) ++pool;
  return pool;
}

void validate_generate_options(const GenerateOptions& options, const std::vector<std::string>& attributes,
                               const NameLists& names) {
  const std::size_t k = options.relevant_per_query;
  const auto& range = options.attributes_per_document;
  if (options.documents == 0) throw UsageError("--documents must be at least 1");
  if (options.queries == 0) throw UsageError("--queries must be at least 1");
  if (k == 0) throw UsageError("--relevant-per-query must be at least 1");
  require_attribute_counts(range);
  if (k > options.documents) {
    throw UsageError(fmt::format("--relevant-per-query {} is more than --documents {}", k, options.documents));
  }
  if (attributes.empty()) throw UsageError("the attribute list is empty");
  require_distinct(attributes, "attribute");
  if (options.queries > attributes.size()) {
    throw UsageError(fmt::format("--queries {} needs as many distinct attributes, but the attribute list has {}",
                                 options.queries, attributes.size()));
  }
  const std::size_t pool = relevant_pool_size(options.queries, k);
  if (pool > options.documents) {
    throw UsageError(fmt::format(
        "--queries {} with --relevant-per-query {} needs at least {} documents (each query's relevant set is a "
        "different {}-subset of the smallest document pool that has enough: C({}, {}) >= {}), but --documents is {}",
        options.queries, k, pool, k, pool, k, options.queries, options.documents));
  }
  // Attributes that no query asks about fill the documents up to their drawn count; a document
  // outside the pool needs up to MAX of them, a pool document MAX minus its query attributes.
  std::size_t fewest_query_attributes = 0;
  if (options.documents == pool) {
    std::vector<std::size_t> loads(pool, 0);
    for (const std::size_t member : query_members(options.queries, k, pool)) ++loads[member];
    fewest_query_attributes = *std::min_element(loads.begin(), loads.end());
  }
  const std::size_t fillers_needed = range.max > fewest_query_attributes ? range.max - fewest_query_attributes : 0;
  const std::size_t fillers_available = attributes.size() - options.queries;
  if (fillers_needed > fillers_available) {
    throw UsageError(fmt::format(
        "documents list up to {} attributes, so some need {} attributes that no query asks about, but the attribute "
        "list has {} and --queries {} takes {} of them, leaving {}: lower --attributes-per-document or --queries",
        range.max, fillers_needed, attributes.size(), options.queries, options.queries, fillers_available));
  }
  if (names.first.empty() || names.last.empty()) throw UsageError("the names list needs first and last names");
  require_distinct(names.first, "first name");
  require_distinct(names.last, "last name");
  const std::size_t distinct_ids =
      saturating_product(saturating_product(names.first.size(), names.last.size()), kMiddleInitials + 1);
  if (options.documents > distinct_ids) {
    throw UsageError(fmt::format(
        "--documents {} is more than the {} distinct ids that {} first names and {} last names give (with middle "
        "initials): use a longer names list",
        options.documents, distinct_ids, names.first.size(), names.last.size()));
  }
}

GeneratedDataset generate_dataset(const GenerateOptions& options, const std::vector<std::string>& attributes,
                                  const NameLists& names) {
  validate_generate_options(options, attributes, names);
  const std::size_t documents = options.documents;
  const std::size_t queries = options.queries;
  const std::size_t k = options.relevant_per_query;
  const std::size_t pool = relevant_pool_size(queries, k);

  // The queries ask about a random `queries` of the attributes; the others are fillers.
  std::vector<std::size_t> shuffled_attributes(attributes.size());
  std::iota(shuffled_attributes.begin(), shuffled_attributes.end(), std::size_t{0});
  Random(options.seed, Stage::query_attributes).shuffle(shuffled_attributes);
  const std::vector<std::size_t> query_attribute(shuffled_attributes.begin(),
                                                 shuffled_attributes.begin() + static_cast<std::ptrdiff_t>(queries));
  std::vector<bool> asked(attributes.size(), false);
  for (const std::size_t attribute : query_attribute) asked[attribute] = true;
  std::vector<std::size_t> fillers;
  for (std::size_t attribute = 0; attribute < attributes.size(); ++attribute) {
    if (!asked[attribute]) fillers.push_back(attribute);
  }

  const std::vector<std::size_t> members = query_members(queries, k, pool);
  std::vector<std::vector<std::size_t>> queries_of_pool_document(pool);
  for (std::size_t query = 0; query < queries; ++query) {
    for (std::size_t i = 0; i < k; ++i) queries_of_pool_document[members[query * k + i]].push_back(query);
  }

  // The pool documents sit at random corpus positions (a partial Fisher-Yates shuffle).
  std::vector<std::size_t> positions(documents);
  std::iota(positions.begin(), positions.end(), std::size_t{0});
  {
    Random random(options.seed, Stage::pool_positions);
    for (std::size_t i = 0; i < pool; ++i) std::swap(positions[i], positions[i + random.below(documents - i)]);
  }
  std::vector<std::size_t> pool_index_at(documents, kUnset);
  for (std::size_t j = 0; j < pool; ++j) pool_index_at[positions[j]] = j;

  GeneratedDataset dataset;
  GenerationStatistics& statistics = dataset.statistics;
  statistics.relevant_pool = pool;
  statistics.filler_attributes = fillers.size();

  // Ids: a uniformly drawn first and last name; a pair already taken is redrawn, and after a few
  // attempts may take a middle initial instead ("First M. Last").
  std::vector<std::string> ids(documents);
  {
    Random random(options.seed, Stage::names);
    std::unordered_set<std::uint64_t> taken;  // membership only
    taken.reserve(documents);
    const std::uint64_t last_count = names.last.size();
    for (std::size_t position = 0; position < documents; ++position) {
      for (int attempt = 0;; ++attempt) {
        const std::uint64_t first = random.below(names.first.size());
        const std::uint64_t last = random.below(last_count);
        const std::uint64_t pair = first * last_count + last;
        if (taken.insert(pair * (kMiddleInitials + 1)).second) {
          ids[position] = fmt::format("{} {}", names.first[first], names.last[last]);
          break;
        }
        if (attempt >= kPlainNameAttempts) {
          const std::uint64_t initial = random.below(kMiddleInitials);
          if (taken.insert(pair * (kMiddleInitials + 1) + 1 + initial).second) {
            ids[position] = fmt::format("{} {}. {}", names.first[first], static_cast<char>('A' + initial),
                                        names.last[last]);
            ++statistics.middle_initials;
            break;
          }
        }
      }
    }
  }

  // Attributes: the document's query attributes, then distinct fillers up to a drawn count, in a
  // random order.
  dataset.corpus.reserve(documents);
  {
    Random random(options.seed, Stage::document_attributes);
    const auto& range = options.attributes_per_document;
    std::vector<std::size_t> filler_drawn_for(fillers.size(), kUnset);  // last position that drew it
    std::vector<std::size_t> listed;
    DocumentTally tally;
    for (std::size_t position = 0; position < documents; ++position) {
      listed.clear();
      if (const std::size_t j = pool_index_at[position]; j != kUnset) {
        for (const std::size_t query : queries_of_pool_document[j]) listed.push_back(query_attribute[query]);
      }
      const std::size_t drawn_count = range.min + random.below(range.max - range.min + 1);
      draw_distinct(random, drawn_count, fillers, filler_drawn_for, position, listed);
      random.shuffle(listed);
      Document document{.id = ids[position], .title = "", .text = document_text(ids[position], listed, attributes)};
      tally.add(listed.size(), document.text.size());
      dataset.corpus.push_back(std::move(document));
    }
    tally.store(statistics);
  }

  dataset.queries.reserve(queries);
  dataset.qrels.reserve(queries * k);
  for (std::size_t query = 0; query < queries; ++query) {
    std::string query_id = fmt::format("query_{}", query);
    for (std::size_t i = 0; i < k; ++i) {
      const std::string& document_id = ids[positions[members[query * k + i]]];
      dataset.qrels.push_back({.query_id = query_id, .document_id = document_id, .score = 1});
    }
    std::string text = fmt::format("Who likes {}?", attributes[query_attribute[query]]);
    dataset.queries.push_back({.id = std::move(query_id), .text = std::move(text)});
  }
  return dataset;
}

std::vector<std::string> load_asked_attributes(const fs::path& queries_file) {
  constexpr std::string_view kPrefix = "Who likes ";
  std::vector<std::string> asked;
  for (const Query& query : load_queries(queries_file)) {
    const std::string_view text = query.text;
    if (!text.starts_with(kPrefix) || !text.ends_with('?') || text.size() <= kPrefix.size() + 1) {
      throw DataError::at_id(queries_file, query.id,
                             fmt::format("query '{}' is not of the form \"Who likes X?\"", query.text));
    }
    asked.emplace_back(text.substr(kPrefix.size(), text.size() - kPrefix.size() - 1));
  }
  return asked;
}

std::vector<std::string> attributes_except(const std::vector<std::string>& attributes,
                                           const std::vector<std::string>& excluded) {
  const std::unordered_set<std::string> removed(excluded.begin(), excluded.end());  // membership only
  std::vector<std::string> kept;
  for (const auto& attribute : attributes) {
    if (!removed.contains(attribute)) kept.push_back(attribute);
  }
  return kept;
}

void validate_train_set_options(const TrainSetOptions& options, const std::vector<std::string>& attributes,
                                const NameLists& names) {
  const auto& range = options.attributes_per_document;
  if (options.documents == 0) throw UsageError("--documents must be at least 1");
  if (options.queries == 0) throw UsageError("--queries must be at least 1");
  if (options.relevant_per_query == 0) throw UsageError("--relevant-per-query must be at least 1");
  require_attribute_counts(range);
  if (options.relevant_per_query > options.documents) {
    throw UsageError(fmt::format("--relevant-per-query {} is more than --documents {}", options.relevant_per_query,
                                 options.documents));
  }
  require_distinct(attributes, "attribute");
  if (range.max > attributes.size()) {
    throw UsageError(fmt::format("--attributes-per-document up to {} distinct attributes, but only {} training "
                                 "attributes remain once the test queries' attributes are removed",
                                 range.max, attributes.size()));
  }
  if (names.first.empty() || names.last.empty()) throw UsageError("the names list needs first and last names");
}

GeneratedDataset build_train_set(const TrainSetOptions& options, const std::vector<std::string>& attributes,
                                 const NameLists& names) {
  validate_train_set_options(options, attributes, names);
  const std::size_t documents = options.documents;
  const std::size_t k = options.relevant_per_query;
  const auto& range = options.attributes_per_document;
  GeneratedDataset dataset;
  GenerationStatistics& statistics = dataset.statistics;

  // Names and attribute lists draw from their own streams: more documents leave the first ones alone.
  std::vector<std::vector<std::size_t>> listing(attributes.size());  // documents listing each attribute, ascending
  {
    Random name_random(options.seed, Stage::train_names);
    Random attribute_random(options.seed, Stage::train_document_attributes);
    std::vector<std::size_t> everything(attributes.size());
    std::iota(everything.begin(), everything.end(), std::size_t{0});
    std::vector<std::size_t> drawn_for(attributes.size(), kUnset);
    std::vector<std::size_t> listed;
    DocumentTally tally;
    dataset.corpus.reserve(documents);
    for (std::size_t position = 0; position < documents; ++position) {
      const std::string& first = names.first[name_random.below(names.first.size())];
      const std::string& last = names.last[name_random.below(names.last.size())];
      listed.clear();
      const std::size_t count = range.min + attribute_random.below(range.max - range.min + 1);
      draw_distinct(attribute_random, count, everything, drawn_for, position, listed);
      for (const std::size_t attribute : listed) listing[attribute].push_back(position);
      Document document{.id = fmt::format("doc_{}", position),
                        .title = "",
                        .text = document_text(fmt::format("{} {}", first, last), listed, attributes,
                                              LastSeparator::comma)};
      tally.add(listed.size(), document.text.size());
      dataset.corpus.push_back(std::move(document));
    }
    tally.store(statistics);
  }

  std::vector<std::size_t> qualifying;
  for (std::size_t attribute = 0; attribute < attributes.size(); ++attribute) {
    if (listing[attribute].size() >= k) qualifying.push_back(attribute);
  }
  if (qualifying.empty()) {
    throw UsageError(fmt::format("no attribute is listed by --relevant-per-query {} documents: raise --documents or "
                                 "--attributes-per-document, or lower --relevant-per-query",
                                 k));
  }
  Random random(options.seed, Stage::train_queries);
  std::vector<std::size_t> order;
  std::vector<bool> relevant_somewhere(documents, false);
  std::vector<bool> asked(attributes.size(), false);
  std::vector<std::size_t> candidates;
  dataset.queries.reserve(options.queries);
  dataset.qrels.reserve(options.queries * k);
  for (std::size_t query = 0; query < options.queries; ++query) {
    if (order.empty()) {
      // A fresh random order of every qualifying attribute, taken from the back; a second round
      // asks about attributes again.
      order = qualifying;
      random.shuffle(order);
      if (query > 0) statistics.reused_query_attributes += std::min(order.size(), options.queries - query);
    }
    const std::size_t attribute = order.back();
    order.pop_back();
    asked[attribute] = true;
    // k distinct listing documents (a partial Fisher-Yates shuffle), judged in corpus order.
    candidates = listing[attribute];
    for (std::size_t i = 0; i < k; ++i) std::swap(candidates[i], candidates[i + random.below(candidates.size() - i)]);
    std::sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(k));
    std::string query_id = fmt::format("query_{}", query);
    for (std::size_t i = 0; i < k; ++i) {
      relevant_somewhere[candidates[i]] = true;
      dataset.qrels.push_back({.query_id = query_id, .document_id = dataset.corpus[candidates[i]].id, .score = 1});
    }
    dataset.queries.push_back({.id = std::move(query_id), .text = fmt::format("Who likes {}?", attributes[attribute])});
  }
  statistics.relevant_pool = static_cast<std::size_t>(std::count(relevant_somewhere.begin(), relevant_somewhere.end(), true));
  statistics.filler_attributes = static_cast<std::size_t>(std::count(asked.begin(), asked.end(), false));
  return dataset;
}

std::string corpus_line(const Document& document) {
  std::string line = "{\"_id\": ";
  append_json_string(line, document.id);
  line += ", \"title\": ";
  append_json_string(line, document.title);
  line += ", \"text\": ";
  append_json_string(line, document.text);
  line += '}';
  return line;
}

std::string query_line(const Query& query) {
  std::string line = "{\"_id\": ";
  append_json_string(line, query.id);
  line += ", \"text\": ";
  append_json_string(line, query.text);
  line += '}';
  return line;
}

std::string qrels_line(const Judgement& judgement) {
  std::string line = "{\"query-id\": ";
  append_json_string(line, judgement.query_id);
  line += ", \"corpus-id\": ";
  append_json_string(line, judgement.document_id);
  line += fmt::format(", \"score\": {}}}", judgement.score);
  return line;
}

void check_output_folder(const fs::path& output, bool overwrite) {
  std::error_code ec;
  const auto status = fs::status(output, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) throw IoError(output, "cannot inspect: " + ec.message());
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status)) throw IoError(output, "exists and is not a folder");
  const bool empty = fs::is_empty(output, ec);
  if (ec) throw IoError(output, "cannot list: " + ec.message());
  if (!empty && !overwrite) {
    throw UsageError(fmt::format("{} is not empty; refusing to overwrite it (--force replaces its corpus.jsonl, "
                                 "queries.jsonl and qrels.jsonl)",
                                 output.string()));
  }
}

void write_generated_dataset(const GeneratedDataset& dataset, const fs::path& output, bool overwrite) {
  check_output_folder(output, overwrite);
  const fs::path target = normalized_output(output);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) throw IoError(target.parent_path(), "cannot create folder: " + ec.message());

  // Beside the target, hence on the same file system: the renames below are atomic. Each file is
  // flushed to disk inside it (AtomicFileWriter), and each rename with its folder, as other outputs are.
  remove_abandoned_temporaries(target.parent_path(), target.filename().string() + ".tmp.");
  TemporaryFolder temporary(atomic_temporary_path(target, ::getpid(), 0));
  write_jsonl(temporary.path() / kDatasetFiles[0], dataset.corpus, corpus_line);
  write_jsonl(temporary.path() / kDatasetFiles[1], dataset.queries, query_line);
  write_jsonl(temporary.path() / kDatasetFiles[2], dataset.qrels, qrels_line);

  const bool replace_whole_folder = !fs::exists(target, ec) || fs::is_empty(target, ec);
  if (replace_whole_folder) {
    // rename(2) replaces an empty folder.
    fs::rename(temporary.path(), target, ec);
    if (ec) throw IoError(target, "cannot move the generated dataset into place: " + ec.message());
    temporary.release();
    sync_folder(target.parent_path());
    return;
  }
  for (const char* name : kDatasetFiles) {
    fs::rename(temporary.path() / name, target / name, ec);
    if (ec) throw IoError(target / name, "cannot move into place: " + ec.message());
  }
  sync_folder(target);
}

}  // namespace limit_eval::data
