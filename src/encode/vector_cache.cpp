#include "limit_eval/encode/vector_cache.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <fstream>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/checksum.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/file_name.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/core/version.hpp"

namespace limit_eval::encode {

namespace {

constexpr std::string_view kMagic = "LIMITVEC";
constexpr std::size_t kDigestBytes = 32;
constexpr std::size_t kKeyDigestOffset = 48;
constexpr std::size_t kChecksumOffset = kKeyDigestOffset + kDigestBytes;
constexpr std::size_t kHeaderBytes = kChecksumOffset + kDigestBytes;
// Documents hashed per SHA-256 call in corpus_digest, which bounds the memory it needs.
constexpr std::size_t kCorpusDigestBlock = 4096;

// ---- little-endian serialization -------------------------------------------------------------

template <typename T>
void append_scalar(std::string& out, T value) {
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  static_assert(sizeof(T) == sizeof(Bits));
  const auto bits = std::bit_cast<Bits>(value);
  for (std::size_t byte = 0; byte < sizeof(T); ++byte) out.push_back(static_cast<char>((bits >> (8 * byte)) & 0xFF));
}

template <typename T>
void append_array(std::string& out, std::span<const T> values) {
  if constexpr (std::endian::native == std::endian::little) {
    out.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  } else {
    for (const T value : values) append_scalar(out, value);
  }
}

template <typename T>
T scalar_at(std::string_view bytes, std::size_t offset) {
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
  Bits bits = 0;
  for (std::size_t byte = 0; byte < sizeof(T); ++byte) {
    bits |= static_cast<Bits>(static_cast<unsigned char>(bytes[offset + byte])) << (8 * byte);
  }
  return std::bit_cast<T>(bits);
}

template <typename T>
std::vector<T> array_at(std::string_view bytes, std::size_t offset, std::size_t count) {
  std::vector<T> values(count);
  if constexpr (std::endian::native == std::endian::little) {
    // An empty vector's data() may be null, which memcpy must not be given even for 0 bytes.
    if (count > 0) std::memcpy(values.data(), bytes.data() + offset, count * sizeof(T));
  } else {
    for (std::size_t i = 0; i < count; ++i) values[i] = scalar_at<T>(bytes, offset + i * sizeof(T));
  }
  return values;
}

std::string hex_to_bytes(std::string_view hex) {
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

std::string bytes_to_hex(std::string_view bytes) {
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const char byte : bytes) hex += fmt::format("{:02x}", static_cast<unsigned char>(byte));
  return hex;
}

// SHA-256 of the file's bytes with the checksum field zeroed; `file` is modified and restored.
std::string file_checksum_bytes(std::string& file) {
  std::array<char, kDigestBytes> stored{};
  std::memcpy(stored.data(), file.data() + kChecksumOffset, kDigestBytes);
  std::memset(file.data() + kChecksumOffset, 0, kDigestBytes);
  std::string digest = hex_to_bytes(sha256_bytes(file));
  std::memcpy(file.data() + kChecksumOffset, stored.data(), kDigestBytes);
  return digest;
}

std::uint64_t expected_file_size(std::uint64_t rows, std::uint64_t nnz) {
  return kHeaderBytes + (rows + 1) * sizeof(std::uint64_t) + nnz * (sizeof(std::uint32_t) + sizeof(float));
}

// ---- chunk matrix helpers --------------------------------------------------------------------

// The rows of `parts`, in order, as one matrix; each part is released once copied.
sparse::CsrMatrix concatenate_rows(std::vector<std::optional<sparse::CsrMatrix>>& parts, std::uint32_t columns) {
  sparse::CsrMatrix result;
  result.cols = columns;
  std::size_t rows = 0;
  std::size_t nnz = 0;
  for (const auto& part : parts) {
    rows += part->rows;
    nnz += part->nnz();
  }
  result.indptr.reserve(rows + 1);
  result.indices.reserve(nnz);
  result.values.reserve(nnz);
  for (auto& part : parts) {
    const std::uint64_t offset = result.indices.size();
    for (std::uint32_t r = 0; r < part->rows; ++r) result.indptr.push_back(offset + part->indptr[r + 1]);
    result.indices.insert(result.indices.end(), part->indices.begin(), part->indices.end());
    result.values.insert(result.values.end(), part->values.begin(), part->values.end());
    result.rows += part->rows;
    part.reset();
  }
  return result;
}

// Checks what the CsrMatrix invariants promise its users; a checksum guards against damage, this
// against a chunk written by a buggy version.
std::optional<std::string> invalid_matrix_reason(const sparse::CsrMatrix& m) {
  if (m.indptr.front() != 0 || m.indptr.back() != m.nnz()) return "row offsets do not span the entries";
  for (std::uint32_t r = 0; r < m.rows; ++r) {
    if (m.indptr[r] > m.indptr[r + 1]) return fmt::format("row offsets decrease at row {}", r);
    if (m.indptr[r + 1] > m.nnz()) return fmt::format("row offsets pass the entries at row {}", r);
    const auto columns = m.row_indices(r);
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] >= m.cols) return fmt::format("row {} has column {} of {}", r, columns[i], m.cols);
      if (i > 0 && columns[i] <= columns[i - 1]) return fmt::format("row {} has unsorted columns", r);
    }
  }
  return std::nullopt;
}

// ---- cache folder ----------------------------------------------------------------------------

std::filesystem::path chunk_path(const std::filesystem::path& folder, std::size_t index) {
  return folder / fmt::format("chunk-{:06}.bin", index);
}

std::string chunks_phrase(std::size_t count) { return fmt::format("{} chunk{}", count, count == 1 ? "" : "s"); }

std::string device_type(const std::string& device) { return device.substr(0, device.find(':')); }

}  // namespace

// ---- report ----------------------------------------------------------------------------------

std::string_view to_string(CacheStatus status) {
  switch (status) {
    case CacheStatus::hit: return "hit";
    case CacheStatus::miss: return "miss";
    case CacheStatus::resumed: return "resumed";
    case CacheStatus::rebuilt: return "rebuilt";
    case CacheStatus::disabled: return "disabled";
  }
  return "?";
}

nlohmann::json CacheReport::to_json() const {
  nlohmann::json out = {{"status", to_string(status)}};
  if (!reason.empty()) out["reason"] = reason;
  if (!path.empty()) out["path"] = path.string();
  if (!key.empty()) out["key"] = key;
  if (chunks_total > 0) {
    std::vector<std::string> damaged;
    for (const auto& file : damaged_files) damaged.push_back(file.string());
    out["chunk_documents"] = chunk_documents;
    out["chunks"] = {{"total", chunks_total}, {"loaded", chunks_loaded}, {"encoded", chunks_encoded}};
    out["damaged_files"] = damaged;
    out["load_seconds"] = load_seconds;
    out["encode_seconds"] = encode_seconds;
    out["cached_encode_seconds"] = cached_encode_seconds;
  }
  if (!store_error.empty()) out["store_error"] = store_error;
  return out;
}

// ---- key -------------------------------------------------------------------------------------

std::string corpus_digest(std::span<const data::Document> corpus) {
  std::string block_digests;
  std::string block;
  for (std::size_t begin = 0; begin < corpus.size(); begin += kCorpusDigestBlock) {
    block.clear();
    for (const auto& doc : corpus.subspan(begin, std::min(kCorpusDigestBlock, corpus.size() - begin))) {
      for (const std::string* field : {&doc.id, &doc.title, &doc.text}) {
        append_scalar(block, static_cast<std::uint64_t>(field->size()));
        block += *field;
      }
    }
    block_digests += sha256_bytes(block);
  }
  return sha256_bytes(fmt::format("{}:{}", corpus.size(), block_digests));
}

CacheKey make_cache_key(const SparseEncoder& encoder, std::span<const data::Document> corpus,
                        const VectorCacheOptions& options) {
  nlohmann::json model = {{"name", encoder.name()}};
  if (!options.model_manifest.empty()) {
    model["manifest_sha256"] = sha256_file(options.model_manifest);
  } else {
    model["description_sha256"] = sha256_bytes(encoder.describe().dump());
  }
  CacheKey key;
  key.fields = {{"format", "limit-eval-vector-cache"},
                {"format_version", kVectorCacheFormatVersion},
                {"limit_eval_version", kVersion},
                {"model", std::move(model)},
                {"corpus", {{"documents", corpus.size()}, {"sha256", corpus_digest(corpus)}}},
                {"dimensions", encoder.dimensions()},
                {"dtype", encoder.dtype()},
                {"device_type", device_type(encoder.device())},
                {"batch_size", encoder.batch_size()},
                {"chunk_documents", options.chunk_documents}};
  // Other batches may round differently; 0 (the default) leaves the keys of older caches as they were.
  if (encoder.max_batch_tokens() > 0) key.fields["max_batch_tokens"] = encoder.max_batch_tokens();
  key.digest = sha256_bytes(key.fields.dump());
  return key;
}

// ---- chunk files -----------------------------------------------------------------------------

void write_chunk_file(const std::filesystem::path& path, const ChunkHeader& header, const sparse::CsrMatrix& vectors) {
  std::string file;
  file.reserve(expected_file_size(vectors.rows, vectors.nnz()));
  file += kMagic;
  append_scalar(file, kVectorCacheFormatVersion);
  append_scalar(file, header.chunk_index);
  append_scalar(file, header.first_row);
  append_scalar(file, vectors.rows);
  append_scalar(file, vectors.cols);
  append_scalar(file, static_cast<std::uint64_t>(vectors.nnz()));
  append_scalar(file, header.encode_seconds);
  file += hex_to_bytes(header.key_digest);
  file.append(kDigestBytes, '\0');
  // Row offsets relative to the chunk, whatever the matrix they came from.
  std::vector<std::uint64_t> offsets(vectors.indptr.begin(), vectors.indptr.end());
  for (auto& offset : offsets) offset -= vectors.indptr.front();
  append_array<std::uint64_t>(file, offsets);
  append_array<std::uint32_t>(file, vectors.indices);
  append_array<float>(file, vectors.values);
  const std::string checksum = file_checksum_bytes(file);
  std::memcpy(file.data() + kChecksumOffset, checksum.data(), kDigestBytes);
  write_file_atomically(path, file);
}

ChunkFile read_chunk_file(const std::filesystem::path& path, const ChunkHeader& expected) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw IoError(path, "cannot read: not a regular file");
  // The size of the file opened, not of the name: another process may rename a new copy into place.
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw IoError(path, "cannot read");
  const auto end = in.tellg();
  if (end < 0) throw IoError(path, "cannot read");
  const auto size = static_cast<std::uint64_t>(end);
  std::string file(size, '\0');
  in.seekg(0);
  if (!in.read(file.data(), static_cast<std::streamsize>(size))) throw IoError(path, "cannot read");
  in.close();
  const auto damaged = [&](const std::string& why) { return DataError(path, 0, "damaged cache file: " + why); };
  if (size < kHeaderBytes) throw damaged(fmt::format("{} bytes, shorter than the {}-byte header", size, kHeaderBytes));
  if (std::string_view(file).substr(0, kMagic.size()) != kMagic) throw damaged("not a limit-eval vector chunk (magic)");
  const auto version = scalar_at<std::uint32_t>(file, 8);
  if (version != kVectorCacheFormatVersion) {
    throw damaged(fmt::format("format version {}, expected {}", version, kVectorCacheFormatVersion));
  }
  ChunkFile chunk;
  chunk.header.chunk_index = scalar_at<std::uint32_t>(file, 12);
  chunk.header.first_row = scalar_at<std::uint64_t>(file, 16);
  chunk.header.rows = scalar_at<std::uint32_t>(file, 24);
  chunk.header.columns = scalar_at<std::uint32_t>(file, 28);
  const auto nnz = scalar_at<std::uint64_t>(file, 32);
  chunk.header.encode_seconds = scalar_at<double>(file, 40);
  chunk.header.key_digest = bytes_to_hex(std::string_view(file).substr(kKeyDigestOffset, kDigestBytes));
  // Sizes are checked before any allocation they would drive.
  if (nnz > size || expected_file_size(chunk.header.rows, nnz) != size) {
    throw damaged(
        fmt::format("{} bytes, but its header announces {} rows and {} entries", size, chunk.header.rows, nnz));
  }
  if (file_checksum_bytes(file) != std::string_view(file).substr(kChecksumOffset, kDigestBytes)) {
    throw damaged("checksum mismatch");
  }
  const auto& got = chunk.header;
  if (got.key_digest != expected.key_digest || got.chunk_index != expected.chunk_index ||
      got.first_row != expected.first_row || got.rows != expected.rows || got.columns != expected.columns) {
    throw damaged(fmt::format("holds chunk {} (rows {}+{}, {} columns, key {}) where chunk {} (rows {}+{}, {} columns, "
                              "key {}) belongs",
                              got.chunk_index, got.first_row, got.rows, got.columns, got.key_digest.substr(0, 16),
                              expected.chunk_index, expected.first_row, expected.rows, expected.columns,
                              expected.key_digest.substr(0, 16)));
  }
  auto& m = chunk.vectors;
  m.rows = got.rows;
  m.cols = got.columns;
  std::size_t offset = kHeaderBytes;
  m.indptr = array_at<std::uint64_t>(file, offset, std::size_t{got.rows} + 1);
  offset += m.indptr.size() * sizeof(std::uint64_t);
  m.indices = array_at<std::uint32_t>(file, offset, nnz);
  offset += nnz * sizeof(std::uint32_t);
  m.values = array_at<float>(file, offset, nnz);
  if (const auto reason = invalid_matrix_reason(m)) throw damaged(*reason);
  return chunk;
}

// ---- encoding through the cache --------------------------------------------------------------

std::size_t chunk_count(std::size_t documents, std::size_t chunk_documents) {
  if (chunk_documents == 0) throw UsageError("the vector cache needs chunks of at least one document");
  return (documents + chunk_documents - 1) / chunk_documents;
}

std::pair<std::size_t, std::size_t> shard_chunks(std::size_t chunks, ChunkShard shard) {
  if (shard.count == 0 || shard.index >= shard.count) {
    throw UsageError(fmt::format("shard {} of {} does not exist", shard.index + 1, shard.count));
  }
  // Balanced contiguous ranges, ceil(i * C / N): when shards outnumber chunks, the last ones are empty.
  const auto boundary = [&](std::size_t i) { return (i * chunks + shard.count - 1) / shard.count; };
  return {boundary(shard.index), boundary(shard.index + 1)};
}

namespace {

class CorpusChunks {
 public:
  CorpusChunks(std::span<const data::Document> corpus, std::size_t chunk_documents)
      : corpus_(corpus), chunk_documents_(chunk_documents) {}
  [[nodiscard]] std::size_t count() const { return chunk_count(corpus_.size(), chunk_documents_); }
  [[nodiscard]] std::size_t first_row(std::size_t index) const { return index * chunk_documents_; }
  [[nodiscard]] std::span<const data::Document> documents(std::size_t index) const {
    const std::size_t begin = first_row(index);
    return corpus_.subspan(begin, std::min(chunk_documents_, corpus_.size() - begin));
  }

 private:
  std::span<const data::Document> corpus_;
  std::size_t chunk_documents_;
};

sparse::CsrMatrix encode_chunk(SparseEncoder& encoder, std::span<const data::Document> documents) {
  sparse::CsrMatrix vectors = encoder.encode_documents(documents);
  if (vectors.rows != documents.size() || vectors.cols != encoder.dimensions()) {
    throw ModelError(fmt::format("model {} returned a {}x{} matrix for {} documents over {} dimensions", encoder.name(),
                                 vectors.rows, vectors.cols, documents.size(), encoder.dimensions()));
  }
  return vectors;
}

// Creates the key's folder and records its key; returns why it cannot be written, if so.
std::optional<std::string> prepare_folder(const std::filesystem::path& folder, const CacheKey& key) {
  try {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) return fmt::format("cannot create {}: {}", folder.string(), ec.message());
    remove_abandoned_temporaries(folder);
    // Rewritten every time (processes sharing the folder write the same bytes): this also proves
    // the folder writable before encoding relies on it.
    write_file_atomically(folder / "key.json", key.fields.dump(2) + "\n");
  } catch (const Error& e) {
    return e.what();
  }
  return std::nullopt;
}

// The chunks [first, last) of one call and what is known of them: parts[i] is engaged once chunk
// i is loaded or encoded. The vectors are kept for the run (keep_vectors), and dropped once stored
// by fill_vector_cache, which holds one chunk at a time.
struct ChunkWork {
  CorpusChunks chunks;
  std::size_t first = 0;
  std::size_t last = 0;
  bool keep_vectors = true;
  std::vector<std::optional<sparse::CsrMatrix>> parts;
  std::optional<CacheKey> key;
  bool can_store = false;
};

// Loads every valid chunk of the selection from the key's folder; damaged or unreadable ones are
// reported and left to be encoded again.
void load_cached_chunks(ChunkWork& work, std::uint32_t columns, CacheReport& report) {
  Stopwatch load_clock;
  for (std::size_t index = work.first; index < work.last; ++index) {
    const auto path = chunk_path(report.path, index);
    if (!std::filesystem::exists(path)) continue;
    try {
      auto chunk = read_chunk_file(path, {.chunk_index = static_cast<std::uint32_t>(index),
                                          .first_row = work.chunks.first_row(index),
                                          .rows = static_cast<std::uint32_t>(work.chunks.documents(index).size()),
                                          .columns = columns,
                                          .key_digest = work.key->digest});
      work.parts[index] = work.keep_vectors ? std::move(chunk.vectors) : sparse::CsrMatrix{};
      report.cached_encode_seconds += chunk.header.encode_seconds;
      ++report.chunks_loaded;
    } catch (const Error& e) {  // DataError (damaged) or IoError (unreadable)
      spdlog::warn("{}; encoding this chunk again", e.what());
      report.damaged_files.push_back(path);
    }
  }
  report.load_seconds = load_clock.seconds();
}

CacheStatus status_of(const CacheReport& report, bool has_key, bool can_store) {
  if (!has_key) return CacheStatus::disabled;
  if (!report.damaged_files.empty()) return CacheStatus::rebuilt;
  if (report.chunks_loaded == report.chunks_total) return CacheStatus::hit;
  if (report.chunks_loaded > 0) return CacheStatus::resumed;
  return can_store ? CacheStatus::miss : CacheStatus::disabled;
}

void log_plan(const CacheReport& report, std::size_t chunk_documents) {
  const std::string path = report.path.string();
  switch (report.status) {
    case CacheStatus::hit:
      spdlog::info("corpus vectors loaded from cache {} ({}, {:.3f} s; encoding them took {:.3f} s)", path,
                   chunks_phrase(report.chunks_total), report.load_seconds, report.cached_encode_seconds);
      break;
    case CacheStatus::miss:
      spdlog::info("corpus vectors not cached yet: encoding {} of up to {} documents into {}",
                   chunks_phrase(report.chunks_total), chunk_documents, path);
      break;
    case CacheStatus::resumed:
      spdlog::info("resuming: {} of {} chunks cached in {}", report.chunks_loaded, report.chunks_total, path);
      break;
    case CacheStatus::rebuilt:
      spdlog::info("rebuilding {} damaged of {} in {} ({} cached)", report.damaged_files.size(),
                   chunks_phrase(report.chunks_total), path, report.chunks_loaded);
      break;
    case CacheStatus::disabled:
      break;
  }
  if (!report.store_error.empty() && report.status != CacheStatus::hit) {
    spdlog::warn("vector cache: {}; corpus vectors will not be stored", report.store_error);
  }
}

// Computes the key, prepares its folder and loads the selection's cached chunks (when the cache is
// enabled and has a folder), then sets and logs the report's status.
void open_cache(SparseEncoder& encoder, std::span<const data::Document> corpus, const VectorCacheOptions& options,
                ChunkWork& work, CacheReport& report) {
  report.chunk_documents = options.chunk_documents;
  report.chunks_total = work.last - work.first;
  if (!options.enabled) {
    report.reason = "disabled by --no-cache";
  } else if (options.directory.empty()) {
    report.reason = "no cache folder (set --cache-dir or LIMIT_EVAL_CACHE_DIR)";
    spdlog::warn("vector cache: {}", report.reason);
  } else {
    work.key = make_cache_key(encoder, corpus, options);
    report.key = work.key->digest;
    report.path = std::filesystem::absolute(options.directory) /
                  fmt::format("{}-{}", file_name_part(encoder.name()).substr(0, 64), work.key->digest.substr(0, 16));
    const auto problem = prepare_folder(report.path, *work.key);
    work.can_store = !problem;
    if (problem) report.store_error = *problem;
    if (std::filesystem::is_directory(report.path)) load_cached_chunks(work, encoder.dimensions(), report);
  }
  report.status = status_of(report, work.key.has_value(), work.can_store);
  if (report.status == CacheStatus::disabled && report.reason.empty()) report.reason = report.store_error;
  log_plan(report, options.chunk_documents);
}

// Encodes the selection's chunks that were not loaded, storing each as soon as it is encoded. A
// chunk that cannot be stored ends storing with a warning, or throws when `must_store`.
void encode_missing_chunks(SparseEncoder& encoder, ChunkWork& work, bool must_store, CacheReport& report) {
  std::vector<std::size_t> missing;
  std::size_t to_encode = 0;
  for (std::size_t index = work.first; index < work.last; ++index) {
    if (work.parts[index]) continue;
    missing.push_back(index);
    to_encode += work.chunks.documents(index).size();
  }
  // One bar over every document this run encodes, across the chunks: the encoder's bars (one per
  // chunk) are nested in it and add to it, so it never restarts at a chunk boundary.
  ProgressBar progress("encoding documents", to_encode);
  encoder.set_stage_progress(&progress);
  struct Reset {
    SparseEncoder& encoder;
    ~Reset() {
      encoder.set_stage_progress(nullptr);
      encoder.prepare_next_documents({});
    }
  } reset{encoder};
  for (std::size_t m = 0; m < missing.size(); ++m) {
    const std::size_t index = missing[m];
    const auto documents = work.chunks.documents(index);
    // The encoder may tokenize the next chunk while its model encodes this one.
    if (m + 1 < missing.size()) encoder.prepare_next_documents(work.chunks.documents(missing[m + 1]));
    Stopwatch encode_clock;
    auto vectors = encode_chunk(encoder, documents);
    const double seconds = encode_clock.seconds();
    report.encode_seconds += seconds;
    ++report.chunks_encoded;
    if (work.can_store) {
      try {
        write_chunk_file(chunk_path(report.path, index),
                         {.chunk_index = static_cast<std::uint32_t>(index),
                          .first_row = work.chunks.first_row(index),
                          .encode_seconds = seconds,
                          .key_digest = work.key->digest},
                         vectors);
      } catch (const IoError& e) {
        if (must_store) throw;
        report.store_error = e.what();
        work.can_store = false;
        spdlog::warn("vector cache: {}; the remaining chunks will not be stored", e.what());
      }
    }
    work.parts[index] = work.keep_vectors ? std::move(vectors) : sparse::CsrMatrix{};
    if (work.chunks.count() > 1) {
      // On a terminal the bar says it; a log line would break the bar's line.
      spdlog::log(progress.drawing() ? spdlog::level::debug : spdlog::level::info,
                  "corpus chunk {} of {} encoded: {} documents ({:.3f} s)", index + 1, work.chunks.count(),
                  documents.size(), seconds);
    }
  }
  progress.finish();
}

}  // namespace

sparse::CsrMatrix encode_corpus_cached(SparseEncoder& encoder, std::span<const data::Document> corpus,
                                       const VectorCacheOptions& options, CacheReport& report) {
  report = CacheReport{};
  if (!encoder.documents_are_independent()) {
    report.reason = fmt::format("{} document vectors depend on the whole corpus: encoded in one pass, never cached",
                                encoder.name());
    spdlog::debug("vector cache: {}", report.reason);
    Stopwatch clock;
    // The stage's one bar; the encoder's own bars report into it.
    ProgressBar progress("encoding documents", corpus.size());
    encoder.set_stage_progress(&progress);
    struct Unset {
      SparseEncoder& encoder;
      ~Unset() { encoder.set_stage_progress(nullptr); }
    } unset{encoder};
    auto vectors = encoder.encode_documents(corpus);
    progress.finish();
    report.encode_seconds = clock.seconds();
    return vectors;
  }
  ChunkWork work{.chunks = CorpusChunks(corpus, options.chunk_documents)};
  work.last = work.chunks.count();
  work.parts.resize(work.last);
  open_cache(encoder, corpus, options, work, report);
  encode_missing_chunks(encoder, work, /*must_store=*/false, report);
  return concatenate_rows(work.parts, encoder.dimensions());
}

void fill_vector_cache(SparseEncoder& encoder, std::span<const data::Document> corpus,
                       const VectorCacheOptions& options, ChunkShard shard, CacheReport& report) {
  report = CacheReport{};
  if (!encoder.documents_are_independent()) {
    throw UsageError(fmt::format("{} document vectors depend on the whole corpus: they are never cached, so there is "
                                 "nothing to encode ahead (evaluate it directly)",
                                 encoder.name()));
  }
  if (!options.enabled) throw UsageError("encoding into the vector cache needs the cache (it is disabled)");
  if (options.directory.empty()) {
    throw UsageError("no vector cache folder: give --cache-dir or set LIMIT_EVAL_CACHE_DIR (or HOME)");
  }
  ChunkWork work{.chunks = CorpusChunks(corpus, options.chunk_documents), .keep_vectors = false};
  std::tie(work.first, work.last) = shard_chunks(work.chunks.count(), shard);
  work.parts.resize(work.chunks.count());
  open_cache(encoder, corpus, options, work, report);
  if (!work.can_store) throw IoError(report.path, "the vector cache cannot be written: " + report.store_error);
  encode_missing_chunks(encoder, work, /*must_store=*/true, report);
}

}  // namespace limit_eval::encode
