// Results JSON as `limit-eval report` reads them: read_result_file throws DataError only, and the
// results page is built from whatever it accepts (beside a fixed valid result of another model).
#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/report/published_results.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/report/results_page.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace limit_eval::report;
  static const std::filesystem::path source(LIMIT_EVAL_SOURCE_DIR);
  static const PublishedResults published = read_published_results(source / "reference" / "published-results.json");
  static const ResultFile bm25 = read_result_file(source / "tests/fixtures/report/results/limit-small/bm25.json",
                                                  "limit-small/bm25.json");
  const auto path = limit_eval::fuzz::write_file("results/limit-small/model.json", limit_eval::fuzz::as_text(data, size));
  std::vector<ResultFile> results{bm25};
  try {
    results.push_back(read_result_file(path, "limit-small/model.json"));
  } catch (const limit_eval::DataError&) {
    return 0;
  }
  try {
    (void)build_results_page(results, published);
  } catch (const limit_eval::DataError&) {
  }
  return 0;
}
