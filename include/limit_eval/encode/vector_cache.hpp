#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/encoder.hpp"
#include "limit_eval/sparse/csr.hpp"

namespace limit_eval::encode {

// The on-disk cache of encoded corpora.
//
// A corpus is encoded in chunks of kCacheChunkDocuments documents; each chunk is stored as one
// file as soon as it is encoded, so an interrupted run resumes with the missing chunks only. The
// chunks of one (model, corpus, encoding settings) live in one folder named after the cache key:
//
//   <cache dir>/<model name>-<first 16 hex digits of the key>/
//     key.json             what the key is made of (for people; the chunks carry the full key)
//     chunk-000000.bin     rows [0, 2048)
//     chunk-000001.bin     rows [2048, 4096) ...
//
// Chunk file, little-endian, 112-byte header then payload:
//   0  char[8]  magic "LIMITVEC"
//   8  u32      format version (kVectorCacheFormatVersion)
//   12 u32      chunk index
//   16 u64      first row (corpus position of the chunk's first document)
//   24 u32      rows
//   28 u32      columns
//   32 u64      nnz
//   40 f64      seconds it took to encode the chunk
//   48 u8[32]   SHA-256 of the cache key
//   80 u8[32]   SHA-256 of the whole file with these 32 bytes zeroed
//   112         indptr: (rows + 1) u64 from 0; indices: nnz u32; values: nnz f32
//
// Only encoders whose document vectors are independent per document are chunked and cached;
// whether the cache is on or off, such encoders always see the same chunks, so cached, resumed
// and uncached runs give bit-identical vectors.

// Bump when the chunk layout, the key, or the document encoding pipeline changes what a cached
// chunk would hold.
inline constexpr std::uint32_t kVectorCacheFormatVersion = 1;

// Documents per chunk. Part of the key: the neural encoder batches the documents of one call
// by length, so chunk boundaries decide which documents share a batch.
inline constexpr std::size_t kCacheChunkDocuments = 2048;

// A deterministic slice of a corpus's chunks, for sharded encoding (`limit-eval encode --shard`):
// shard `index` (0-based) of `count` takes the contiguous chunks [ceil(index * C / count),
// ceil((index + 1) * C / count)) of the corpus's C chunks, so the shards cover every chunk once and
// differ in size by one chunk at most (the last shards are empty when there are more than chunks). Every shard computes the whole corpus's key, so all of them fill
// one cache folder.
struct ChunkShard {
  std::size_t index = 0;
  std::size_t count = 1;
};

// The chunks [first, last) that `shard` takes out of `chunks`; empty when there are more shards
// than chunks. Throws UsageError when index >= count or count == 0.
[[nodiscard]] std::pair<std::size_t, std::size_t> shard_chunks(std::size_t chunks, ChunkShard shard);

// Chunks of the corpus: ceil(documents / chunk_documents).
[[nodiscard]] std::size_t chunk_count(std::size_t documents, std::size_t chunk_documents);

struct VectorCacheOptions {
  bool enabled = true;
  std::filesystem::path directory;  // root of the cache (one sub-folder per key)
  // The model folder's manifest.json, which lists every file's sha256 and so identifies the
  // model; empty for models without one, which are identified by their describe() JSON.
  std::filesystem::path model_manifest;
  std::size_t chunk_documents = kCacheChunkDocuments;
};

enum class CacheStatus {
  hit,       // every chunk came from the cache
  miss,      // nothing was cached: every chunk was encoded (and stored)
  resumed,   // some chunks were cached, the missing ones were encoded
  rebuilt,   // some cached chunk files were damaged and were encoded again
  disabled,  // the cache was not used (see CacheReport::reason)
};
[[nodiscard]] std::string_view to_string(CacheStatus status);

struct CacheReport {
  CacheStatus status = CacheStatus::disabled;
  std::string reason;          // why the cache is disabled; empty otherwise
  std::filesystem::path path;  // the key's folder; empty when no key was computed
  std::string key;             // SHA-256 hex of the key
  std::size_t chunk_documents = 0;
  std::size_t chunks_total = 0;
  std::size_t chunks_loaded = 0;
  std::size_t chunks_encoded = 0;
  std::vector<std::filesystem::path> damaged_files;  // found damaged and encoded again
  std::string store_error;     // why chunks could not be stored (the run went on without storing)
  double load_seconds = 0.0;   // reading and verifying cached chunks
  double encode_seconds = 0.0;  // encoding chunks in this run
  double cached_encode_seconds = 0.0;  // encoding time recorded in the loaded chunks

  // Encoding time of the whole corpus as recorded in the cache: the loaded chunks' recorded
  // times plus this run's encoding time of the others.
  [[nodiscard]] double recorded_encode_seconds() const { return cached_encode_seconds + encode_seconds; }
  [[nodiscard]] nlohmann::json to_json() const;
};

struct CacheKey {
  nlohmann::json fields;  // what the key is made of
  std::string digest;     // SHA-256 hex of fields.dump()
};

// The key: cache format version and limit-eval version; the model (SHA-256 of manifest.json, or
// of describe() when there is none); the corpus (SHA-256 over ids, titles and texts in order);
// the dimensions, dtype, device type (cpu/cuda), batch size and chunk size.
[[nodiscard]] CacheKey make_cache_key(const SparseEncoder& encoder, std::span<const data::Document> corpus,
                                      const VectorCacheOptions& options);

// SHA-256 hex over the documents' ids, titles and texts, in order (length-prefixed, so field
// boundaries count).
[[nodiscard]] std::string corpus_digest(std::span<const data::Document> corpus);

// What a chunk file says about itself, besides its vectors.
struct ChunkHeader {
  std::uint32_t chunk_index = 0;
  std::uint64_t first_row = 0;
  std::uint32_t rows = 0;
  std::uint32_t columns = 0;
  double encode_seconds = 0.0;
  std::string key_digest;  // SHA-256 hex of the cache key
};

struct ChunkFile {
  ChunkHeader header;
  sparse::CsrMatrix vectors;
};

// Writes a chunk file atomically (a temporary name unique to this host, process and call, flushed
// to disk, then renamed), so that processes storing the same chunk into one cache folder at once
// never expose a partial file: the last rename wins, and each one is a whole chunk holding the same
// vectors (only the recorded encoding time differs). Throws IoError.
void write_chunk_file(const std::filesystem::path& path, const ChunkHeader& header, const sparse::CsrMatrix& vectors);

// Reads and verifies a chunk file against what it must hold (all of `expected`'s fields but
// encode_seconds). Throws IoError when it cannot be read and DataError naming the file when it
// is damaged: wrong magic, version or size, checksum mismatch, a header that does not match,
// or an invalid matrix.
[[nodiscard]] ChunkFile read_chunk_file(const std::filesystem::path& path, const ChunkHeader& expected);

// Encodes the corpus through the cache: loads the chunks already stored, encodes and stores the
// missing or damaged ones, and returns the whole corpus as one matrix. Encoders whose vectors
// are not independent per document are called once on the whole corpus (status disabled). The
// cache never fails a run: an unusable cache folder is a warning, and encoding goes on without
// storing. Errors of the encoder itself propagate; chunks stored before them stay stored.
[[nodiscard]] sparse::CsrMatrix encode_corpus_cached(SparseEncoder& encoder, std::span<const data::Document> corpus,
                                                     const VectorCacheOptions& options, CacheReport& report);

// Encodes the chunks of `shard` that the cache lacks (or holds damaged) and stores them,
// without keeping or returning vectors: memory stays at one chunk whatever the corpus size. The
// chunks, key and folder are those encode_corpus_cached uses, so a later evaluation of the same
// model, corpus and settings finds every chunk that the shards stored. Unlike
// encode_corpus_cached, a cache that cannot be written is an error: UsageError when the cache is
// disabled or has no folder, or when the encoder's vectors depend on the whole corpus (BM25);
// IoError when the folder or a chunk cannot be written. report.chunks_* count the shard's chunks.
void fill_vector_cache(SparseEncoder& encoder, std::span<const data::Document> corpus,
                       const VectorCacheOptions& options, ChunkShard shard, CacheReport& report);

}  // namespace limit_eval::encode
