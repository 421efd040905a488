// A model folder's manifest.json (docs/model-format.md), beside the files a manifest lists:
// load_model_manifest, then the tokenizer and the query weights it describes. ModelError only.
// The files' bytes are those tests/fuzz/make_seeds.py records in its seed manifests.
#include "fuzz_input.hpp"
#include "limit_eval/core/error.hpp"
#include "limit_eval/encode/model_folder.hpp"
#include "limit_eval/encode/tokenizer_factory.hpp"
#include "limit_eval/text/wordpiece.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fuzz = limit_eval::fuzz;
  static const bool files_written = [] {
    fuzz::write_file("model/document_encoder.pt", "not a TorchScript module");
    fuzz::write_file("model/query_weights.f32", std::string_view("\0\0\0?\0\0\0?\0\0\0?\0\0\0?", 16));
    fuzz::write_file("model/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nwho\nlikes\n##s\n");
    return true;
  }();
  (void)files_written;
  const auto folder = fuzz::write_file("model/manifest.json", fuzz::as_text(data, size)).parent_path();
  try {
    const auto manifest = limit_eval::encode::load_model_manifest(folder, true);
    const auto tokenizer = limit_eval::encode::make_tokenizer(manifest.tokenizer);
    const std::vector<std::string> texts{"Who likes [MASK] quokkas?"};
    (void)tokenizer->encode_batch(texts, manifest.document.add_special_tokens, manifest.document.max_seq_length, 1);
    (void)limit_eval::encode::load_query_weights(manifest);
  } catch (const limit_eval::ModelError&) {
  }
  return 0;
}
