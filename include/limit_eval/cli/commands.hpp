#pragma once

#include <CLI/CLI.hpp>

#include "limit_eval/cli/options.hpp"

namespace limit_eval::cli {

// Registers each subcommand on the application. A subcommand's work runs in its callback and
// reports failure by throwing (limit_eval::Error subclasses); main() maps errors to exit codes.
// Each subcommand also takes the global options (add_global_options), bound to `global`.
void add_run_command(CLI::App& app, GlobalOptions& global);       // the default: evaluate a model on a dataset
void add_evaluate_command(CLI::App& app, GlobalOptions& global);  // trec_eval-like: metrics of a TREC run file
void add_tokenize_command(CLI::App& app, GlobalOptions& global);  // a model's token ids of stdin lines
void add_report_command(CLI::App& app, GlobalOptions& global);    // the results page from the results JSON files
void add_generate_command(CLI::App& app, GlobalOptions& global);  // a synthetic LIMIT-style dataset, seeded
void add_build_train_set_command(CLI::App& app, GlobalOptions& global);  // the seed's training set (DESIGN.md §5)
void add_finetune_command(CLI::App& app, GlobalOptions& global);  // train an exported model (neural plugin)
void add_compare_command(CLI::App& app, GlobalOptions& global);   // paired significance tests between result files
void add_encode_command(CLI::App& app, GlobalOptions& global);    // a corpus (or one shard of it) into the vector cache

}  // namespace limit_eval::cli
