// BEIR's qrels/<split>.tsv, read with format detection (a TREC first line switches to TREC qrels),
// and the same bytes as TREC qrels named with --qrels-format trec: DataError only.
#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/data/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using limit_eval::data::QrelsFormat;
  const auto text = limit_eval::fuzz::as_text(data, size);
  for (const auto& [name, format] : {std::pair{"test.tsv", QrelsFormat::automatic}, std::pair{"qrels.txt", QrelsFormat::trec}}) {
    const auto path = limit_eval::fuzz::write_file(name, text);
    try {
      (void)limit_eval::data::load_qrels(path, nullptr, format);
    } catch (const limit_eval::DataError&) {
    }
  }
  return 0;
}
