#include "limit_eval/cli/model_factory.hpp"

#include <regex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "limit_eval/cli/options.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/core/resources.hpp"
#include "limit_eval/core/version.hpp"
#include "limit_eval/encode/bm25_encoder.hpp"
#include "limit_eval/encode/registry.hpp"
#ifdef LIMIT_EVAL_NEURAL_PLUGIN
#include <dlfcn.h>

#include "limit_eval/neural/plugin.hpp"
#endif

namespace limit_eval::cli {

void add_model_options(CLI::App& app, ModelOptions& options) {
  auto* group = app.add_option_group("Model");
  group->add_option("-m,--model", options.model,
                    "bm25 (built in), a registered short name (v1, v2-distill, v3-distill, v3-gte; exported with "
                    "scripts/export_model.sh) or the path of an exported model folder")
      ->capture_default_str();
  group->add_option("--models-root", options.models_root,
                    "Folder where exported models are looked for by short name, <DIR>/<name>/ (default: "
                    "$LIMIT_EVAL_MODELS_ROOT, else the repository's models/)")
      ->check(CLI::ExistingDirectory);
  const auto given = [&options](const char* name) {
    return [&options, name](const std::string& value) {
      options.neural_options_given.push_back(fmt::format("{} {}", name, value));
    };
  };
  group->add_option("--device", options.device, "auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
      ->check(CLI::Validator(
          [](const std::string& value) {
            static const std::regex pattern("auto|cpu|cuda(:[0-9]+)?");
            return std::regex_match(value, pattern) ? std::string{}
                                                    : "must be auto, cpu, cuda or cuda:N";
          },
          "DEVICE"))
      ->each(given("--device"))
      ->capture_default_str();
  group->add_option("--dtype", options.dtype,
                    "Document encoder precision: fp32, bf16, fp16 (GPU only), or auto: bf16 on a GPU (fp32 for GTE) "
                    "and on a CPU with native bf16 (AMX or avx512_bf16), else fp32")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}))
      ->each(given("--dtype"))
      ->capture_default_str();
  group->add_option("--batch-size", options.batch_size, "Documents (and a siamese model's queries) per forward pass of the neural encoder")
      ->check(integer_in_range(1, 65536))
      ->each(given("--batch-size"))
      ->capture_default_str();
  group->add_option("--max-batch-tokens", options.max_batch_tokens,
                    "Neural models: also bound each batch to this many padded tokens (documents x the batch's "
                    "longest length; documents are batched longest first); 0 = documents per batch only. On a "
                    "GPU, e.g. --batch-size 512 --max-batch-tokens 65536")
      ->check(integer_in_range(0, 1LL << 30))
      ->each(given("--max-batch-tokens"))
      ->capture_default_str();
}

#ifdef LIMIT_EVAL_NEURAL_PLUGIN
namespace {

// The plugin lives beside the executable in the build folder, and in <prefix>/lib/limit-eval once
// installed. It stays loaded for the life of the process: the encoders it creates run its code.
template <typename Function>
Function load_neural_plugin(const char* symbol) {
  const auto path = plugin_dir() / LIMIT_EVAL_NEURAL_PLUGIN;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw ModelError(fmt::format("cannot load the neural encoder plugin {}: {}", path.string(), ::dlerror()));
  }
  auto* function = reinterpret_cast<Function>(::dlsym(handle, symbol));
  if (function == nullptr) {
    throw ModelError(fmt::format("{} does not export {}", path.string(), symbol));
  }
  return function;
}

}  // namespace
#endif

std::filesystem::path model_manifest(const ModelOptions& options) {
  const auto reference = encode::resolve_model(
      options.model, options.models_root.empty() ? encode::default_models_root() : options.models_root);
  return reference.kind == encode::ModelReference::Kind::exported ? reference.folder / "manifest.json"
                                                                  : std::filesystem::path{};
}

std::unique_ptr<encode::SparseEncoder> make_encoder(const ModelOptions& options, std::size_t threads) {
  const auto models_root = options.models_root.empty() ? encode::default_models_root() : options.models_root;
  const auto reference = encode::resolve_model(options.model, models_root);
  if (reference.kind == encode::ModelReference::Kind::bm25) {
    if (!options.neural_options_given.empty()) {
      spdlog::warn("BM25 runs on the CPU in fp32, one pass over the corpus: {} ignored (neural models only)",
                   fmt::join(options.neural_options_given, ", "));
    }
    return std::make_unique<encode::Bm25Encoder>(encode::Bm25Parameters{}, threads);
  }
#ifdef LIMIT_EVAL_NEURAL_PLUGIN
  const neural::DeviceOptions device{
      .device = options.device,
      .dtype = options.dtype,
      .batch_size = options.batch_size,
      .threads = threads,
      .max_batch_tokens = options.max_batch_tokens};
  return std::unique_ptr<encode::SparseEncoder>(load_neural_plugin<LimitEvalCreateNeuralEncoder>(kNeuralPluginSymbol)(reference.folder.c_str(), &device));
#else
  throw UsageError(fmt::format("model '{}' needs libtorch, and this limit-eval was built without it; build it "
                               "with libtorch (the project's Python environment provides it):\n  {}/scripts/build.sh -DLIMIT_EVAL_WITH_TORCH=ON",
                               options.model, kSourceDir));
#endif
}

void run_finetune(const neural::FinetuneOptions& options) {
#ifdef LIMIT_EVAL_NEURAL_PLUGIN
  load_neural_plugin<LimitEvalFinetune>(kFinetuneSymbol)(&options);
#else
  (void)options;
  throw UsageError(fmt::format("finetune needs libtorch, and this limit-eval was built without it; build it with "
                               "libtorch:\n  {}/scripts/build.sh -DLIMIT_EVAL_WITH_TORCH=ON",
                               kSourceDir));
#endif
}

}  // namespace limit_eval::cli
