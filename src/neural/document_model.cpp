#include "limit_eval/neural/document_model.hpp"

#include <algorithm>
#include <limits>
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

// Rows of the decoder GEMM per call in hidden_states mode: whole documents up to this many valid
// positions (a longer document goes alone). Bounds the [rows, V] logits buffer (250 MB in fp32)
// while keeping the GEMM large enough to run near peak.
constexpr std::int64_t kDecoderRows = 2048;

std::string shape_of(const torch::Tensor& tensor) {
  std::string shape;
  for (const auto size : tensor.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(size);
  return shape;
}

struct DocumentModel::Impl {
  encode::ModelManifest manifest;
  DeviceOptions options;
  std::string device_string;
  torch::Device device{torch::kCPU};
  torch::Dtype dtype = torch::kFloat32;
  mutable torch::jit::Module module;
  bool hidden_states = false;        // the module returns the decoder's input, see DocumentEncoderSpec
  torch::Tensor decoder_weight;      // [V, H] in the model's dtype
  torch::Tensor decoder_bias;        // [V] float32
  mutable torch::Tensor logits_buffer;  // reused [rows, V] output of the decoder GEMM

  // [B, L] ids and mask -> pooled [B, V] float32 SPLADE weights on the CPU.
  //
  // SPLADE: max over tokens of log1p(relu(logits * mask)) (twice log1p for log1p_relu). The
  // functions are monotone, so activating the per-dimension maximum is exact and 1/L the work.
  // Each row's maximum is taken over its valid prefix only; the padded positions the reference
  // includes contribute relu(0) = 0, which relu restores. Likewise the decoder's bias is added after
  // the maximum: float rounding is monotone, so max_l(x_l + b) == max_l(x_l) + b exactly.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) const {
    torch::InferenceMode inference;
    const auto ids = input_ids.to(device);
    const auto mask = attention_mask.to(device);
    const torch::IValue output = module.forward({ids, mask});
    if (!output.isTensor()) {
      throw ModelError(fmt::format("{}: forward() must return a tensor of {}", manifest.document.file.string(),
                                   hidden_states ? "hidden states" : "MLM logits"));
    }
    const auto result = output.toTensor();
    const auto lengths_tensor = mask.sum(1).to(torch::kCPU);
    std::vector<std::int64_t> lengths(lengths_tensor.data_ptr<std::int64_t>(),
                                      lengths_tensor.data_ptr<std::int64_t>() + lengths_tensor.numel());
    auto pooled = hidden_states ? pool_projected(result, ids, lengths) : pool_logits(result, ids, lengths);
    pooled = pooled.to(torch::kFloat32);
    if (hidden_states) pooled.add_(decoder_bias);
    pooled = torch::log1p(torch::relu(pooled));
    if (manifest.document.activation == "log1p_relu") pooled = torch::log1p(pooled);
    return pooled.to(torch::kCPU).contiguous();
  }

  void check_shape(const torch::Tensor& result, const torch::Tensor& ids, std::int64_t last, const char* what) const {
    if (result.dim() != 3 || result.size(0) != ids.size(0) || result.size(1) != ids.size(1) ||
        result.size(2) != last) {
      throw ModelError(fmt::format("{}: forward() returned shape [{}] for input [{}, {}]; expected [batch, length, {}] "
                                   "({})",
                                   manifest.document.file.string(), shape_of(result), ids.size(0), ids.size(1), last,
                                   what));
    }
  }

  // Rows without a valid position get -inf, which the activation turns into 0 like the reference.
  static void empty_row(torch::Tensor row) { row.fill_(-std::numeric_limits<float>::infinity()); }

  torch::Tensor pool_logits(const torch::Tensor& logits, const torch::Tensor& ids,
                            const std::vector<std::int64_t>& lengths) const {
    check_shape(logits, ids, static_cast<std::int64_t>(manifest.vocab_size), "MLM logits");
    auto pooled = torch::empty({logits.size(0), logits.size(2)}, logits.options());
    for (std::int64_t row = 0; row < logits.size(0); ++row) {
      if (lengths[row] == 0) {
        empty_row(pooled[row]);
      } else {
        auto out = pooled[row];
        torch::amax_out(out, logits[row].narrow(0, 0, lengths[row]), {0});
      }
    }
    return pooled;
  }

  // The decoder GEMM on valid positions only, a group of whole documents per call, each document's
  // maximum taken from the group's logits while they are still in memory.
  torch::Tensor pool_projected(const torch::Tensor& hidden, const torch::Tensor& ids,
                               const std::vector<std::int64_t>& lengths) const {
    check_shape(hidden, ids, decoder_weight.size(1), "hidden states before the MLM decoder");
    const std::int64_t batch = hidden.size(0);
    const std::int64_t vocab = decoder_weight.size(0);
    auto pooled = torch::empty({batch, vocab}, hidden.options());
    const std::int64_t capacity = std::max(kDecoderRows, hidden.size(1));
    if (!logits_buffer.defined() || logits_buffer.size(0) < capacity) {
      logits_buffer = torch::empty({capacity, vocab}, hidden.options());
    }
    const auto weight_t = decoder_weight.t();
    std::vector<torch::Tensor> slices;
    for (std::int64_t first = 0; first < batch;) {
      std::int64_t last = first;
      std::int64_t rows = 0;
      slices.clear();
      while (last < batch && (rows == 0 || rows + lengths[last] <= kDecoderRows)) {
        if (lengths[last] > 0) slices.push_back(hidden[last].narrow(0, 0, lengths[last]));
        rows += lengths[last];
        ++last;
      }
      if (rows > 0) {
        auto logits = logits_buffer.narrow(0, 0, rows);
        torch::mm_out(logits, torch::cat(slices), weight_t);
        std::int64_t offset = 0;
        for (std::int64_t row = first; row < last; ++row) {
          if (lengths[row] > 0) {
            auto out = pooled[row];
            torch::amax_out(out, logits.narrow(0, offset, lengths[row]), {0});
          }
          offset += lengths[row];
        }
      }
      for (std::int64_t row = first; row < last; ++row) {
        if (lengths[row] == 0) empty_row(pooled[row]);
      }
      first = last;
    }
    return pooled;
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

  impl_->hidden_states = manifest.document.output == "hidden_states";
  if (impl_->hidden_states) {
    const auto tensor_attribute = [&](const char* name) {
      if (!impl_->module.hasattr(name) || !impl_->module.attr(name).isTensor()) {
        throw ModelError(fmt::format("{}: document_encoder.output is hidden_states but the module has no tensor "
                                     "'{}' (re-export the model with scripts/export_model.py)",
                                     file.string(), name));
      }
      return impl_->module.attr(name).toTensor();
    };
    impl_->decoder_weight = tensor_attribute("decoder_weight");
    const auto bias = tensor_attribute("decoder_bias");
    const auto vocab = static_cast<std::int64_t>(manifest.vocab_size);
    if (impl_->decoder_weight.dim() != 2 || impl_->decoder_weight.size(0) != vocab ||
        impl_->decoder_weight.size(1) == 0) {
      throw ModelError(fmt::format("{}: decoder_weight has shape [{}]; expected [{}, hidden size]", file.string(),
                                   shape_of(impl_->decoder_weight), vocab));
    }
    if (bias.dim() != 1 || bias.size(0) != vocab) {
      throw ModelError(fmt::format("{}: decoder_bias has shape [{}]; expected [{}]", file.string(), shape_of(bias),
                                   vocab));
    }
    impl_->decoder_bias = bias.to(torch::kFloat32);
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
          {"output", impl_->manifest.document.output},
          {"device", impl_->device_string},
          {"dtype", impl_->options.dtype},
          {"batch_size", impl_->options.batch_size}};
}

}  // namespace limit_eval::neural
