#include "limit_eval/encode/vector_cache.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/error.hpp"
#include "temp_folder.hpp"

namespace limit_eval::encode {
namespace {

namespace fs = std::filesystem;
using data::Document;

constexpr std::uint32_t kDimensions = 97;
constexpr std::size_t kChunk = 4;

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return hash;
}

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Deterministic per-document vectors (a function of the document's text alone); counts its work
// and can be told to fail on a given call, as an interrupted run would.
class FakeEncoder final : public SparseEncoder {
 public:
  std::string model_name = "fake/model";
  std::string variant = "a";
  std::string dtype_name = "fp32";
  std::string device_string = "cpu";
  bool independent = true;
  std::optional<std::size_t> fail_on_call;  // 0-based index of the encode_documents call that throws
  std::size_t calls = 0;
  std::size_t documents_encoded = 0;
  // What the cache called, in order: "encode <first id>", "next <first id>", "next none".
  std::vector<std::string> protocol;

  [[nodiscard]] std::string name() const override { return model_name; }
  [[nodiscard]] nlohmann::json describe() const override { return {{"kind", "fake"}, {"variant", variant}}; }
  sparse::CsrMatrix encode_documents(std::span<const Document> corpus) override {
    protocol.push_back("encode " + (corpus.empty() ? std::string("none") : corpus.front().id));
    if (fail_on_call && calls == *fail_on_call) throw Interrupted();
    ++calls;
    documents_encoded += corpus.size();
    sparse::CsrBuilder builder(kDimensions);
    for (const auto& doc : corpus) {
      std::vector<std::pair<std::uint32_t, float>> entries;
      std::uint64_t hash = fnv1a(doc.text);
      for (std::uint64_t i = 0; i < hash % 5; ++i) {  // some rows are empty
        hash = hash * 6364136223846793005ULL + 1442695040888963407ULL;
        entries.emplace_back(static_cast<std::uint32_t>((hash >> 33) % kDimensions),
                             static_cast<float>((hash >> 11) % 100000) / 997.0F + 0.001F);
      }
      builder.add_row(entries);
    }
    return std::move(builder).finish();
  }
  sparse::CsrMatrix encode_queries(std::span<const data::Query>) override { return {}; }
  [[nodiscard]] std::uint32_t dimensions() const override { return kDimensions; }
  [[nodiscard]] std::string term(std::uint32_t column) const override { return std::to_string(column); }
  [[nodiscard]] std::string device() const override { return device_string; }
  [[nodiscard]] std::string dtype() const override { return dtype_name; }
  [[nodiscard]] std::size_t batch_size() const override { return 8; }
  [[nodiscard]] bool documents_are_independent() const override { return independent; }
  void prepare_next_documents(std::span<const Document> next) override {
    protocol.push_back("next " + (next.empty() ? std::string("none") : next.front().id));
  }
};

std::vector<Document> make_corpus(std::size_t size, const std::string& salt = "") {
  std::vector<Document> corpus;
  for (std::size_t i = 0; i < size; ++i) {
    corpus.push_back({fmt::format("d{}", i), i % 3 == 0 ? "A title" : "", fmt::format("document {} text{}", i, salt)});
  }
  return corpus;
}

void expect_same_matrix(const sparse::CsrMatrix& a, const sparse::CsrMatrix& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.indices, b.indices);
  ASSERT_EQ(a.values.size(), b.values.size());
  for (std::size_t i = 0; i < a.values.size(); ++i) {
    EXPECT_EQ(std::bit_cast<std::uint32_t>(a.values[i]), std::bit_cast<std::uint32_t>(b.values[i])) << "entry " << i;
  }
}

std::set<std::string> files_in(const fs::path& folder) {
  std::set<std::string> names;
  if (!fs::exists(folder)) return names;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) names.insert(fs::relative(entry.path(), folder).string());
  }
  return names;
}

// Captures what the cache logs, to check its messages.
class CapturedLog {
 public:
  CapturedLog() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(256)), previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("captured", sink_);
    logger->set_level(spdlog::level::debug);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  [[nodiscard]] bool contains(std::string_view fragment) const {
    for (const auto& line : sink_->last_formatted()) {
      if (line.find(fragment) != std::string::npos) return true;
    }
    return false;
  }
  [[nodiscard]] std::string all() const {
    std::string text;
    for (const auto& line : sink_->last_formatted()) text += line;
    return text;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

class VectorCacheTest : public test::TempFolderTest {
 protected:
  void SetUp() override {
    options_.directory = folder_ / "cache";
    options_.chunk_documents = kChunk;
  }

  sparse::CsrMatrix encode(FakeEncoder& encoder, const std::vector<Document>& corpus, CacheReport& report) {
    return encode_corpus_cached(encoder, corpus, options_, report);
  }
  // The vectors the encoder gives for the corpus in one call, without any cache.
  static sparse::CsrMatrix reference(const std::vector<Document>& corpus) {
    FakeEncoder encoder;
    return encoder.encode_documents(corpus);
  }

  VectorCacheOptions options_;
  const std::vector<Document> corpus_ = make_corpus(10);  // chunks of 4, 4 and 2 documents
};

TEST_F(VectorCacheTest, MissThenHitWithoutCallingTheEncoder) {
  FakeEncoder first;
  CacheReport report;
  const auto encoded = encode(first, corpus_, report);
  EXPECT_EQ(report.status, CacheStatus::miss);
  EXPECT_EQ(report.chunks_total, 3U);
  EXPECT_EQ(report.chunks_encoded, 3U);
  EXPECT_EQ(first.documents_encoded, 10U);
  expect_same_matrix(encoded, reference(corpus_));
  EXPECT_EQ(files_in(report.path), (std::set<std::string>{"key.json", "chunk-000000.bin", "chunk-000001.bin",
                                                          "chunk-000002.bin"}));
  EXPECT_EQ(report.path.parent_path(), options_.directory);
  EXPECT_TRUE(report.path.filename().string().starts_with("fake_model-")) << report.path;
  EXPECT_GT(report.encode_seconds, 0.0);

  FakeEncoder second;
  CapturedLog log;
  CacheReport hit;
  const auto loaded = encode(second, corpus_, hit);
  EXPECT_EQ(hit.status, CacheStatus::hit);
  EXPECT_EQ(second.calls, 0U);
  EXPECT_EQ(hit.chunks_loaded, 3U);
  EXPECT_EQ(hit.chunks_encoded, 0U);
  EXPECT_EQ(hit.path, report.path);
  EXPECT_EQ(hit.key, report.key);
  // The original encoding time survives in the chunks, to the bit.
  EXPECT_EQ(hit.cached_encode_seconds, report.encode_seconds);
  EXPECT_EQ(hit.recorded_encode_seconds(), report.encode_seconds);
  EXPECT_TRUE(log.contains("corpus vectors loaded from cache")) << log.all();
  expect_same_matrix(loaded, encoded);

  const auto json = hit.to_json();
  EXPECT_EQ(json["status"], "hit");
  EXPECT_EQ(json["path"], report.path.string());
  EXPECT_EQ(json["chunks"]["loaded"], 3);
}

TEST_F(VectorCacheTest, ResumesAfterAnInterruptionWithTheMissingChunksOnly) {
  FakeEncoder interrupted;
  interrupted.fail_on_call = 2;
  CacheReport report;
  EXPECT_THROW((void)encode(interrupted, corpus_, report), Interrupted);
  // The two finished chunks are stored whole; nothing half-written is left.
  EXPECT_EQ(files_in(report.path), (std::set<std::string>{"key.json", "chunk-000000.bin", "chunk-000001.bin"}));

  FakeEncoder resumed;
  CapturedLog log;
  CacheReport second;
  const auto vectors = encode(resumed, corpus_, second);
  EXPECT_EQ(second.status, CacheStatus::resumed);
  EXPECT_EQ(second.chunks_loaded, 2U);
  EXPECT_EQ(second.chunks_encoded, 1U);
  EXPECT_EQ(resumed.calls, 1U);
  EXPECT_EQ(resumed.documents_encoded, 2U);
  EXPECT_TRUE(log.contains("resuming: 2 of 3 chunks cached")) << log.all();
  expect_same_matrix(vectors, reference(corpus_));

  FakeEncoder third;
  CacheReport hit;
  (void)encode(third, corpus_, hit);
  EXPECT_EQ(hit.status, CacheStatus::hit);
  EXPECT_EQ(third.calls, 0U);
}

struct Damage {
  std::string name;
  std::function<void(const fs::path&)> apply;
  std::string reason;  // in the warning
};

// Flips one bit of the byte at `offset` (from the end when negative).
void flip_byte(const fs::path& path, std::streamoff offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto origin = offset < 0 ? std::ios::end : std::ios::beg;
  file.seekg(offset, origin);
  char byte = 0;
  file.read(&byte, 1);
  file.seekp(offset, origin);
  byte = static_cast<char>(byte ^ 0x40);
  file.write(&byte, 1);
}

// Sets the bytes at `offset` to 0xFF: the largest row or entry count the header can announce.
void saturate_bytes(const fs::path& path, std::streamoff offset, std::size_t count) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(offset);
  const std::string bytes(count, '\xFF');
  file.write(bytes.data(), static_cast<std::streamsize>(count));
}

class DamagedChunkTest : public VectorCacheTest, public ::testing::WithParamInterface<Damage> {};

TEST_P(DamagedChunkTest, IsReportedAndRebuilt) {
  FakeEncoder first;
  CacheReport report;
  const auto encoded = encode(first, corpus_, report);
  const fs::path damaged = report.path / "chunk-000001.bin";
  GetParam().apply(damaged);

  FakeEncoder second;
  CacheReport rebuilt;
  sparse::CsrMatrix vectors;
  {
    CapturedLog log;
    vectors = encode(second, corpus_, rebuilt);
    EXPECT_TRUE(log.contains("warning " + damaged.string())) << log.all();
    EXPECT_TRUE(log.contains(GetParam().reason)) << log.all();
  }
  EXPECT_EQ(rebuilt.status, CacheStatus::rebuilt);
  EXPECT_EQ(rebuilt.damaged_files, std::vector<fs::path>{damaged});
  EXPECT_EQ(second.calls, 1U);
  EXPECT_EQ(second.documents_encoded, kChunk);
  expect_same_matrix(vectors, encoded);

  FakeEncoder third;
  CacheReport hit;
  expect_same_matrix(encode(third, corpus_, hit), encoded);
  EXPECT_EQ(hit.status, CacheStatus::hit);
}

INSTANTIATE_TEST_SUITE_P(
    Damages, DamagedChunkTest,
    ::testing::Values(
        Damage{"payload_byte", [](const fs::path& p) { flip_byte(p, -3); }, "checksum mismatch"},
        Damage{"encode_time_byte", [](const fs::path& p) { flip_byte(p, 42); }, "checksum mismatch"},
        Damage{"checksum_byte", [](const fs::path& p) { flip_byte(p, 90); }, "checksum mismatch"},
        Damage{"magic", [](const fs::path& p) { flip_byte(p, 0); }, "magic"},
        Damage{"truncated", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) - 5); }, "bytes"},
        Damage{"header_only", [](const fs::path& p) { fs::resize_file(p, 20); }, "shorter than"},
        Damage{"empty", [](const fs::path& p) { fs::resize_file(p, 0); }, "shorter than"},
        Damage{"row_count", [](const fs::path& p) { flip_byte(p, 24); }, "announces"},
        // Counts no file of this size could hold: refused before they size an allocation.
        Damage{"largest_row_count", [](const fs::path& p) { saturate_bytes(p, 24, 4); }, "4294967295 rows"},
        Damage{"largest_entry_count", [](const fs::path& p) { saturate_bytes(p, 32, 8); }, "551615 entries"},
        Damage{"other_chunk",
               [](const fs::path& p) {
                 fs::copy_file(p.parent_path() / "chunk-000000.bin", p, fs::copy_options::overwrite_existing);
               },
               "where chunk 1"}),
    [](const auto& info) { return info.param.name; });

TEST_F(VectorCacheTest, KeyChangesAreMisses) {
  FakeEncoder base;
  CacheReport first;
  (void)encode(base, corpus_, first);

  const auto expect_miss = [&](FakeEncoder& encoder, const std::vector<Document>& corpus, const char* what) {
    CacheReport report;
    expect_same_matrix(encode(encoder, corpus, report), reference(corpus));
    EXPECT_EQ(report.status, CacheStatus::miss) << what;
    EXPECT_NE(report.key, first.key) << what;
    EXPECT_NE(report.path, first.path) << what;
    EXPECT_EQ(encoder.documents_encoded, corpus.size()) << what;
  };
  {
    FakeEncoder encoder;
    expect_miss(encoder, make_corpus(10, " changed"), "corpus text");
  }
  {
    auto corpus = corpus_;
    corpus[7].title = "x";
    FakeEncoder encoder;
    expect_miss(encoder, corpus, "one title");
  }
  {
    auto corpus = corpus_;
    corpus[0].id = "other";
    FakeEncoder encoder;
    expect_miss(encoder, corpus, "one id");
  }
  {
    FakeEncoder encoder;
    expect_miss(encoder, make_corpus(9), "fewer documents");
  }
  {
    FakeEncoder encoder;
    encoder.dtype_name = "bf16";
    expect_miss(encoder, corpus_, "dtype");
  }
  {
    FakeEncoder encoder;
    encoder.device_string = "cuda:0";
    expect_miss(encoder, corpus_, "device");
  }
  {
    FakeEncoder encoder;
    encoder.variant = "b";
    expect_miss(encoder, corpus_, "model description");
  }
  {
    FakeEncoder encoder;
    options_.chunk_documents = 5;
    expect_miss(encoder, corpus_, "chunk size");
    options_.chunk_documents = kChunk;
  }
  // A model folder is identified by its manifest's bytes, not by describe().
  const fs::path manifest = folder_ / "manifest.json";
  std::ofstream(manifest) << R"({"files": {"document_encoder.pt": {"sha256": "aa"}}})";
  options_.model_manifest = manifest;
  CacheReport with_manifest;
  {
    FakeEncoder encoder;
    expect_miss(encoder, corpus_, "manifest instead of description");
    FakeEncoder other_description;
    other_description.variant = "c";
    CacheReport report;
    (void)encode(other_description, corpus_, report);
    EXPECT_EQ(report.status, CacheStatus::hit) << "describe() does not matter when there is a manifest";
    with_manifest = report;
  }
  std::ofstream(manifest) << R"({"files": {"document_encoder.pt": {"sha256": "ab"}}})";
  {
    FakeEncoder encoder;
    CacheReport report;
    (void)encode(encoder, corpus_, report);
    EXPECT_EQ(report.status, CacheStatus::miss) << "manifest bytes";
    EXPECT_NE(report.key, with_manifest.key);
  }
}

TEST_F(VectorCacheTest, CorpusDigestSeesFieldBoundaries) {
  const std::vector<Document> a{{"d1", "ab", "c"}};
  const std::vector<Document> b{{"d1", "a", "bc"}};
  EXPECT_NE(corpus_digest(a), corpus_digest(b));
  EXPECT_EQ(corpus_digest(a), corpus_digest(std::vector<Document>{{"d1", "ab", "c"}}));
  EXPECT_EQ(corpus_digest(a).size(), 64U);
}

TEST_F(VectorCacheTest, NoCacheEncodesEveryTimeAndWritesNothing) {
  options_.enabled = false;
  for (int run = 0; run < 2; ++run) {
    FakeEncoder encoder;
    CacheReport report;
    expect_same_matrix(encode(encoder, corpus_, report), reference(corpus_));
    EXPECT_EQ(report.status, CacheStatus::disabled);
    EXPECT_EQ(report.reason, "disabled by --no-cache");
    EXPECT_EQ(encoder.documents_encoded, corpus_.size());
    EXPECT_EQ(encoder.calls, 3U) << "the same chunks as with the cache";
    EXPECT_TRUE(report.path.empty());
  }
  EXPECT_FALSE(fs::exists(options_.directory));
}

TEST_F(VectorCacheTest, CorpusStatisticsModelsAreEncodedInOnePassAndNeverCached) {
  FakeEncoder encoder;
  encoder.independent = false;
  CacheReport report;
  expect_same_matrix(encode(encoder, corpus_, report), reference(corpus_));
  EXPECT_EQ(report.status, CacheStatus::disabled);
  EXPECT_NE(report.reason.find("depend on the whole corpus"), std::string::npos) << report.reason;
  EXPECT_EQ(encoder.calls, 1U);
  EXPECT_FALSE(fs::exists(options_.directory));
  EXPECT_EQ(report.to_json()["status"], "disabled");
}

TEST_F(VectorCacheTest, UnwritableCacheFolderIsAWarningAndTheRunGoesOnUncached) {
  const fs::path blocker = folder_ / "not-a-folder";
  std::ofstream(blocker) << "a file where the cache folder should be";
  options_.directory = blocker / "cache";
  for (int run = 0; run < 2; ++run) {
    FakeEncoder encoder;
    CapturedLog log;
    CacheReport report;
    expect_same_matrix(encode(encoder, corpus_, report), reference(corpus_));
    EXPECT_EQ(report.status, CacheStatus::disabled);
    EXPECT_NE(report.reason.find("cannot create"), std::string::npos) << report.reason;
    EXPECT_EQ(encoder.documents_encoded, corpus_.size());
    EXPECT_TRUE(log.contains("will not be stored")) << log.all();
  }
}

TEST_F(VectorCacheTest, StoreFailureMidwayKeepsTheRunGoing) {
  FakeEncoder first;
  first.fail_on_call = 1;
  CacheReport report;
  EXPECT_THROW((void)encode(first, corpus_, report), Interrupted);
  // A folder where chunk 1 must go: storing it fails, chunk 0 still loads.
  fs::create_directories(report.path / "chunk-000001.bin" / "blocked");
  FakeEncoder second;
  CacheReport resumed;
  expect_same_matrix(encode(second, corpus_, resumed), reference(corpus_));
  EXPECT_EQ(resumed.chunks_loaded, 1U);
  EXPECT_EQ(second.documents_encoded, 6U);
  EXPECT_FALSE(resumed.store_error.empty());
  EXPECT_FALSE(resumed.to_json()["store_error"].get<std::string>().empty());
}

TEST_F(VectorCacheTest, AbandonedTemporariesOfDeadProcessesAreRemoved) {
  FakeEncoder first;
  CacheReport report;
  (void)encode(first, corpus_, report);
  const fs::path chunk = report.path / "chunk-000002.bin";
  const fs::path abandoned = atomic_temporary_path(chunk, 999999999, 0);  // a pid above Linux's pid_max
  const fs::path ours = atomic_temporary_path(chunk, ::getpid(), 12345);
  std::ofstream(abandoned) << "partial";
  std::ofstream(ours) << "being written";
  FakeEncoder second;
  CacheReport hit;
  (void)encode(second, corpus_, hit);
  EXPECT_EQ(hit.status, CacheStatus::hit);
  EXPECT_FALSE(fs::exists(abandoned));
  EXPECT_TRUE(fs::exists(ours));
}

TEST_F(VectorCacheTest, ChunkFileRoundTripsEmptyRowsAndChecksItsHeader) {
  sparse::CsrBuilder builder(kDimensions);
  const std::vector<std::pair<std::uint32_t, float>> row{{3, 1.5F}, {96, -0.25F}};
  builder.add_row({});
  builder.add_row(row);
  builder.add_row({});
  const auto matrix = std::move(builder).finish();
  const std::string key(64, 'a');
  const fs::path path = folder_ / "chunk.bin";
  write_chunk_file(path, {.chunk_index = 7, .first_row = 28, .encode_seconds = 1.25, .key_digest = key}, matrix);
  EXPECT_EQ(fs::file_size(path), 112U + 4 * 8 + 2 * 8);
  const ChunkHeader expected{.chunk_index = 7, .first_row = 28, .rows = 3, .columns = kDimensions, .key_digest = key};
  const auto chunk = read_chunk_file(path, expected);
  expect_same_matrix(chunk.vectors, matrix);
  EXPECT_EQ(chunk.header.encode_seconds, 1.25);

  auto other_key = expected;
  other_key.key_digest = std::string(64, 'b');
  EXPECT_THROW((void)read_chunk_file(path, other_key), DataError);
  auto other_columns = expected;
  other_columns.columns = kDimensions + 1;
  EXPECT_THROW((void)read_chunk_file(path, other_columns), DataError);
  EXPECT_THROW((void)read_chunk_file(folder_ / "absent.bin", expected), IoError);
}


TEST(ChunkShards, CoverEveryChunkOnceInBalancedContiguousRanges) {
  for (std::size_t chunks = 0; chunks <= 23; ++chunks) {
    for (std::size_t count = 1; count <= 25; ++count) {
      std::size_t next = 0;
      for (std::size_t index = 0; index < count; ++index) {
        const auto [first, last] = shard_chunks(chunks, {.index = index, .count = count});
        EXPECT_EQ(first, next) << chunks << " chunks, shard " << index << " of " << count;
        EXPECT_LE(first, last);
        const std::size_t size = last - first;
        EXPECT_TRUE(size == chunks / count || size == chunks / count + 1) << chunks << " " << index << " " << count;
        next = last;
      }
      EXPECT_EQ(next, chunks);
    }
  }
  EXPECT_EQ(shard_chunks(10, {.index = 1, .count = 3}), (std::pair<std::size_t, std::size_t>{4, 7}));
  EXPECT_EQ(shard_chunks(1, {.index = 0, .count = 3}), (std::pair<std::size_t, std::size_t>{0, 1}));
  EXPECT_EQ(shard_chunks(1, {.index = 2, .count = 3}), (std::pair<std::size_t, std::size_t>{1, 1}));
  EXPECT_THROW((void)shard_chunks(10, {.index = 3, .count = 3}), UsageError);
  EXPECT_THROW((void)shard_chunks(10, {.index = 0, .count = 0}), UsageError);
  EXPECT_EQ(chunk_count(4097, 2048), 3U);
  EXPECT_EQ(chunk_count(0, 2048), 0U);
  EXPECT_THROW((void)chunk_count(1, 0), UsageError);
}

TEST_F(VectorCacheTest, ShardsFillTheCacheThatTheEvaluationThenReadsWithoutEncoding) {
  const auto corpus = make_corpus(23);  // 6 chunks of 4, the last of 3
  std::size_t encoded = 0;
  for (std::size_t index = 0; index < 4; ++index) {
    FakeEncoder shard;
    CacheReport report;
    fill_vector_cache(shard, corpus, options_, {.index = index, .count = 4}, report);
    const auto [first, last] = shard_chunks(6, {.index = index, .count = 4});
    EXPECT_EQ(report.status, CacheStatus::miss);
    EXPECT_EQ(report.chunks_total, last - first);
    EXPECT_EQ(report.chunks_encoded, last - first);
    EXPECT_EQ(shard.calls, last - first);
    encoded += shard.documents_encoded;
  }
  EXPECT_EQ(encoded, corpus.size());

  FakeEncoder evaluation;
  CacheReport report;
  expect_same_matrix(encode(evaluation, corpus, report), reference(corpus));
  EXPECT_EQ(report.status, CacheStatus::hit);
  EXPECT_EQ(report.chunks_loaded, 6U);
  EXPECT_EQ(evaluation.calls, 0U);

  // Filling again encodes nothing; a shard with no chunk (more shards than chunks) neither.
  FakeEncoder again;
  CacheReport refill;
  fill_vector_cache(again, corpus, options_, {}, refill);
  EXPECT_EQ(refill.status, CacheStatus::hit);
  EXPECT_EQ(refill.chunks_loaded, 6U);
  EXPECT_EQ(again.calls, 0U);
  CacheReport empty;
  fill_vector_cache(again, corpus, options_, {.index = 6, .count = 7}, empty);
  EXPECT_EQ(empty.chunks_total, 0U);
  fill_vector_cache(again, make_corpus(3), options_, {.index = 1, .count = 2}, empty);
  EXPECT_EQ(empty.chunks_total, 0U);
  EXPECT_EQ(again.calls, 0U);
}

TEST_F(VectorCacheTest, ShardedChunksAreTheBytesOfAnUnshardedFillButForTheRecordedTime) {
  const auto corpus = make_corpus(10);
  for (std::size_t index = 0; index < 2; ++index) {
    FakeEncoder shard;
    CacheReport report;
    fill_vector_cache(shard, corpus, options_, {.index = index, .count = 2}, report);
  }
  const auto sharded = options_.directory;
  options_.directory = folder_ / "whole";
  FakeEncoder whole;
  CacheReport report;
  fill_vector_cache(whole, corpus, options_, {}, report);
  for (const auto& name : {"chunk-000000.bin", "chunk-000001.bin", "chunk-000002.bin"}) {
    const auto bytes = [&](const fs::path& cache) {
      std::ifstream in(cache / report.path.filename() / name, std::ios::binary);
      std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // The encoding time (bytes 40..47) and the checksum over it (80..111) differ.
      EXPECT_GE(file.size(), 112U) << name;
      file.replace(40, 8, 8, '\0');
      file.replace(80, 32, 32, '\0');
      return file;
    };
    EXPECT_EQ(bytes(sharded), bytes(options_.directory)) << name;
  }
}

TEST_F(VectorCacheTest, FillingRefusesWhatCannotBeCached) {
  FakeEncoder corpus_statistics;
  corpus_statistics.independent = false;
  CacheReport report;
  EXPECT_THROW(fill_vector_cache(corpus_statistics, corpus_, options_, {}, report), UsageError);
  FakeEncoder encoder;
  auto disabled = options_;
  disabled.enabled = false;
  EXPECT_THROW(fill_vector_cache(encoder, corpus_, disabled, {}, report), UsageError);
  auto no_folder = options_;
  no_folder.directory.clear();
  EXPECT_THROW(fill_vector_cache(encoder, corpus_, no_folder, {}, report), UsageError);
  EXPECT_THROW(fill_vector_cache(encoder, corpus_, options_, {.index = 2, .count = 2}, report), UsageError);
  const fs::path blocker = folder_ / "not-a-folder";
  std::ofstream(blocker) << "a file where the cache folder should be";
  auto unwritable = options_;
  unwritable.directory = blocker / "cache";
  EXPECT_THROW(fill_vector_cache(encoder, corpus_, unwritable, {}, report), IoError);
  EXPECT_EQ(encoder.calls, 0U);
}

TEST_F(VectorCacheTest, EachChunkIsAnnouncedBeforeThePreviousOneIsEncoded) {
  FakeEncoder first;
  CacheReport report;
  (void)encode(first, corpus_, report);
  // Chunks start at d0, d4, d8: the encoder hears of the next chunk before encoding the current one,
  // and a final empty announcement cancels whatever it prepared.
  EXPECT_EQ(first.protocol, (std::vector<std::string>{"next d4", "encode d0", "next d8", "encode d4", "encode d8",
                                                      "next none"}));
  // Only missing chunks are announced; an interruption cancels the preparation too.
  fs::remove(report.path / "chunk-000001.bin");
  fs::remove(report.path / "chunk-000002.bin");
  FakeEncoder resumed;
  resumed.fail_on_call = 0;
  EXPECT_THROW((void)encode(resumed, corpus_, report), Interrupted);
  EXPECT_EQ(resumed.protocol, (std::vector<std::string>{"next d8", "encode d4", "next none"}));
}

// A run killed (SIGKILL) at each point where a kill can land while the cache is written (the four
// points of every AtomicFileWriter, through LIMIT_EVAL_CRASH_AT) leaves every file under its final
// name complete, and the next run completes with the same vectors, encoding only what is missing.
TEST_F(VectorCacheTest, KilledAtEveryWritePointLeavesOnlyCompleteFiles) {
  const auto expected = reference(corpus_);
  int point = 1;
  for (;; ++point) {
    fs::remove_all(options_.directory);
    const pid_t child = ::fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
      ::setenv("LIMIT_EVAL_CRASH_AT", std::to_string(point).c_str(), 1);
      FakeEncoder encoder;
      CacheReport report;
      try {
        (void)encode_corpus_cached(encoder, corpus_, options_, report);
      } catch (...) {
        ::_exit(2);
      }
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    ASSERT_TRUE(killed || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << "point " << point;

    FakeEncoder encoder;
    CacheReport report;
    const auto key = make_cache_key(encoder, corpus_, options_);
    std::size_t complete_chunks = 0;
    for (const auto& name : files_in(options_.directory)) {
      const fs::path path = options_.directory / name;
      if (name.find(".tmp.") != std::string::npos) continue;  // not a final name
      if (path.filename() == "key.json") {
        std::ifstream in(path);
        EXPECT_EQ(nlohmann::json::parse(in), key.fields) << "point " << point;
        continue;
      }
      const auto index = static_cast<std::uint32_t>(std::stoul(path.filename().string().substr(6, 6)));
      const ChunkHeader header{.chunk_index = index,
                               .first_row = index * kChunk,
                               .rows = static_cast<std::uint32_t>(std::min(kChunk, corpus_.size() - index * kChunk)),
                               .columns = kDimensions,
                               .key_digest = key.digest};
      EXPECT_NO_THROW((void)read_chunk_file(path, header)) << "point " << point << ": " << name;
      ++complete_chunks;
    }
    const auto vectors = encode(encoder, corpus_, report);
    expect_same_matrix(vectors, expected);
    EXPECT_TRUE(report.damaged_files.empty()) << "point " << point;
    EXPECT_EQ(report.chunks_loaded, complete_chunks) << "point " << point;
    for (const auto& name : files_in(options_.directory)) {
      EXPECT_EQ(name.find(".tmp."), std::string::npos) << "point " << point << ": " << name << " left behind";
    }
    if (!killed) break;  // past the last point
  }
  EXPECT_EQ(point, 4 * 4 + 1);  // key.json and three chunks, four points each
}

}  // namespace
}  // namespace limit_eval::encode
