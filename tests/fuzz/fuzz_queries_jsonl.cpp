// queries.jsonl: load_queries throws DataError for anything invalid, and nothing else.
#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = limit_eval::fuzz::write_file("queries.jsonl", limit_eval::fuzz::as_text(data, size));
  try {
    (void)limit_eval::data::load_queries(path);
  } catch (const limit_eval::DataError&) {
  }
  return 0;
}
