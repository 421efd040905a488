#pragma once

// Scratch folders and file helpers shared by the GoogleTest suites.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include <gtest/gtest.h>

namespace limit_eval::test {

// The whole file, or "" (and a test failure) when it cannot be opened.
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Writes `contents` to `path`, creating its parent folders.
inline void write_file(const std::filesystem::path& path, std::string_view contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  EXPECT_TRUE(out.good()) << path;
}

// A folder of its own under the system temp folder (named after the process, the test and a random
// number, so parallel test processes never share one), removed with its contents by the destructor.
class TempFolder {
 public:
  TempFolder() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = test != nullptr ? test->name() : "suite";
    for (char& c : name) {
      if (c == '/') c = '_';  // parameterized tests are named "Name/N"
    }
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() /
            ("limit-eval-test-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(seed()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ignored;
    // A test may have taken its permissions away.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  // Writes `contents` to `name` in the folder; returns its path.
  std::filesystem::path write(const std::filesystem::path& name, std::string_view contents) const {
    const auto path = path_ / name;
    write_file(path, contents);
    return path;
  }

 private:
  std::filesystem::path path_;
};

// A fixture whose every test has a TempFolder: folder_ is its path.
class TempFolderTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::filesystem::path& name, std::string_view contents) const {
    return scratch_.write(name, contents);
  }

  TempFolder scratch_;
  const std::filesystem::path folder_ = scratch_.path();
};

}  // namespace limit_eval::test
