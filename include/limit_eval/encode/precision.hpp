#pragma once

#include <string>

namespace limit_eval::encode {

// What the machine running a neural encoder offers, as far as the choice of precision goes.
struct ComputeCapabilities {
  bool cuda = false;              // the encoder runs on a CUDA device
  bool cpu_avx512_bf16 = false;   // the CPU has native bf16 dot products (avx512_bf16)
  bool cpu_amx_bf16 = false;      // the CPU has AMX bf16 tiles
};

struct DtypeChoice {
  std::string dtype;   // fp32 | bf16 | fp16
  std::string reason;  // why, for the log (empty when the user asked for this dtype explicitly)
};

// --dtype: fp32, bf16 and fp16 are taken as asked (fp16 on a CPU is refused later, by the model).
// "auto": on CUDA bf16, except for GTE ("new" architecture: NewForMaskedLM), whose bf16/fp16 runs on
// CUDA gave NaN weights (bench/README.md), so fp32; on a CPU bf16 when it has native bf16
// (avx512_bf16 or AMX), else fp32 (emulated bf16 runs at a fraction of the fp32 GEMM rate).
// Throws UsageError for any other value.
DtypeChoice resolve_dtype(const std::string& requested, const ComputeCapabilities& capabilities,
                          const std::string& architecture);

}  // namespace limit_eval::encode
