#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/commands.hpp"
#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/suggest.hpp"
#include "limit_eval/core/version.hpp"

namespace {

int exit_code(limit_eval::ExitCode code) { return static_cast<int>(code); }

void configure_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("limit-eval");
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// CLI11 2.1 lists unexpected arguments in reverse order; this names them in the order given, and
// a word close to a command's name gets a "did you mean".
std::string unexpected_arguments_message(const CLI::App& app, const CLI::App& failed) {
  const std::vector<std::string> extras = failed.remaining(false);
  const std::string command = &failed == &app ? app.get_name() : app.get_name() + " " + failed.get_name();
  std::string message =
      fmt::format("{}: unexpected argument{}: {}", command, extras.size() == 1 ? "" : "s", fmt::join(extras, " "));
  if (&failed == &app && !extras.empty() && !extras.front().starts_with('-')) {
    std::vector<std::string> commands;
    for (const CLI::App* command : app.get_subcommands({})) {
      if (!command->get_name().empty()) commands.push_back(command->get_name());
    }
    if (const auto best = limit_eval::closest_match(extras.front(), commands)) {
      message += fmt::format(" (did you mean the command '{}'?)", *best);
    }
  }
  return message;
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
  limit-eval encode --model v1 --dataset limit --shard 2/4   the 2nd quarter of the corpus into the cache

Logs go to stderr, the results table to stdout. Exit status: 0 ok, 1 internal failure,
2 usage error, 3 invalid data, 4 file error, 5 model error. See README.md for every option.)");
  app.set_version_flag("--version", fmt::format("limit-eval {} ({})", limit_eval::kVersion, limit_eval::kGitCommit));
  limit_eval::cli::GlobalOptions global;
  limit_eval::cli::add_global_options(app, global);

  limit_eval::cli::add_run_command(app, global);
  limit_eval::cli::add_evaluate_command(app, global);
  limit_eval::cli::add_tokenize_command(app, global);
  limit_eval::cli::add_report_command(app, global);
  limit_eval::cli::add_generate_command(app, global);
  limit_eval::cli::add_build_train_set_command(app, global);
  limit_eval::cli::add_finetune_command(app, global);
  limit_eval::cli::add_compare_command(app, global);
  limit_eval::cli::add_encode_command(app, global);
  app.parse_complete_callback([&] {
    configure_logging(global.log_level);
    limit_eval::cli::reject_inapplicable_options(app);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    // The command whose arguments were not expected: the last one parsed.
    const CLI::App* failed = &app;
    while (failed->remaining_size() == 0 && !failed->get_subcommands().empty()) {
      failed = failed->get_subcommands().front();
    }
    fmt::print(stderr, "{}\nRun with --help for more information.\n", unexpected_arguments_message(app, *failed));
    return exit_code(ExitCode::usage);
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
  } catch (const limit_eval::ContractError& e) {
    spdlog::error("internal error (a bug in limit-eval; please report it): {}", e.what());
    return exit_code(ExitCode::failure);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return exit_code(ExitCode::failure);
  }
  return exit_code(ExitCode::ok);
}
