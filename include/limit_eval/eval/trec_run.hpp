#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "limit_eval/eval/metrics.hpp"

namespace limit_eval::eval {

// The id as a TREC file can hold it: each whitespace character becomes '_' (LIMIT's document
// ids are names such as "Geneva Durben"; a TREC column cannot contain a blank).
std::string trec_id(std::string_view id);

// Writes a TREC run file ("qid Q0 docid rank score tag"), queries in id order, documents in
// our rank order, atomically. Ids pass through trec_id(); two ids that become the same are an
// error. trec_eval re-sorts tied documents by the written ids, so among exact ties its order may
// differ from ours where '_' and ' ' compare differently against a neighbour's id.
void write_trec_run(const std::filesystem::path& path, const Run& run, const std::string& tag);

// The qrels with every id passed through trec_id(), to evaluate a run file written above;
// throws DataError (naming `path`) when two ids become the same.
data::Qrels trec_compatible_qrels(const data::Qrels& qrels, const std::filesystem::path& path);

// Reads a TREC run file; throws DataError naming the line for malformed lines and duplicate
// (query, doc) pairs.
Run read_trec_run(const std::filesystem::path& path);

}  // namespace limit_eval::eval
