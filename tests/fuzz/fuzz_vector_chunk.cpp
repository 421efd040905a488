// Vector cache chunk files: read_chunk_file throws DataError for a damaged file, and nothing else.
// First byte 0: the rest is read as it is (checksum and header checks). Otherwise the rest gets
// a correct checksum and is expected to be the chunk its header says, so the fuzzer reaches the
// checks of the matrix itself.
#include <cstring>

#include "fuzz_input.hpp"
#include "limit_eval/core/checksum.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/encode/vector_cache.hpp"

namespace {

constexpr std::size_t kHeaderBytes = 112;
constexpr std::size_t kKeyDigestOffset = 48;
constexpr std::size_t kChecksumOffset = 80;

template <typename T>
T field(const std::string& file, std::size_t offset) {
  T value;
  std::memcpy(&value, file.data() + offset, sizeof value);
  return value;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 15];
  }
  return out;
}

std::string from_hex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::string file(limit_eval::fuzz::as_text(data + 1, size - 1));
  limit_eval::encode::ChunkHeader expected;
  if (data[0] != 0 && file.size() >= kHeaderBytes) {
    std::memset(file.data() + kChecksumOffset, 0, 32);
    const std::string digest = from_hex(limit_eval::sha256_bytes(file));
    std::memcpy(file.data() + kChecksumOffset, digest.data(), 32);
    expected.chunk_index = field<std::uint32_t>(file, 12);
    expected.first_row = field<std::uint64_t>(file, 16);
    expected.rows = field<std::uint32_t>(file, 24);
    expected.columns = field<std::uint32_t>(file, 28);
    expected.key_digest = hex(std::string_view(file).substr(kKeyDigestOffset, 32));
  }
  const auto path = limit_eval::fuzz::write_file("chunk-000000.bin", file);
  try {
    const auto chunk = limit_eval::encode::read_chunk_file(path, expected);
    if (chunk.vectors.rows != expected.rows || chunk.vectors.indptr.size() != std::size_t{expected.rows} + 1) {
      __builtin_trap();
    }
  } catch (const limit_eval::DataError&) {
  }
  return 0;
}
