#pragma once

#include <filesystem>
#include <string>

#include "limit_eval/eval/metrics.hpp"

namespace limit_eval::eval {

// Writes a TREC run file ("qid Q0 docid rank score tag"), queries in id order, documents in
// trec_eval rank order, atomically.
void write_trec_run(const std::filesystem::path& path, const Run& run, const std::string& tag);

// Reads a TREC run file; throws DataError naming the line for malformed lines and duplicate
// (query, doc) pairs.
Run read_trec_run(const std::filesystem::path& path);

}  // namespace limit_eval::eval
