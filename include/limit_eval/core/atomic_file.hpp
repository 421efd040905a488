#pragma once

#include <filesystem>
#include <fstream>
#include <string_view>

namespace limit_eval {

// Writes a file under a temporary name in the destination folder ("<name>.tmp.<pid>") and renames
// it into place on commit(), so readers never see a half-written file, even when the process is
// killed: the data reaches the disk (fsync) before the rename, and the rename before commit()
// returns. Without commit() the temporary is removed. Missing parent folders are created, and
// temporaries of this destination left by killed processes are removed.
//
// Testing hook: with LIMIT_EVAL_CRASH_AT=N in the environment, the process kills itself (SIGKILL)
// at the Nth of the points where a kill can land while writing: every writer passes four, (1) its
// temporary created, (2) its temporary half written, (3) complete but not renamed, (4) renamed.
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

// Removes the files of `folder` named "<prefix>...tmp.<pid>" whose process no longer exists: the
// temporaries of AtomicFileWriters that were killed. Errors are ignored.
void remove_abandoned_temporaries(const std::filesystem::path& folder, std::string_view prefix = {});

}  // namespace limit_eval
