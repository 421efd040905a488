#include "limit_eval/encode/precision.hpp"

#include <fmt/format.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::encode {

namespace {

bool is_gte(const std::string& architecture) { return architecture.rfind("NewFor", 0) == 0 || architecture == "NewModel"; }

}  // namespace

DtypeChoice resolve_dtype(const std::string& requested, const ComputeCapabilities& capabilities,
                          const std::string& architecture) {
  if (requested == "fp32" || requested == "bf16" || requested == "fp16") return {requested, {}};
  if (requested != "auto") throw UsageError(fmt::format("--dtype '{}' is not one of auto, fp32, bf16, fp16", requested));
  if (capabilities.cuda) {
    if (is_gte(architecture)) {
      return {"fp32", fmt::format("CUDA, but {} (GTE) gave NaN weights in bf16/fp16 on CUDA: fp32 until that is "
                                  "understood",
                                  architecture)};
    }
    return {"bf16", "CUDA"};
  }
  if (capabilities.cpu_amx_bf16) return {"bf16", "the CPU has AMX bf16"};
  if (capabilities.cpu_avx512_bf16) return {"bf16", "the CPU has avx512_bf16"};
  return {"fp32", "the CPU has no native bf16 (neither avx512_bf16 nor AMX): bf16 would be emulated"};
}

}  // namespace limit_eval::encode
