#include "limit_eval/neural/document_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <ATen/cpu/Utils.h>
#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "limit_eval/core/error.hpp"
#include "limit_eval/core/log.hpp"
#include "limit_eval/core/parallel.hpp"
#include "limit_eval/core/progress.hpp"
#include "limit_eval/encode/precision.hpp"
#include "limit_eval/report/environment.hpp"

#ifdef LIMIT_EVAL_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace limit_eval::neural {

namespace {

torch::Dtype parse_dtype(const std::string& dtype) {
  if (dtype == "fp32") return torch::kFloat32;
  if (dtype == "bf16") return torch::kBFloat16;
  if (dtype == "fp16") return torch::kFloat16;
  throw UsageError(fmt::format("--dtype '{}' is not one of fp32, bf16, fp16", dtype));
}

encode::ComputeCapabilities compute_capabilities(const torch::Device& device) {
  encode::ComputeCapabilities capabilities;
  capabilities.cuda = device.is_cuda();
  const auto cpu = at::cpu::get_cpu_capabilities();
  const auto flag = [&cpu](const char* name) {
    const auto found = cpu.find(name);
    return found != cpu.end() && found->second.isBool() && found->second.toBool();
  };
  capabilities.cpu_avx512_bf16 = flag("avx512_bf16");
  capabilities.cpu_amx_bf16 = flag("amx_bf16");
  return capabilities;
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
// positions (a longer document goes alone). Bounds the [rows, V] logits buffer (125 MB in fp32 on
// the CPU, 2 GB on a GPU) while keeping the GEMM large enough to run near peak. On the CPU 1,024
// rows took 8-11% less CPU time than 2,048 for the same decoder work (bench/README.md).
constexpr std::int64_t kDecoderRowsCpu = 1024;
constexpr std::int64_t kDecoderRowsCuda = 16384;

std::vector<std::pair<std::size_t, std::size_t>> plan_batches(const std::vector<std::size_t>& sorted_lengths,
                                                              std::size_t batch_size, std::size_t max_batch_tokens) {
  std::vector<std::pair<std::size_t, std::size_t>> batches;
  const std::size_t n = sorted_lengths.size();
  for (std::size_t first = 0; first < n;) {
    const std::size_t longest = std::max<std::size_t>(1, sorted_lengths[first]);
    std::size_t rows = batch_size;
    if (max_batch_tokens > 0) rows = std::min(rows, std::max<std::size_t>(1, max_batch_tokens / longest));
    const std::size_t last = std::min(n, first + std::max<std::size_t>(1, rows));
    batches.emplace_back(first, last);
    first = last;
  }
  return batches;
}

std::string shape_of(const torch::Tensor& tensor) {
  std::string shape;
  for (const auto size : tensor.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(size);
  return shape;
}

struct DocumentModel::Impl {
  encode::MlmEncoderSpec spec;
  std::uint32_t vocab_size = 0;
  DeviceOptions options;
  std::string device_string;
  torch::Device device{torch::kCPU};
  torch::Dtype dtype = torch::kFloat32;
  std::string dtype_string;  // resolved from options.dtype (auto -> fp32 or bf16)
  mutable torch::jit::Module module;
  bool hidden_states = false;        // the module returns the decoder's input, see MlmEncoderSpec
  torch::Tensor decoder_weight;      // [V, H] in the model's dtype
  torch::Tensor decoder_bias;        // [V] float32
  mutable torch::Tensor logits_buffer;  // reused [rows, V] output of the decoder GEMM

  // [B, L] ids and mask (on the host; lengths = each row's valid prefix) -> pooled [B, V] float32
  // SPLADE weights, left on the model's device.
  //
  // SPLADE: max over tokens of log1p(relu(logits * mask)) (twice log1p for log1p_relu). The
  // functions are monotone, so activating the per-dimension maximum is exact and 1/L the work.
  // Each row's maximum is taken over its valid prefix only; the padded positions the reference
  // includes contribute relu(0) = 0, which relu restores. Likewise the decoder's bias is added after
  // the maximum: float rounding is monotone, so max_l(x_l + b) == max_l(x_l) + b exactly.
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const std::vector<std::int64_t>& lengths) const {
    torch::InferenceMode inference;
    const bool async = device.is_cuda() && input_ids.is_pinned();
    const auto ids = input_ids.to(device, /*non_blocking=*/async);
    const auto mask = attention_mask.to(device, /*non_blocking=*/async);
    const torch::IValue output = module.forward({ids, mask});
    if (!output.isTensor()) {
      throw ModelError(fmt::format("{}: forward() must return a tensor of {}", spec.file.string(),
                                   hidden_states ? "hidden states" : "MLM logits"));
    }
    const auto result = output.toTensor();
    auto pooled = hidden_states ? pool_projected(result, ids, lengths) : pool_logits(result, ids, lengths);
    pooled = pooled.to(torch::kFloat32);
    if (hidden_states) pooled.add_(decoder_bias);
    pooled = torch::log1p(torch::relu(pooled));
    if (spec.activation == "log1p_relu") pooled = torch::log1p(pooled);
    return pooled;
  }

  // The non-zero entries of pooled [B, V] (on the device), as host rows of column indices
  // (ascending) and values: only the entries cross to the host, not the dense rows.
  void extract_rows(const torch::Tensor& pooled, std::vector<std::vector<std::uint32_t>>& indices,
                    std::vector<std::vector<float>>& values) const {
    torch::InferenceMode inference;
    const auto nonzero = pooled != 0;
    const auto coordinates = nonzero.nonzero();  // [nnz, 2], row-major order: rows, then ascending columns
    const auto host_columns = coordinates.select(1, 1).to(torch::kInt32).to(torch::kCPU);
    const auto host_rows = coordinates.select(1, 0).to(torch::kInt32).to(torch::kCPU);
    const auto host_values = pooled.masked_select(nonzero).to(torch::kCPU);  // the same row-major order
    const auto* rows = host_rows.data_ptr<std::int32_t>();
    const auto* columns = host_columns.data_ptr<std::int32_t>();
    const auto* weights = host_values.data_ptr<float>();
    const auto nnz = host_values.numel();
    for (std::int64_t i = 0; i < nnz; ++i) {
      indices[static_cast<std::size_t>(rows[i])].push_back(static_cast<std::uint32_t>(columns[i]));
      values[static_cast<std::size_t>(rows[i])].push_back(weights[i]);
    }
  }

  void check_shape(const torch::Tensor& result, const torch::Tensor& ids, std::int64_t last, const char* what) const {
    if (result.dim() != 3 || result.size(0) != ids.size(0) || result.size(1) != ids.size(1) ||
        result.size(2) != last) {
      throw ModelError(fmt::format("{}: forward() returned shape [{}] for input [{}, {}]; expected [batch, length, {}] "
                                   "({})",
                                   spec.file.string(), shape_of(result), ids.size(0), ids.size(1), last,
                                   what));
    }
  }

  // Rows without a valid position get -inf, which the activation turns into 0 like the reference.
  static void empty_row(torch::Tensor row) { row.fill_(-std::numeric_limits<float>::infinity()); }

  torch::Tensor pool_logits(const torch::Tensor& logits, const torch::Tensor& ids,
                            const std::vector<std::int64_t>& lengths) const {
    check_shape(logits, ids, static_cast<std::int64_t>(vocab_size), "MLM logits");
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
    const std::int64_t decoder_rows = device.is_cuda() ? kDecoderRowsCuda : kDecoderRowsCpu;
    const std::int64_t capacity = std::max(decoder_rows, hidden.size(1));
    if (!logits_buffer.defined() || logits_buffer.size(0) < capacity) {
      logits_buffer = torch::empty({capacity, vocab}, hidden.options());
    }
    const auto weight_t = decoder_weight.t();
    // The valid positions of every row, flattened ([B * L] numbering), gathered once per batch.
    const std::int64_t width = hidden.size(1);
    std::vector<std::int64_t> positions;
    for (std::int64_t row = 0; row < batch; ++row) {
      for (std::int64_t t = 0; t < lengths[row]; ++t) positions.push_back(row * width + t);
    }
    const auto flat = hidden.reshape({batch * width, hidden.size(2)});
    const auto position_index = torch::tensor(positions, torch::kInt64).to(device);
    std::int64_t offset = 0;
    for (std::int64_t first = 0; first < batch;) {
      std::int64_t last = first;
      std::int64_t rows = 0;
      while (last < batch && (rows == 0 || rows + lengths[last] <= decoder_rows)) {
        rows += lengths[last];
        ++last;
      }
      if (rows > 0) {
        auto logits = logits_buffer.narrow(0, 0, rows);
        torch::mm_out(logits, flat.index_select(0, position_index.narrow(0, offset, rows)), weight_t);
        if (device.is_cuda()) {
          // One segmented max for the group instead of a kernel launch per document.
          const auto segment_lengths =
              torch::tensor(std::vector<std::int64_t>(lengths.begin() + first, lengths.begin() + last), torch::kInt64)
                  .to(device);
          pooled.narrow(0, first, last - first)
              .copy_(torch::segment_reduce(logits, "max", /*lengths=*/segment_lengths, /*indices=*/{},
                                           /*offsets=*/{}, /*axis=*/0, /*unsafe=*/true,
                                           /*initial=*/-std::numeric_limits<double>::infinity()));
        } else {
          std::int64_t document_offset = 0;
          for (std::int64_t row = first; row < last; ++row) {
            if (lengths[row] > 0) {
              auto out = pooled[row];
              torch::amax_out(out, logits.narrow(0, document_offset, lengths[row]), {0});
            }
            document_offset += lengths[row];
          }
        }
        offset += rows;
      }
      for (std::int64_t row = first; row < last; ++row) {
        if (lengths[row] == 0) empty_row(pooled[row]);
      }
      first = last;
    }
    return pooled;
  }
};

DocumentModel::DocumentModel(const encode::MlmEncoderSpec& spec, std::uint32_t vocab_size, const DeviceOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->spec = spec;
  impl_->vocab_size = vocab_size;
  impl_->options = options;
  impl_->device_string = resolve_device(options.device);
  impl_->device = parse_device(impl_->device_string);
  const auto choice = encode::resolve_dtype(options.dtype, compute_capabilities(impl_->device), spec.architecture);
  if (!choice.reason.empty()) {
    log::info(fmt::format("--dtype {}: {} on {} ({})", options.dtype, choice.dtype, impl_->device_string, choice.reason));
  }
  impl_->dtype_string = choice.dtype;
  impl_->dtype = parse_dtype(choice.dtype);
  if (impl_->dtype == torch::kFloat16 && impl_->device.is_cpu()) {
    throw UsageError("--dtype fp16 needs a CUDA device; on CPU use fp32 or bf16");
  }
  if (options.batch_size == 0) throw UsageError("--batch-size must be at least 1");
  if (impl_->device.is_cpu()) torch::set_num_threads(static_cast<int>(resolve_threads(options.threads)));

  // The profiling executor re-specialises the graph over its first runs, which costs seconds per
  // new input shape and gains nothing for plain transformer inference.
  torch::jit::setGraphExecutorOptimize(false);
  const auto& file = spec.file;
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

  impl_->hidden_states = spec.output == "hidden_states";
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
    const auto vocab = static_cast<std::int64_t>(vocab_size);
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
    (void)impl_->forward(ids, mask, {3, 2}).to(torch::kCPU);
  } catch (const c10::Error& e) {
    throw ModelError(fmt::format("{}: forward(input_ids, attention_mask) failed on a probe batch: {}", file.string(),
                                 e.what_without_backtrace()));
  }
}

DocumentModel::~DocumentModel() = default;

sparse::CsrMatrix DocumentModel::encode(const std::vector<std::vector<std::uint32_t>>& documents,
                                        const char* stage) const {
  const std::size_t n = documents.size();
  const std::size_t batch_size = impl_->options.batch_size;
  // Longest first: similar lengths share a batch (little padding) and memory peaks early.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return documents[a].size() > documents[b].size(); });

  std::vector<std::size_t> sorted_lengths(n);
  for (std::size_t i = 0; i < n; ++i) sorted_lengths[i] = documents[order[i]].size();

  std::vector<std::vector<std::uint32_t>> row_indices(n);
  std::vector<std::vector<float>> row_values(n);
  std::vector<std::vector<std::uint32_t>> batch_indices;
  std::vector<std::vector<float>> batch_values;
  // On a GPU the inputs go through page-locked memory, copied asynchronously.
  const auto input_options = torch::TensorOptions().dtype(torch::kInt64).pinned_memory(impl_->device.is_cuda());
  ProgressBar progress(stage, n);
  for (const auto& [start, end] : plan_batches(sorted_lengths, batch_size, impl_->options.max_batch_tokens)) {
    const std::size_t rows = end - start;
    const std::size_t length = sorted_lengths[start];
    auto ids = torch::zeros({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(length)}, input_options);
    auto mask = torch::zeros({static_cast<std::int64_t>(rows), static_cast<std::int64_t>(length)}, input_options);
    auto ids_access = ids.accessor<std::int64_t, 2>();
    auto mask_access = mask.accessor<std::int64_t, 2>();
    std::vector<std::int64_t> lengths(rows);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto& tokens = documents[order[start + r]];
      lengths[r] = static_cast<std::int64_t>(tokens.size());
      for (std::size_t t = 0; t < tokens.size(); ++t) {
        ids_access[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(t)] = tokens[t];
        mask_access[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(t)] = 1;
      }
    }
    const auto pooled = impl_->forward(ids, mask, lengths);
    batch_indices.assign(rows, {});
    batch_values.assign(rows, {});
    impl_->extract_rows(pooled, batch_indices, batch_values);
    for (std::size_t r = 0; r < rows; ++r) {
      const auto document = order[start + r];
      const auto& values = batch_values[r];
      if (const auto bad = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
          bad != values.end()) {
        throw PooledVectorError(
            document, fmt::format("the model produced a {} weight on {} in {}: its activations overflowed in this "
                                  "precision (use --dtype fp32)",
                                  std::isnan(*bad) ? "NaN" : "infinite", impl_->device_string, impl_->dtype_string));
      }
      row_indices[document] = std::move(batch_indices[r]);
      row_values[document] = std::move(batch_values[r]);
    }
    progress.advance(rows);
  }
  progress.finish();

  sparse::CsrBuilder builder(impl_->vocab_size);
  std::size_t nnz = 0;
  for (const auto& r : row_indices) nnz += r.size();
  builder.reserve(n, nnz);
  for (std::size_t i = 0; i < n; ++i) {
    try {
      builder.add_sorted_row(row_indices[i], row_values[i]);
    } catch (const ContractError& e) {
      throw PooledVectorError(i, fmt::format("the model's output is not a sparse vector over its {} columns: {}",
                                               impl_->vocab_size, e.what()));
    }
  }
  return std::move(builder).finish();
}

std::string DocumentModel::device() const { return impl_->device_string; }

std::string DocumentModel::device_name() const {
  if (impl_->device.is_cpu()) return report::cpu_name();
#ifdef LIMIT_EVAL_TORCH_CUDA
  return at::cuda::getDeviceProperties(impl_->device.index())->name;
#else
  return fmt::format("CUDA device {}", impl_->device.index());
#endif
}

std::string DocumentModel::dtype() const { return impl_->dtype_string; }
std::size_t DocumentModel::batch_size() const { return impl_->options.batch_size; }
std::size_t DocumentModel::max_batch_tokens() const { return impl_->options.max_batch_tokens; }

nlohmann::json DocumentModel::describe() const {
  nlohmann::json description = {{"file", impl_->spec.file.string()},
          {"architecture", impl_->spec.architecture},
          {"max_seq_length", impl_->spec.max_seq_length},
          {"pooling", impl_->spec.pooling},
          {"activation", impl_->spec.activation},
          {"output", impl_->spec.output},
          {"device", impl_->device_string},
          {"dtype", impl_->dtype_string},
          {"dtype_requested", impl_->options.dtype},
          {"batch_size", impl_->options.batch_size},
          {"max_batch_tokens", impl_->options.max_batch_tokens}};
#ifdef LIMIT_EVAL_TORCH_CUDA
  if (impl_->device.is_cuda()) {
    // Largest memory the caching allocator handed out on the device so far (model, activations,
    // logits buffer), not counting the CUDA context.
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(impl_->device.index());
    const auto aggregate = static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    description["peak_memory_mib"] = static_cast<double>(stats.allocated_bytes[aggregate].peak) / (1 << 20);
  }
#endif
  return description;
}

}  // namespace limit_eval::neural
