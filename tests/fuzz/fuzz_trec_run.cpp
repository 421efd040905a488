// TREC run files (limit-eval evaluate --run): read_trec_run throws DataError only, and what it
// reads can be evaluated.
#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/eval/metrics.hpp"
#include "limit_eval/eval/trec_run.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = limit_eval::fuzz::write_file("run.trec", limit_eval::fuzz::as_text(data, size));
  limit_eval::eval::Run run;
  try {
    run = limit_eval::eval::read_trec_run(path);
  } catch (const limit_eval::DataError&) {
    return 0;
  }
  if (run.empty()) return 0;
  // Qrels judging the first document of every query relevant, so every metric has work to do.
  limit_eval::data::Qrels qrels;
  for (const auto& [query_id, docs] : run) {
    if (!docs.empty()) qrels[query_id][docs.front().doc_id] = 1;
  }
  try {
    (void)limit_eval::eval::evaluate(qrels, run);
  } catch (const limit_eval::DataError&) {
  }
  return 0;
}
