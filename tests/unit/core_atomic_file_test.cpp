#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/core/error.hpp"
#include "temp_folder.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace limit_eval {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public test::TempFolderTest {
 protected:
  static std::string read(const fs::path& path) { return test::read_file(path); }
  [[nodiscard]] std::set<std::string> names() const {
    std::set<std::string> found;
    for (const auto& entry : fs::directory_iterator(folder_)) found.insert(entry.path().filename().string());
    return found;
  }
};

// Writers of one file at once (threads here; processes and hosts differ in the temporary's name
// the same way) each put a whole file in place, and a reader only ever sees a whole one.
TEST_F(AtomicFileTest, ConcurrentWritersOfOneFileNeverExposeAPartialFile) {
  const fs::path target = folder_ / "results.json";
  constexpr int kWriters = 4;
  constexpr int kRounds = 20;
  std::vector<std::string> contents;
  for (int writer = 0; writer < kWriters; ++writer) {
    // Different sizes, so that a mix of two writers' bytes cannot pass for either.
    contents.push_back(std::string(1000 + 30000 * writer, static_cast<char>('a' + writer)));
  }
  write_file_atomically(target, contents[0]);
  std::atomic<bool> done{false};
  std::atomic<int> partial{0};
  std::thread reader([&] {
    while (!done) {
      const std::string seen = read(target);
      if (std::find(contents.begin(), contents.end(), seen) == contents.end()) ++partial;
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int writer = 0; writer < kWriters; ++writer) {
    writers.emplace_back([&, writer] {
      for (int round = 0; round < kRounds; ++round) {
        try {
          write_file_atomically(target, contents[writer]);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : writers) thread.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(partial, 0);
  EXPECT_NE(std::find(contents.begin(), contents.end(), read(target)), contents.end());
  EXPECT_EQ(names(), (std::set<std::string>{"results.json"})) << "temporaries left behind";
}

TEST_F(AtomicFileTest, TemporariesAreUniquePerWriterAndHost) {
  const fs::path target = folder_ / "chunk.bin";
  const auto first = atomic_temporary_path(target, 42, 0);
  EXPECT_NE(first, atomic_temporary_path(target, 42, 1));
  EXPECT_NE(first, atomic_temporary_path(target, 43, 0));
  EXPECT_EQ(first.parent_path(), folder_);
  EXPECT_TRUE(first.filename().string().starts_with("chunk.bin.tmp.42.0.")) << first;
}

TEST_F(AtomicFileTest, OnlyAbandonedTemporariesOfThisHostAreRemoved) {
  constexpr long kDeadPid = 999999999;  // above Linux's pid_max
  const fs::path target = folder_ / "chunk-000002.bin";
  const fs::path dead = atomic_temporary_path(target, kDeadPid, 3);
  const fs::path earlier_version = folder_ / fmt::format("chunk-000002.bin.tmp.{}", kDeadPid);
  const fs::path alive = atomic_temporary_path(target, ::getpid(), 7);
  // A process of another machine on a shared file system: its pid means nothing here.
  const fs::path other_host = folder_ / fmt::format("chunk-000002.bin.tmp.{}.3.another-node-17", kDeadPid);
  const fs::path unrelated = folder_ / "notes.tmp.txt";
  for (const auto& path : {dead, earlier_version, alive, other_host, unrelated}) std::ofstream(path) << "partial";
  remove_abandoned_temporaries(folder_);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(earlier_version));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(other_host));
  EXPECT_TRUE(fs::exists(unrelated));
}

TEST_F(AtomicFileTest, AnUncommittedWriterLeavesNothing) {
  {
    AtomicFileWriter writer(folder_ / "sub" / "out.txt");
    writer.stream() << "never committed";
  }
  EXPECT_EQ(names(), (std::set<std::string>{"sub"}));
  EXPECT_TRUE(fs::is_empty(folder_ / "sub"));
}

// sync_file serves files that a library wrote (finetune's checkpoints): a file that cannot be
// flushed is an IoError naming it, not a silent success.
TEST_F(AtomicFileTest, SyncFileFlushesAFileAndNamesOneItCannotFlush) {
  const fs::path written = folder_ / "written.bin";
  std::ofstream(written) << "contents";
  EXPECT_NO_THROW(sync_file(written));
  const fs::path missing = folder_ / "missing.bin";
  try {
    sync_file(missing);
    FAIL() << "no error for a missing file";
  } catch (const IoError& error) {
    EXPECT_EQ(error.path(), missing);
    EXPECT_NE(std::string(error.what()).find("cannot flush to disk"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace limit_eval
