#include "limit_eval/neural/document_model.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/report/environment.hpp"

namespace limit_eval::neural {

namespace {

torch::Dtype parse_dtype(const std::string& dtype) {
  if (dtype == "fp32") return torch::kFloat32;
  if (dtype == "bf16") return torch::kBFloat16;
  if (dtype == "fp16") return torch::kFloat16;
  throw UsageError(fmt::format("--dtype '{}' is not one of fp32, bf16, fp16", dtype));
}

torch::Device parse_device(const std::string& resolved) {
  if (resolved == "cpu") return torch::Device(torch::kCPU);
  if (resolved.rfind("cuda", 0) != 0) {
    throw UsageError(fmt::format("--device '{}' is not one of auto, cpu, cuda, cuda:N", resolved));
  }
  if (!torch::cuda::is_available()) {
    throw UsageError(fmt::format("--device {}: no usable CUDA GPU (libtorch sees none); use --device cpu or auto",
                                 resolved));
  }
  int index = 0;
  if (resolved.size() > 4) {
    if (resolved[4] != ':') throw UsageError(fmt::format("--device '{}' is not cuda or cuda:N", resolved));
    try {
      std::size_t used = 0;
      index = std::stoi(resolved.substr(5), &used);
      if (used != resolved.size() - 5 || index < 0) throw std::invalid_argument("index");
    } catch (const std::exception&) {
      throw UsageError(fmt::format("--device '{}' is not cuda or cuda:N", resolved));
    }
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw UsageError(fmt::format("--device {}: only {} CUDA device(s) present", resolved, count));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace

std::string resolve_device(const std::string& requested) {
  if (requested != "auto") return requested;
  return torch::cuda::is_available() ? "cuda:0" : "cpu";
}

struct DocumentModel::Impl {
  encode::ModelManifest manifest;
  DeviceOptions options;
  std::string device_string;
  torch::Device device{torch::kCPU};
  torch::Dtype dtype = torch::kFloat32;
  mutable torch::jit::Module module;

  // [B, L] ids and mask -> pooled [B, V] float32 SPLADE weights on the CPU.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) const {
    torch::InferenceMode inference;
    const auto ids = input_ids.to(device);
    const auto mask = attention_mask.to(device);
    const torch::IValue output = module.forward({ids, mask});
    if (!output.isTensor()) throw ModelError(fmt::format("{}: forward() must return a tensor of MLM logits",
                                                        manifest.document.file.string()));
    const auto logits = output.toTensor();
    if (logits.dim() != 3 || logits.size(0) != ids.size(0) || logits.size(1) != ids.size(1) ||
        logits.size(2) != static_cast<std::int64_t>(manifest.vocab_size)) {
      std::string shape;
      for (const auto size : logits.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(size);
      throw ModelError(fmt::format("{}: forward() returned shape [{}] for input [{}, {}]; expected [batch, length, {}]",
                                   manifest.document.file.string(), shape, ids.size(0), ids.size(1),
                                   manifest.vocab_size));
    }
    // SPLADE: max over tokens of log1p(relu(logits * mask)) (twice log1p for log1p_relu). The
    // functions are monotone, so activating the per-dimension maximum is exact and 1/L the work.
    // Each row's maximum is taken over its valid prefix (a view: no copy of the [B, L, V] logits);
    // the padded positions the reference includes contribute relu(0) = 0, which relu restores.
    const auto lengths = mask.sum(1).to(torch::kCPU);
    auto pooled = torch::empty({logits.size(0), logits.size(2)}, logits.options().dtype(torch::kFloat32));
    for (std::int64_t row = 0; row < logits.size(0); ++row) {
      const auto valid = lengths[row].item<std::int64_t>();
      if (valid == 0) {
        pooled[row].zero_();
      } else {
        pooled[row].copy_(std::get<0>(logits[row].narrow(0, 0, valid).max(0)));
      }
    }
    pooled = torch::log1p(torch::relu(pooled));
    if (manifest.document.activation == "log1p_relu") pooled = torch::log1p(pooled);
    return pooled.to(torch::kCPU).contiguous();
  }
};

DocumentModel::DocumentModel(const encode::ModelManifest& manifest, const DeviceOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->manifest = manifest;
  impl_->options = options;
  impl_->dtype = parse_dtype(options.dtype);
  impl_->device_string = resolve_device(options.device);
  impl_->device = parse_device(impl_->device_string);
  if (impl_->dtype == torch::kFloat16 && impl_->device.is_cpu()) {
    throw UsageError("--dtype fp16 needs a CUDA device; on CPU use fp32 or bf16");
  }
  if (options.batch_size == 0) throw UsageError("--batch-size must be at least 1");
  if (impl_->device.is_cpu()) torch::set_num_threads(static_cast<int>(resolve_threads(options.threads)));

  // The profiling executor re-specialises the graph over its first runs, which costs seconds per
  // new input shape and gains nothing for plain transformer inference.
  torch::jit::setGraphExecutorOptimize(false);
  const auto& file = manifest.document.file;
  try {
    impl_->module = torch::jit::load(file.string(), impl_->device);
  } catch (const c10::Error& e) {
    throw ModelError(fmt::format("{}: not a loadable TorchScript module: {}", file.string(),
                                 e.what_without_backtrace()));
  }
  impl_->module.eval();
  if (impl_->dtype != torch::kFloat32) {
    // jit::Module::to(dtype) would also cast integer buffers (BERT's position_ids), so only the
    // floating-point parameters and buffers change precision.
    torch::NoGradGuard no_grad;
    for (auto parameter : impl_->module.parameters()) {
      if (parameter.is_floating_point()) parameter.set_data(parameter.to(impl_->dtype));
    }
    for (auto buffer : impl_->module.buffers()) {
      if (buffer.is_floating_point()) buffer.set_data(buffer.to(impl_->dtype));
    }
  }

  const auto forward = impl_->module.find_method("forward");
  if (!forward) throw ModelError(fmt::format("{}: the module has no forward() method", file.string()));
  const auto& schema = forward->function().getSchema();
  // arguments()[0] is self.
  if (schema.arguments().size() != 3) {
    throw ModelError(fmt::format("{}: forward{} must take (input_ids, attention_mask)", file.string(),
                                 schema.arguments().size() > 0 ? fmt::format(" with {} arguments",
                                                                             schema.arguments().size() - 1)
                                                               : std::string{}));
  }
  // A probe batch ([CLS] [SEP]-sized, two rows, one padded) checks the outputs before real work.
  try {
    const auto ids = torch::tensor({{1, 2, 3}, {1, 2, 0}}, torch::kInt64);
    const auto mask = torch::tensor({{1, 1, 1}, {1, 1, 0}}, torch::kInt64);
    (void)impl_->forward(ids, mask);
  } catch (const c10::Error& e) {
    throw ModelError(fmt::format("{}: forward(input_ids, attention_mask) failed on a probe batch: {}", file.string(),
                                 e.what_without_backtrace()));
  }
}

DocumentModel::~DocumentModel() = default;

sparse::CsrMatrix DocumentModel::encode(const std::vector<std::vector<std::uint32_t>>& documents) const {
  const std::size_t n = documents.size();
  const std::size_t batch_size = impl_->options.batch_size;
  // Longest first: similar lengths share a batch (little padding) and memory peaks early.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return documents[a].size() > documents[b].size(); });

  std::vector<std::vector<std::uint32_t>> row_indices(n);
  std::vector<std::vector<float>> row_values(n);
  ProgressBar progress("encoding documents", n);
  for (std::size_t start = 0; start < n; start += batch_size) {
    const std::size_t end = std::min(n, start + batch_size);
    const std::size_t rows = end - start;
    const std::size_t length = documents[order[start]].size();
    auto ids = torch::zeros({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(length)}, torch::kInt64);
    auto mask = torch::zeros_like(ids);
    auto ids_access = ids.accessor<std::int64_t, 2>();
    auto mask_access = mask.accessor<std::int64_t, 2>();
    for (std::size_t r = 0; r < rows; ++r) {
      const auto& tokens = documents[order[start + r]];
      for (std::size_t t = 0; t < tokens.size(); ++t) {
        ids_access[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(t)] = tokens[t];
        mask_access[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(t)] = 1;
      }
    }
    const auto pooled = impl_->forward(ids, mask);
    const float* data = pooled.data_ptr<float>();
    const std::size_t vocab = impl_->manifest.vocab_size;
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = data + r * vocab;
      auto& indices = row_indices[order[start + r]];
      auto& values = row_values[order[start + r]];
      for (std::size_t v = 0; v < vocab; ++v) {
        if (row[v] != 0.0F) {
          indices.push_back(static_cast<std::uint32_t>(v));
          values.push_back(row[v]);
        }
      }
    }
    progress.advance(rows);
  }
  progress.finish();

  sparse::CsrBuilder builder(impl_->manifest.vocab_size);
  std::size_t nnz = 0;
  for (const auto& r : row_indices) nnz += r.size();
  builder.reserve(n, nnz);
  for (std::size_t i = 0; i < n; ++i) builder.add_sorted_row(row_indices[i], row_values[i]);
  return std::move(builder).finish();
}

std::string DocumentModel::device() const { return impl_->device_string; }

std::string DocumentModel::device_name() const {
  if (impl_->device.is_cpu()) return report::cpu_name();
  return fmt::format("CUDA device {}", impl_->device.index());
}

std::string DocumentModel::dtype() const { return impl_->options.dtype; }
std::size_t DocumentModel::batch_size() const { return impl_->options.batch_size; }

nlohmann::json DocumentModel::describe() const {
  return {{"file", impl_->manifest.document.file.string()},
          {"architecture", impl_->manifest.document.architecture},
          {"max_seq_length", impl_->manifest.document.max_seq_length},
          {"pooling", impl_->manifest.document.pooling},
          {"activation", impl_->manifest.document.activation},
          {"device", impl_->device_string},
          {"dtype", impl_->options.dtype},
          {"batch_size", impl_->options.batch_size}};
}

}  // namespace limit_eval::neural
