#include "limit_eval/encode/precision.hpp"

#include <gtest/gtest.h>

#include "limit_eval/core/error.hpp"

namespace limit_eval::encode {
namespace {

constexpr ComputeCapabilities kPlainCpu{};
constexpr ComputeCapabilities kAvx512Bf16Cpu{.cpu_avx512_bf16 = true};
constexpr ComputeCapabilities kAmxCpu{.cpu_avx512_bf16 = true, .cpu_amx_bf16 = true};
constexpr ComputeCapabilities kAmxOnlyCpu{.cpu_amx_bf16 = true};
constexpr ComputeCapabilities kCuda{.cuda = true};

TEST(ResolveDtype, ExplicitDtypesAreTakenAsAskedWithoutReason) {
  for (const char* dtype : {"fp32", "bf16", "fp16"}) {
    for (const auto& capabilities : {kPlainCpu, kAmxCpu, kCuda}) {
      const auto choice = resolve_dtype(dtype, capabilities, "NewForMaskedLM");
      EXPECT_EQ(choice.dtype, dtype);
      EXPECT_TRUE(choice.reason.empty());
    }
  }
}

TEST(ResolveDtype, AutoOnCpuIsBf16OnlyWithNativeBf16) {
  EXPECT_EQ(resolve_dtype("auto", kPlainCpu, "BertForMaskedLM").dtype, "fp32");
  EXPECT_EQ(resolve_dtype("auto", kAvx512Bf16Cpu, "BertForMaskedLM").dtype, "bf16");
  EXPECT_EQ(resolve_dtype("auto", kAmxCpu, "DistilBertForMaskedLM").dtype, "bf16");
  EXPECT_EQ(resolve_dtype("auto", kAmxOnlyCpu, "BertForMaskedLM").dtype, "bf16");
  EXPECT_NE(resolve_dtype("auto", kPlainCpu, "BertForMaskedLM").reason.find("emulated"), std::string::npos);
  EXPECT_NE(resolve_dtype("auto", kAmxCpu, "BertForMaskedLM").reason.find("AMX"), std::string::npos);
  // The GTE exception concerns CUDA only: GTE in bf16 on the CPU gave finite, correct weights.
  EXPECT_EQ(resolve_dtype("auto", kAmxCpu, "NewForMaskedLM").dtype, "bf16");
}

TEST(ResolveDtype, AutoOnCudaIsBf16ExceptForGte) {
  EXPECT_EQ(resolve_dtype("auto", kCuda, "BertForMaskedLM").dtype, "bf16");
  EXPECT_EQ(resolve_dtype("auto", kCuda, "DistilBertForMaskedLM").dtype, "bf16");
  const auto gte = resolve_dtype("auto", kCuda, "NewForMaskedLM");
  EXPECT_EQ(gte.dtype, "fp32");
  EXPECT_NE(gte.reason.find("NaN"), std::string::npos);
  // The CPU's capabilities do not matter on CUDA.
  EXPECT_EQ(resolve_dtype("auto", ComputeCapabilities{.cuda = true, .cpu_amx_bf16 = true}, "NewForMaskedLM").dtype,
            "fp32");
}

TEST(ResolveDtype, UnknownValueIsAUsageError) {
  EXPECT_THROW((void)resolve_dtype("fp8", kPlainCpu, "BertForMaskedLM"), UsageError);
  EXPECT_THROW((void)resolve_dtype("", kCuda, "BertForMaskedLM"), UsageError);
}

}  // namespace
}  // namespace limit_eval::encode
