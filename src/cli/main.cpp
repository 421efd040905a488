#include <exception>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/version.hpp"

namespace {

int exit_code(limit_eval::ExitCode code) { return static_cast<int>(code); }

void configure_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("limit-eval");
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int main(int argc, char** argv) {
  using limit_eval::ExitCode;
  CLI::App app{
      "limit-eval: evaluate sparse retrievers (BM25, OpenSearch inference-free sparse encoders) on the LIMIT "
      "benchmark with BEIR/trec_eval-exact metrics.",
      "limit-eval"};
  app.footer(R"(Examples:
  limit-eval                                        BM25 on LIMIT-small (the built-in default)
  limit-eval --model bm25 --dataset limit           BM25 on LIMIT (needs scripts/download_data.sh limit)
  limit-eval --dataset path/to/beir/folder --run-file run.trec
  limit-eval --model v3-gte --dataset limit --device auto --dtype bf16   an exported neural model
  limit-eval evaluate --run run.trec --qrels data/limit-small/qrels.jsonl
  limit-eval compare results/limit-small/bm25.json results/limit-small/v3-gte.json --test randomization
  echo "Who likes Quokkas?" | limit-eval tokenize --model v3-gte --as query

Logs go to stderr, the results table to stdout. Exit status: 0 ok, 1 failure, 2 usage error,
3 invalid data, 4 file error, 5 model error. See README.md for every option.)");
  app.set_version_flag("--version", fmt::format("limit-eval {} ({})", limit_eval::kVersion, limit_eval::kGitCommit));
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "Log verbosity on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();

  limit_eval::cli::add_run_command(app);
  limit_eval::cli::add_evaluate_command(app);
  limit_eval::cli::add_tokenize_command(app);
  limit_eval::cli::add_report_command(app);
  limit_eval::cli::add_generate_command(app);
  limit_eval::cli::add_compare_command(app);
  app.parse_complete_callback([&] { configure_logging(log_level); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any other parse error is a usage error.
    return app.exit(e) == 0 ? exit_code(ExitCode::ok) : exit_code(ExitCode::usage);
  } catch (const limit_eval::UsageError& e) {
    spdlog::error("{}", e.what());
    return exit_code(ExitCode::usage);
  } catch (const limit_eval::DataError& e) {
    spdlog::error("{}", e.what());
    return exit_code(ExitCode::data);
  } catch (const limit_eval::IoError& e) {
    spdlog::error("{}", e.what());
    return exit_code(ExitCode::io);
  } catch (const limit_eval::ModelError& e) {
    spdlog::error("{}", e.what());
    return exit_code(ExitCode::model);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return exit_code(ExitCode::failure);
  }
  return exit_code(ExitCode::ok);
}
