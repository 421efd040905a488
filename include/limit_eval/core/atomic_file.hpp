#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace limit_eval {

// Writes a file under a temporary name in the destination folder and renames it into place on
// commit(), so readers never see a half-written file. Without commit() the temporary is removed.
// Missing parent folders are created.
//
// The temporary is "<file>.tmp.<pid>.<n>.<host>": unique to the host, the process and the writer,
// so that processes (or threads) writing the same file at once, also from several machines on a
// shared file system, never write into each other's temporary; the last rename wins, and every
// rename puts a whole file in place. commit() flushes the file to disk before the rename and the
// folder after it, so a crash of the machine cannot leave a renamed file with missing contents.
//
// Testing hook: with LIMIT_EVAL_CRASH_AT=N in the environment, the process kills itself (SIGKILL)
// at the Nth of the points where a kill can land while writing: every writer passes four, (1) its
// temporary created, (2) its temporary half written, (3) complete but not renamed, (4) renamed.
// A writer also removes the temporaries of its destination that killed processes left.
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

// The temporary name of `destination` for writer number `writer` of process `pid` on this host.
std::filesystem::path atomic_temporary_path(const std::filesystem::path& destination, long pid, std::uint64_t writer);

void write_file_atomically(const std::filesystem::path& destination, std::string_view contents);

// Flushes a file's contents to disk, as commit() does before its rename, for files written by
// other means (a library's own writer) that are renamed into place afterwards. Throws IoError.
void sync_file(const std::filesystem::path& file);

// Flushes a folder's entries (files created, renamed or removed in it) to disk, as commit() does
// for the folder it renames into, so that a rename survives a crash of the machine. A file system
// that cannot flush a folder is ignored (the rename has still happened).
void sync_folder(const std::filesystem::path& folder);

// Removes the temporaries (files, or folders named as by atomic_temporary_path) that writers killed
// before commit() left in `folder` (only those whose name starts with `prefix`, when given): those
// made on this host by a process that no longer exists. Those of live processes, and of other hosts sharing the folder, are left alone. Errors
// are ignored (a temporary left behind is harmless).
void remove_abandoned_temporaries(const std::filesystem::path& folder, std::string_view prefix = {});

}  // namespace limit_eval
