#pragma once

#include <filesystem>
#include <fstream>
#include <string_view>

namespace limit_eval {

// Writes a file under a temporary name in the destination folder and renames it into place on
// commit(), so readers never see a half-written file. Without commit() the temporary is removed.
// Missing parent folders are created.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::filesystem::path destination);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  std::ostream& stream() { return out_; }
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  std::ofstream out_;
  bool committed_ = false;
};

void write_file_atomically(const std::filesystem::path& destination, std::string_view contents);

}  // namespace limit_eval
