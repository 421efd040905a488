// The results page of `limit-eval report`: the golden page of the fixture result files, the
// fine-tuning conventions, and what happens with malformed result files.

#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "limit_eval/core/error.hpp"
#include "limit_eval/report/chart.hpp"
#include "limit_eval/report/published_results.hpp"
#include "limit_eval/report/result_file.hpp"
#include "limit_eval/report/results_page.hpp"
#include "limit_eval/report/svg.hpp"
#include "limit_eval/report/table.hpp"
#include "temp_folder.hpp"

namespace limit_eval::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::filesystem::path kSource = LIMIT_EVAL_SOURCE_DIR;
const std::filesystem::path kFixture = kSource / "tests" / "fixtures" / "report";

using test::read_file;
using test::TempFolder;

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++count;
  return count;
}

PublishedResults published() { return read_published_results(kSource / "reference" / "published-results.json"); }

void write_json(const std::filesystem::path& path, const nlohmann::json& json) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << json.dump(2);
}

nlohmann::json fixture_json(const std::string& relative) {
  return nlohmann::json::parse(read_file(kFixture / "results" / relative));
}

TEST(ReportPage, FixtureResultsGiveTheExpectedPageAndFigures) {
  const auto results = read_results_folder(kFixture / "results");
  ASSERT_EQ(results.size(), 7U);
  const auto page = build_results_page(results, published());
  EXPECT_EQ(page.markdown, read_file(kFixture / "expected" / "README.md"))
      << "regenerate with the command in tests/fixtures/report/make_fixtures.py, then review the diff";
  ASSERT_EQ(page.figures.size(), 5U);
  for (const auto& [relative, svg_text] : page.figures) {
    EXPECT_EQ(svg_text, read_file(kFixture / "expected" / relative)) << relative;
    EXPECT_THAT(page.markdown, HasSubstr("](" + relative + ")"));
  }
}

TEST(ReportPage, SameInputsGiveTheSameBytes) {
  const auto results = read_results_folder(kFixture / "results");
  EXPECT_EQ(build_results_page(results, published()).markdown, build_results_page(results, published()).markdown);
}

TEST(ReportPage, ModelOrderIsTheSeedsThenAlphabetical) {
  EXPECT_TRUE(model_order_before("bm25", "v1"));
  EXPECT_TRUE(model_order_before("v1", "v2-distill"));
  EXPECT_TRUE(model_order_before("v2-distill", "v3-distill"));
  EXPECT_TRUE(model_order_before("v3-distill", "v3-gte"));
  EXPECT_TRUE(model_order_before("v3-gte", "acme"));
  EXPECT_TRUE(model_order_before("acme", "zeta"));
  EXPECT_FALSE(model_order_before("zeta", "bm25"));
}

TEST(ReportPage, AnExplicitZeroSampleResultStartsTheFineTuningSeries) {
  TempFolder folder;
  write_json(folder.path() / "limit" / "v3-gte.json", fixture_json("limit/v3-gte.json"));
  auto base = fixture_json("limit/v3-gte.json");
  base["model"]["name"] = "v3-gte-ft0";
  base["model"]["description"]["training"] = {{"samples", 0}, {"base_model", "v3-gte"}};
  base["metrics"]["NDCG@10"] = 0.123456;
  write_json(folder.path() / "limit" / "v3-gte-ft0.json", base);
  write_json(folder.path() / "limit" / "v3-gte-ft2.json", fixture_json("limit/v3-gte-ft2.json"));

  const auto page = build_results_page(read_results_folder(folder.path()), published());
  EXPECT_THAT(page.markdown, HasSubstr("| 0 (Zero-shot) | 0.1235 |"));
  EXPECT_THAT(page.markdown, HasSubstr("the untrained base model's result"));
  EXPECT_THAT(page.markdown, Not(HasSubstr("v3-gte (zero-shot)")));
  // Fine-tuned results are not zero-shot rows (the comparison section further down names them).
  const auto zero_shot_start = page.markdown.find("## (Zero-Shot) limit Dataset");
  const auto zero_shot = page.markdown.substr(zero_shot_start, page.markdown.find("## (Finetune)") - zero_shot_start);
  EXPECT_THAT(zero_shot, HasSubstr("| [v3-gte]("));
  EXPECT_THAT(zero_shot, Not(HasSubstr("| v3-gte-ft0 |")));
  EXPECT_THAT(zero_shot, Not(HasSubstr("| v3-gte-ft2 |")));
}

TEST(ReportPage, WithoutFineTunedResultsTheFigureIsOmittedAndThePageSaysSo) {
  TempFolder folder;
  write_json(folder.path() / "limit-small" / "bm25.json", fixture_json("limit-small/bm25.json"));
  const auto page = build_results_page(read_results_folder(folder.path()), published());
  EXPECT_THAT(page.markdown, HasSubstr("No fine-tuned result yet: the figure is omitted."));
  EXPECT_THAT(page.markdown, HasSubstr("No zero-shot result for limit yet."));
  EXPECT_THAT(page.markdown, HasSubstr("scripts/download_data.sh limit"));
  ASSERT_EQ(page.figures.size(), 1U);
  EXPECT_EQ(page.figures.front().first, "figures/recall_vs_dimensions_limit-small.svg");
  // Nothing is invented: no seed row (there is no seed BM25), the paper's BM25 instead.
  EXPECT_THAT(page.markdown, HasSubstr("| ↳ LIMIT paper | — | 0.9780 | 1.0000 | 1.0000 | — |"));
  EXPECT_THAT(page.markdown, Not(HasSubstr("[v1]")));
}

TEST(ReportPage, ResultsThatCannotBeComparedAreNamedNotFatal) {
  TempFolder folder;
  write_json(folder.path() / "limit-small" / "bm25.json", fixture_json("limit-small/bm25.json"));
  auto v1 = fixture_json("limit-small/v1.json");
  v1.erase("per_query");
  write_json(folder.path() / "limit-small" / "v1.json", v1);
  const auto page = build_results_page(read_results_folder(folder.path()), published());
  EXPECT_THAT(page.markdown, HasSubstr("## Are the differences significant?"));
  EXPECT_THAT(page.markdown, HasSubstr("### limit-small: each model against bm25\n\nNot compared: limit-small/v1.json: "
                                       "holds no per-query values"));
  ASSERT_EQ(page.figures.size(), 1U);  // the recall figure only
}

TEST(ReportPage, ComparisonTablesShowEfficiencyAndTheReproducingCommand) {
  const auto page = build_results_page(read_results_folder(kFixture / "results"), published());
  EXPECT_THAT(page.markdown, HasSubstr("build/limit-eval compare --baseline limit-small/bm25.json limit-small/v1.json "
                                       "limit-small/v3-gte.json limit-small/acme-sparse.json --metric NDCG@10 --test "
                                       "randomization"));
  // bm25's efficiency from its result file: 68.717391 active dimensions, FLOPS 1.126435.
  EXPECT_THAT(page.markdown, HasSubstr("| 68.7 | 2.5 | 1.126 | `limit-small/bm25.json` |"));
  EXPECT_THAT(page.markdown, HasSubstr("](figures/differences_limit-small.svg)"));
  EXPECT_THAT(page.markdown, HasSubstr("](figures/differences_limit_finetune_v3-gte.svg)"));
}

TEST(ReportPage, AnEmptyFolderGivesAPageWithoutRowsOrFigures) {
  TempFolder folder;
  const auto page = build_results_page(read_results_folder(folder.path()), published());
  EXPECT_THAT(page.markdown, HasSubstr("0 result files."));
  EXPECT_THAT(page.markdown, HasSubstr("No zero-shot result for limit-small yet."));
  EXPECT_TRUE(page.figures.empty());
}

TEST(ReportPage, WritesFiguresBesideTheMarkdown) {
  TempFolder folder;
  const auto page = build_results_page(read_results_folder(kFixture / "results"), published());
  write_results_page(page, folder.path() / "out" / "README.md");
  EXPECT_EQ(read_file(folder.path() / "out" / "README.md"), page.markdown);
  for (const auto& [relative, svg_text] : page.figures) EXPECT_EQ(read_file(folder.path() / "out" / relative), svg_text);
  // No temporary file is left behind.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder.path())) {
    EXPECT_THAT(entry.path().filename().string(), Not(HasSubstr(".tmp.")));
  }
}

TEST(ResultFile, InvalidJsonNamesTheFileAndLine) {
  TempFolder folder;
  std::filesystem::create_directories(folder.path() / "limit-small");
  std::ofstream(folder.path() / "limit-small" / "broken.json") << "{\n  \"format\": \"limit-eval-results/1\",\n  oops\n}";
  try {
    (void)read_results_folder(folder.path());
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_EQ(e.path(), folder.path() / "limit-small" / "broken.json");
    EXPECT_EQ(e.line(), 3U);
    EXPECT_THAT(e.what(), HasSubstr("broken.json:3: invalid JSON"));
  }
}

TEST(ResultFile, MissingOrMistypedFieldsAreNamed) {
  TempFolder folder;
  const auto check = [&](const std::function<void(nlohmann::json&)>& damage, const std::string& expected) {
    auto json = fixture_json("limit-small/v1.json");
    damage(json);
    const auto path = folder.path() / "v1.json";
    write_json(path, json);
    try {
      (void)read_result_file(path, "v1.json");
      ADD_FAILURE() << "expected DataError mentioning " << expected;
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr(path.string()));
      EXPECT_THAT(e.what(), HasSubstr(expected));
    }
  };
  check([](auto& j) { j["format"] = "something-else/2"; }, "/format is \"something-else/2\"");
  check([](auto& j) { j.erase("metrics"); }, "/metrics is missing");
  check([](auto& j) { j["metrics"]["NDCG@10"] = "high"; }, "/metrics/NDCG@10 must be a number");
  check([](auto& j) { j["model"].erase("name"); }, "/model/name is missing");
  check([](auto& j) { j["dataset"]["name"] = 3; }, "/dataset/name must be a string");
  check([](auto& j) { j["environment"].erase("device"); }, "/environment/device is missing");
  check([](auto& j) { j["timings_s"]["corpus_encoding"] = "fast"; }, "/timings_s/corpus_encoding must be a number");
  check([](auto& j) { j["model"]["description"]["training"] = {{"samples", -2}}; },
        "/model/description/training/samples must be a non-negative integer");
  check([](auto& j) { j = nlohmann::json::array(); }, "/ must be an object");
}

TEST(ResultFile, ReadsWhatTheReportNeeds) {
  const auto bm25 = read_result_file(kFixture / "results" / "limit-small" / "bm25.json", "limit-small/bm25.json");
  EXPECT_EQ(bm25.model, "bm25");
  EXPECT_EQ(bm25.dataset, "limit-small");
  EXPECT_EQ(bm25.dimensions, 1333U);  // description.vocabulary_size
  EXPECT_FALSE(bm25.fine_tuned());
  EXPECT_FALSE(bm25.environment.batch_size.has_value());
  const auto tuned = read_result_file(kFixture / "results" / "limit" / "v3-gte-ft2.json", "limit/v3-gte-ft2.json");
  EXPECT_EQ(tuned.dimensions, 30522U);  // description.vocab_size
  ASSERT_TRUE(tuned.fine_tuned());
  EXPECT_EQ(tuned.training->samples, 2U);
  EXPECT_EQ(tuned.training->base_model, "v3-gte");
  EXPECT_EQ(tuned.environment.device, "cuda:0");
  EXPECT_EQ(tuned.settings.k_values, (std::vector<int>{2, 10, 20, 100}));
}

// write_result_file streams the per-query values into the text of the rest: the file must be what
// dump(2) prints of result_json, and read back to the same values.
TEST(ResultFile, WrittenAsItsJsonDumpsAndReadBack) {
  const TempFolder folder;
  ResultRecord record;
  record.model = "m";
  record.dataset = {{"name", "d"}, {"per_query", "a nested key of the same name"}};
  record.metrics = {{"NDCG@10", 0.5}, {"Recall@2", 1.0 / 3.0}};
  record.cache = {{"status", "hit"}};
  record.environment = {{"device", "cpu"}, {"dtype", "fp32"}, {"date", "2026-11-30"}};
  for (const bool with_queries : {true, false}) {
    if (with_queries) {
      record.per_query = {{"q1", {{"NDCG@10", 1.0}, {"Recall@2", 0.1}}},
                          {"q \"2\"\n\u00e9", {{"NDCG@10", 0.0}, {"Recall@2", 1e-300}}},
                          {"q3", {}}};
    } else {
      record.per_query.clear();
    }
    const auto path = folder.path() / (with_queries ? "with.json" : "without.json");
    AtomicFileWriter file(path);
    write_result_file(file, record);
    file.commit();
    EXPECT_EQ(read_file(path), result_json(record).dump(2) + "\n") << path;
    const auto read = read_result_file(path, path.filename());
    EXPECT_EQ(read.per_query, record.per_query);
  }
}

TEST(ResultFile, MissingFolderIsAnIoError) {
  EXPECT_THROW((void)read_results_folder(kFixture / "no-such-folder"), IoError);
}

TEST(PublishedResults, PaperPercentagesBecomeFractionsAndSourcesAreKept) {
  const auto values = published();
  EXPECT_THAT(values.zero_shot_source, HasSubstr("LIMIT-Inference-free Sparse Embedding Experiments"));
  EXPECT_THAT(values.paper_source, HasSubstr("2508.21038"));
  EXPECT_DOUBLE_EQ(values.zero_shot.at("limit").at("v3-gte").corpus_encoding_s.value(), 170.1867);
  EXPECT_DOUBLE_EQ(values.fine_tune.at("limit").at(1700).metrics.at("Recall@100"), 0.963);
  const auto& paper = values.paper.at("limit-small");
  EXPECT_EQ(paper.front().name, "BM25");  // the paper's order is kept
  EXPECT_FALSE(paper.front().dimensions.has_value());
  EXPECT_NEAR(paper.front().metrics.at("Recall@2"), 0.978, 1e-12);
}

TEST(Table, SingleRowTableKeepsItsFormat) {
  const TableRow row{"bm25", {{"NDCG@10", 0.99244}, {"Recall@2", 0.979}, {"Recall@10", 1.0}}, 0.0037, std::nullopt};
  EXPECT_EQ(markdown_table({row}),
            "| Model | NDCG@10 | Recall@2 | Recall@10 | Recall@20 | Recall@100 | Corpus Encoding Time (s) | Query "
            "Encoding Time (s) |\n"
            "| ----- | ------- | -------- | --------- | --------- | ---------- | ------------------------ | "
            "----------------------- |\n"
            "| bm25 | 0.9924 | 0.9790 | 1.0000 | n/a | n/a | 0.0037 | n/a |\n");
}

TEST(Table, GridEscapesPipes) {
  EXPECT_EQ(markdown_grid({"a", "b"}, {{"x|y", "z"}}), "| a | b |\n| --- | --- |\n| x\\|y | z |\n");
}

TEST(Svg, EscapesTextAndAttributes) {
  svg::Document document(100, 50, "a < b & \"c\"", "d");
  document.text(1, 2, "<R&D>", {{"data-model", "x\"y"}});
  const std::string text = document.str();
  EXPECT_THAT(text, HasSubstr("<title>a &lt; b &amp; &quot;c&quot;</title>"));
  EXPECT_THAT(text, HasSubstr(">&lt;R&amp;D&gt;</text>"));
  EXPECT_THAT(text, HasSubstr("data-model=\"x&quot;y\""));
  EXPECT_EQ(svg::coordinate(12.5), "12.5");
  EXPECT_EQ(svg::coordinate(3.0), "3");
  EXPECT_EQ(svg::coordinate(-0.001), "0");
}

TEST(Chart, EveryPointCarriesItsDataAndTheLegendListsEverySeriesOnce) {
  Chart chart;
  chart.title = "t";
  ChartPanel panel;
  panel.x = {.label = "x", .scale = AxisScale::linear, .min = 0, .max = 10, .ticks = {{0, "0"}, {10, "10"}}, .grid = false};
  panel.y = panel.x;
  panel.series.push_back({.name = "s", .legend_group = "g", .colour = "#000000", .shape = svg::MarkerShape::circle,
                          .filled = true, .connect = false, .dashed = false,
                          .points = {{.x = 5, .y = 5, .tooltip = "p", .data = {{"data-value", "0.5000"}}}}});
  chart.panels = {panel, panel};
  const std::string text = render_chart(chart);
  EXPECT_EQ(occurrences(text, "data-value=\"0.5000\""), 2U);
  EXPECT_EQ(occurrences(text, "class=\"legend-entry\""), 1U);
}

TEST(Chart, CrowdedTickLabelsAreThinnedSoThatNoneOverlap) {
  Chart chart;
  ChartPanel panel;
  panel.x = {.label = "x", .scale = AxisScale::linear, .min = 0, .max = 100, .ticks = {}, .grid = false};
  for (int i = 0; i <= 100; ++i) panel.x.ticks.push_back({static_cast<double>(i), "tick" + std::to_string(1000 + i)});
  panel.y = {.label = "y", .scale = AxisScale::linear, .min = 0, .max = 1, .ticks = {{0, "0"}}, .grid = false};
  chart.panels = {panel};
  const std::string text = render_chart(chart);
  const auto shown = occurrences(text, ">tick1");
  EXPECT_GT(shown, 3U);
  EXPECT_LT(shown, 20U);  // about 720 px of axis, labels about 45 px wide
  EXPECT_EQ(occurrences(text, ">tick1000<"), 1U);  // the first label is always kept
}

}  // namespace
}  // namespace limit_eval::report
