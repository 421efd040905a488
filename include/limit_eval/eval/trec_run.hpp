#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "limit_eval/core/atomic_file.hpp"
#include "limit_eval/eval/metrics.hpp"

namespace limit_eval::eval {

// The id as a TREC file can hold it: each whitespace character (Unicode White_Space, see
// is_unicode_white_space in core/utf8.hpp: ASCII blanks, U+0085, U+00A0 no-break space, U+2000..
// U+200A, U+3000, ...) becomes one '_' (LIMIT's document ids are names such as "Geneva Durben";
// a TREC column cannot contain a blank).
std::string trec_id(std::string_view id);

// Checks that no two of `ids` (the records of `path`, one per line, in order) become the same
// TREC id; throws DataError naming the later one's line and both ids. For data that will be
// written to a run file, checked when it is loaded rather than when the run is written.
void check_trec_ids(std::span<const std::string_view> ids, const std::filesystem::path& path, std::string_view what);

// Writes a TREC run file ("qid Q0 docid rank score tag"), queries in id order, documents in
// our rank order, atomically. Ids pass through trec_id(); two ids that become the same are an
// error. trec_eval re-sorts tied documents by the written ids, so among exact ties its order may
// differ from ours where '_' and ' ' compare differently against a neighbour's id.
void write_trec_run(const std::filesystem::path& path, const Run& run, const std::string& tag);
// The same into `file`, left uncommitted (a run committed together with other outputs).
void write_trec_run(AtomicFileWriter& file, const Run& run, const std::string& tag);

// The qrels with every id passed through trec_id(), to evaluate a run file written above;
// throws DataError (naming `path`) when two ids become the same.
data::Qrels trec_compatible_qrels(const data::Qrels& qrels, const std::filesystem::path& path);

// Reads a TREC run file; throws DataError naming the line for malformed lines and duplicate
// (query, doc) pairs.
Run read_trec_run(const std::filesystem::path& path);

}  // namespace limit_eval::eval
