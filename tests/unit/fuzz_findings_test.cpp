// What the fuzz targets of tests/fuzz found, one test each. Some fail only in the sanitizer build
// (build-asan/, which scripts/test.sh runs): undefined behaviour that a Release build survives.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/registry.hpp"
#include "limit_eval/encode/vector_cache.hpp"
#include "limit_eval/report/published_results.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/text/sentencepiece_tokenizer.hpp"
#include "temp_folder.hpp"

namespace limit_eval {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class FuzzFindingsTest : public test::TempFolderTest {};

// fuzz_corpus_jsonl: a number too large for a double ("2.5e600") makes nlohmann::json throw
// out_of_range, not parse_error; it left the loaders uncaught (exit status 1, no file or line).
TEST_F(FuzzFindingsTest, JsonNumberOverflowIsInvalidDataWithFileAndLine) {
  const auto corpus = write("corpus.jsonl", "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \"text\": \"y\", \"n\": 2.5e600}\n");
  try {
    (void)data::load_corpus(corpus);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2U);
    EXPECT_THAT(e.what(), AllOf(HasSubstr(corpus.string()), HasSubstr("number overflow parsing '2.5e600'")));
  }
  const auto qrels = write("qrels.jsonl", "{\"query-id\": \"q\", \"corpus-id\": \"a\", \"score\": -1e999}\n");
  EXPECT_THROW((void)data::load_qrels(qrels), DataError);
  const auto result = write("results/d/m.json", "{\"format\": \"limit-eval-results/1\", \"metrics\": {\"x\": 1e400}}");
  EXPECT_THROW((void)report::read_result_file(result, "d/m.json"), DataError);
  EXPECT_THROW((void)report::read_published_results(result), DataError);
  write("model/manifest.json", "{\"format\": \"limit-eval-model\", \"vocab_size\": 1e400}");
  EXPECT_THROW((void)encode::load_model_manifest(folder_ / "model"), ModelError);
  EXPECT_THROW((void)encode::read_model_registry(write("registry.json", "{\"models\": {\"v\": 1e400}}")),
               ModelError);
}

// fuzz_vector_chunk: a chunk whose documents all have empty vectors (no non-zero at all) passed
// the null data() of an empty vector to memcpy when read (UBSan: "null pointer passed as argument
// 1, which is declared to never be null").
TEST_F(FuzzFindingsTest, ChunkWithoutNonZerosReadsBack) {
  sparse::CsrMatrix empty;
  empty.rows = 3;
  empty.cols = 4;
  empty.indptr = {0, 0, 0, 0};
  const encode::ChunkHeader header{.chunk_index = 0, .first_row = 0, .rows = 3, .columns = 4,
                                   .encode_seconds = 1.5, .key_digest = std::string(64, 'a')};
  const auto path = folder_ / "chunk-000000.bin";
  encode::write_chunk_file(path, header, empty);
  const auto chunk = encode::read_chunk_file(path, header);
  EXPECT_EQ(chunk.vectors.rows, 3U);
  EXPECT_EQ(chunk.vectors.nnz(), 0U);
  EXPECT_EQ(chunk.vectors.indptr, empty.indptr);
}

// fuzz_vector_chunk: row offsets that overshoot the entries and come back ({0, 3, 2} over two
// entries) passed the checks and read past the end of the column indices (ASan:
// heap-buffer-overflow); the chunk is damaged.
TEST_F(FuzzFindingsTest, ChunkWithRowOffsetsPastTheEntriesIsDamaged) {
  sparse::CsrMatrix bad;
  bad.rows = 2;
  bad.cols = 4;
  bad.indptr = {0, 3, 2};
  bad.indices = {0, 1};
  bad.values = {1.0F, 2.0F};
  const encode::ChunkHeader header{.chunk_index = 0, .first_row = 0, .rows = 2, .columns = 4,
                                   .encode_seconds = 1.5, .key_digest = std::string(64, 'a')};
  const auto path = folder_ / "chunk-000000.bin";
  encode::write_chunk_file(path, header, bad);
  try {
    (void)encode::read_chunk_file(path, header);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("row offsets pass the entries at row 0"));
  }
}

// fuzz_sentencepiece: a model with a piece that is a single NUL byte makes libsentencepiece's Load
// throw (Darts::Details::Exception) rather than return a status; it left as exit 1 without the file.
TEST_F(FuzzFindingsTest, SentencePieceModelThatMakesTheLibraryThrowIsAModelError) {
  const unsigned char model[] = {
      0x0a, 0x0e, 0x0a, 0x05, 0x3c, 0x75, 0x6e, 0x6b, 0x3e, 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x02, 0x0a, 0x0c,
      0x0a, 0x03, 0x3c, 0x73, 0x3e, 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x03, 0x0a, 0x0d, 0x0a, 0x04, 0x3c, 0x2f,
      0x73, 0x3e, 0x15, 0x00, 0x00, 0x00, 0x00, 0x18, 0x03, 0x0a, 0x0c, 0x0a, 0x03, 0xe2, 0x96, 0x81, 0x15, 0x00,
      0x00, 0x80, 0xbf, 0x18, 0x01, 0x0a, 0x0f, 0x0a, 0x06, 0xe2, 0x96, 0x81, 0x77, 0x68, 0x6f, 0x15, 0x00, 0x00,
      0xc0, 0xbf, 0x18, 0x01, 0x0a, 0x11, 0x0a, 0x08, 0xe2, 0x96, 0x81, 0x6c, 0x69, 0x6b, 0x65, 0x73, 0x15, 0x00,
      0x00, 0x00, 0xc0, 0x18, 0x01, 0x0a, 0x0a, 0x0a, 0x01, 0x73, 0x15, 0x00, 0x00, 0x20, 0xc0, 0x18, 0x01, 0x0a,
      0x0a, 0x0a, 0x01, 0x61, 0x15, 0x00, 0x00, 0x40, 0xc0, 0x18, 0x01, 0x0a, 0x0a, 0x0a, 0x01, 0x62, 0x15, 0x00,
      0x00, 0x60, 0xc0, 0x18, 0x01, 0x0a, 0x0a, 0x0a, 0x01, 0x00, 0x15, 0x00, 0x00, 0x80, 0xc0, 0x18, 0x01, 0x0a,
      0x0a, 0x0a, 0x01, 0x75, 0x15, 0x00, 0x00, 0x90, 0xc0, 0x18, 0x01, 0x12, 0x02, 0x18, 0x01, 0x1a, 0x0a, 0x0a,
      0x08, 0x69, 0x64, 0x65, 0x6e, 0x74, 0x69, 0x74, 0x79};
  const auto path = write("nul-piece.model", std::string(reinterpret_cast<const char*>(model), sizeof(model)));
  try {
    text::SentencePieceTokenizer tokenizer(path, {});
    FAIL() << "no error";
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nul-piece.model: cannot load SentencePiece model"));
  }
}

// fuzz_model_manifest: a manifest naming a file whose name is longer than the file system allows
// (here 300 bytes; Linux takes 255) made std::filesystem throw filesystem_error ("File name too
// long"), which left load_model_manifest uncaught: exit status 1 as if a bug, instead of 5.
TEST_F(FuzzFindingsTest, ManifestNamingAFileTheFileSystemRefusesIsAModelError) {
  const std::string too_long = std::string(300, 'a') + ".pt";
  const auto manifest = [](const std::string& document_file, const std::string& listed_file) {
    return fmt::format(R"({{"format": "limit-eval-model", "format_version": 2, "name": "tiny", "vocab_size": 4,
      "similarity": "dot",
      "document_encoder": {{"file": "{}", "architecture": "BertForMaskedLM", "max_seq_length": 8,
                            "add_special_tokens": true, "pooling": "max", "activation": "log1p_relu",
                            "output": "hidden_states", "text": "title_space_text_stripped"}},
      "query_encoder": {{"kind": "static_weights", "file": "query_weights.f32", "dtype": "float32",
                         "max_seq_length": 512, "add_special_tokens": false, "presence": "binary"}},
      "tokenizer": {{"kind": "wordpiece", "vocab_file": "vocab.txt"}},
      "files": {{"document_encoder.pt": {{"bytes": 1}}, "{}": {{"bytes": 1}}, "query_weights.f32": {{"bytes": 16}},
                 "vocab.txt": {{"bytes": 1}}}}}})",
                       document_file, listed_file);
  };
  // Named by the document encoder (looked up to match it with 'files'), then only in 'files'.
  for (const auto& [document_file, listed_file] :
       {std::pair{too_long, too_long}, std::pair{std::string("document_encoder.pt"), too_long}}) {
    const auto path = write("model/manifest.json", manifest(document_file, listed_file));
    try {
      (void)encode::load_model_manifest(folder_ / "model");
      FAIL() << "no error";
    } catch (const ModelError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("cannot be looked up"),
                                  HasSubstr("File name too long")));
    }
  }
  // A listed file that is a link to itself: the same, with the file system's reason.
  const auto path = write("model/manifest.json", manifest("document_encoder.pt", "loop"));
  write("model/document_encoder.pt", "x");
  fs::create_symlink("loop", folder_ / "model" / "loop");
  try {
    (void)encode::load_model_manifest(folder_ / "model", /*verify_checksums=*/false);
    FAIL() << "no error";
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("cannot be looked up"),
                                HasSubstr("symbolic links")));
  }
}

// fuzz_model_manifest: a manifest of an unsupported format version whose 'source.id' is not a
// string (here an object) made the message's re-export command throw nlohmann's type_error,
// uncaught (exit status 1); so did a 'trust_remote_code' that is not true or false.
TEST_F(FuzzFindingsTest, UnsupportedManifestWithOddlyTypedSourceIsAModelError) {
  for (const std::string source : {R"({"id": {"shbytes": 45}})", R"({"id": "org/tiny", "trust_remote_code": "yes"})",
                                   R"("org/tiny")", R"({"id": 7})"}) {
    const auto path = write("model/manifest.json",
                            R"({"format": "limit-eval-model", "format_version": 999, "name": "tiny", "source": )" +
                                source + "}");
    try {
      (void)encode::load_model_manifest(folder_ / "model");
      FAIL() << "no error for source " << source;
    } catch (const ModelError& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("format version 999 is not supported")))
          << source;
    }
  }
}

// Found by reading the code after the finding above: a results JSON whose model.description.kind
// is not a string made the results page's reproduce command throw nlohmann's type_error, uncaught
// (exit status 1). It is invalid data, named by file and JSON pointer, when the file is read.
TEST_F(FuzzFindingsTest, ResultFileWithANonStringModelKindIsInvalidData) {
  const auto path = write("results/d/m.json", R"({"format": "limit-eval-results/1", "dataset": {"name": "d"},
    "model": {"name": "m", "description": {"kind": 5}}, "metrics": {"NDCG@10": 0.5}})");
  try {
    (void)report::read_result_file(path, "d/m.json");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(path.string()), HasSubstr("/model/description/kind"),
                                HasSubstr("must be a string")));
  }
}

}  // namespace
}  // namespace limit_eval
