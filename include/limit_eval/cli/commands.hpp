#pragma once

#include <CLI/CLI.hpp>

namespace limit_eval::cli {

// Registers each subcommand on the application. A subcommand's work runs in its callback and
// reports failure by throwing (limit_eval::Error subclasses); main() maps errors to exit codes.
void add_run_command(CLI::App& app);       // the default: evaluate a model on a dataset
void add_evaluate_command(CLI::App& app);  // trec_eval-like: metrics of a TREC run file vs qrels
void add_tokenize_command(CLI::App& app);  // a model's token ids of stdin lines
void add_report_command(CLI::App& app);    // the results page from every results JSON under a folder
void add_generate_command(CLI::App& app);  // a synthetic LIMIT-style dataset of any size, seeded
void add_compare_command(CLI::App& app);   // paired significance tests between result files

}  // namespace limit_eval::cli
