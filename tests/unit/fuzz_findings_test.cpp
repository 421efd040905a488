// What the fuzz targets of tests/fuzz found, one test each. Some fail only in the sanitizer build
// (build-asan/, which scripts/test.sh runs): undefined behaviour that a Release build survives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "limit_eval/core/error.hpp"
#include "limit_eval/encode/vector_cache.hpp"

namespace limit_eval {
namespace {

namespace fs = std::filesystem;

class FuzzFindingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device seed;
    folder_ = fs::temp_directory_path() /
              ("limit_eval_fuzz_findings_" + std::to_string(::getpid()) + "_" + std::to_string(seed()));
    fs::create_directories(folder_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(folder_, ignored);
  }
  fs::path folder_;
};

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

}  // namespace
}  // namespace limit_eval
