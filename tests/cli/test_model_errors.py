"""A broken model folder or an impossible device gives a clear error, a non-zero exit and no output.

The model folders here are built in seconds, without sentence-transformers (tests/stand_in_models.py): a
scripted TorchScript stand-in for the MLM (logits = a fixed projection of one-hot token ids), the real
bert-base-uncased vocabulary, and weights from a seeded generator, with a manifest in the format of
docs/model-format.md. The first test checks that such a folder evaluates fine, so every other test
breaks exactly one thing. The last tests read the same folder as a siamese model (query_encoder.kind
"mlm": the queries go through the module too) and check the query encoder's kind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from stand_in_models import StandInHidden, StandInMlm, make_model  # noqa: E402
from stand_ins import VOCAB, VOCAB_SIZE, write_manifest  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ["LIMIT_EVAL_BIN"])
EXIT_USAGE, EXIT_MODEL = 2, 5


class StandInMlmWithBias(torch.nn.Module):
    """StandInHidden's logits computed whole, as a format 1 (logits) module would return them."""

    def __init__(self) -> None:
        super().__init__()
        split = StandInHidden()
        self.table = split.table
        self.register_buffer("decoder_weight", split.decoder_weight)
        self.register_buffer("decoder_bias", split.decoder_bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.table[input_ids] * attention_mask.unsqueeze(-1).to(torch.float32)
        return torch.nn.functional.linear(hidden, self.decoder_weight, self.decoder_bias)


class NaNForWords(torch.nn.Module):
    """StandInMlm whose logits are NaN at every word token (ids past the specials), as a model that
    overflows in half precision gives them; the load-time probe batch (ids 1-3) stays finite."""

    def __init__(self) -> None:
        super().__init__()
        self.mlm = StandInMlm()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = self.mlm(input_ids, attention_mask)
        return torch.where(input_ids.unsqueeze(-1) > 999, torch.full_like(logits, float("nan")), logits)


class OneArgument(torch.nn.Module):
    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return input_ids.to(torch.float32).unsqueeze(-1).expand(-1, -1, 30522)


class WrongShape(torch.nn.Module):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.zeros(input_ids.size(0), 7)


def run(model: Path | str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), "--model", str(model), "--dataset", "limit-small", "--output", str(out / "results.json"),
         "--run-file", str(out / "run.trec"), "--save-vectors", str(out / "vectors"), *extra],
        capture_output=True, text=True, timeout=600)


def assert_failed(completed: subprocess.CompletedProcess, out: Path, status: int, *fragments: str) -> None:
    assert completed.returncode == status, completed.stderr
    for fragment in fragments:
        assert fragment in completed.stderr, f"{fragment!r} not in:\n{completed.stderr}"
    assert not out.exists() or not any(out.iterdir()), f"output written: {list(out.iterdir())}"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


def test_stand_in_model_evaluates(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    completed = run(model, out, "--device", "cpu")
    assert completed.returncode == 0, completed.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["model"]["name"] == "stand-in"
    assert results["environment"]["device"] == "cpu"
    first = json.loads((out / "vectors" / "queries.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["_id"] == "query_0" and "likes" in first["vector"]


def test_missing_file(model: Path, tmp_path: Path) -> None:
    (model / "query_weights.f32").unlink()
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "query_weights.f32", "missing")


def test_missing_manifest(model: Path, tmp_path: Path) -> None:
    (model / "manifest.json").unlink()
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "manifest.json")


def test_corrupt_manifest(model: Path, tmp_path: Path) -> None:
    (model / "manifest.json").write_text("{\"format\": ", encoding="utf-8")
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "manifest.json", "corrupt")


def test_corrupt_file_detected_by_checksum(model: Path, tmp_path: Path) -> None:
    data = bytearray((model / "document_encoder.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model / "document_encoder.pt").write_bytes(bytes(data))
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "document_encoder.pt", "sha256")


def test_truncated_file_detected_by_size(model: Path, tmp_path: Path) -> None:
    path = model / "tokenizer" / "vocab.txt"
    path.write_bytes(path.read_bytes()[:1000])
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "vocab.txt", "size")


def test_other_format_version(model: Path, tmp_path: Path) -> None:
    write_manifest(model, format_version=3)
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "format version 3", "export_model.py")


def test_hidden_states_module_gives_the_vectors_of_whole_logits(tmp_path: Path) -> None:
    """The decoder applied by limit-eval on valid positions (bias after the maximum) gives the
    vectors of the same model returning whole logits."""
    whole = make_model(tmp_path / "whole", module=StandInMlmWithBias())
    split = make_model(tmp_path / "split", module=StandInHidden())
    write_manifest(split, format_version=2, **{"document_encoder.output": "hidden_states"})
    vectors = {}
    for name, folder in (("whole", whole), ("split", split)):
        completed = run(folder, tmp_path / f"out-{name}", "--device", "cpu", "--batch-size", "7")
        assert completed.returncode == 0, completed.stderr
        rows = (tmp_path / f"out-{name}" / "vectors" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
        vectors[name] = {row["_id"]: row["vector"] for row in map(json.loads, rows)}
    assert vectors["split"].keys() == vectors["whole"].keys()
    for doc_id, whole_vector in vectors["whole"].items():
        split_vector = vectors["split"][doc_id]
        assert split_vector.keys() == whole_vector.keys(), doc_id
        scale = max(whole_vector.values())
        assert all(abs(split_vector[t] - w) <= 1e-5 * scale for t, w in whole_vector.items()), doc_id
    assert sum(len(v) for v in vectors["whole"].values()) > 0


def test_version_2_needs_the_output_kind(model: Path, tmp_path: Path) -> None:
    write_manifest(model, format_version=2)
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "document_encoder", "output")


def test_unsupported_output_kind(model: Path, tmp_path: Path) -> None:
    write_manifest(model, format_version=2, **{"document_encoder.output": "embeddings"})
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "output", "embeddings")


def test_hidden_states_module_without_decoder(model: Path, tmp_path: Path) -> None:
    write_manifest(model, format_version=2, **{"document_encoder.output": "hidden_states"})
    assert_failed(run(model, tmp_path / "out", "--device", "cpu"), tmp_path / "out", EXIT_MODEL,
                  "document_encoder.pt", "decoder_weight")


def test_hidden_states_decoder_of_wrong_shape(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model", module=StandInHidden(decoder_shape=(VOCAB_SIZE - 1, 8)))
    write_manifest(model, format_version=2, **{"document_encoder.output": "hidden_states"})
    assert_failed(run(model, tmp_path / "out", "--device", "cpu"), tmp_path / "out", EXIT_MODEL,
                  "decoder_weight", "30521x8", "30522")


def test_unsupported_activation(model: Path, tmp_path: Path) -> None:
    write_manifest(model, **{"document_encoder.activation": "gelu"})
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "activation", "gelu")


def test_weight_vector_of_wrong_length(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model", weights=VOCAB_SIZE - 1)
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "query_weights.f32", "30521",
                  "30522")


def test_non_finite_weights_stop_the_run_before_anything_is_written(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model", NaNForWords())
    cache = tmp_path / "cache"
    completed = run(model, tmp_path / "out", "--cache-dir", str(cache))
    assert_failed(completed, tmp_path / "out", EXIT_MODEL, "document '", "NaN weight", "--dtype fp32")
    assert not list(cache.rglob("chunk-*")), "a chunk of NaN vectors was cached"


def test_module_of_wrong_signature(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model", module=OneArgument())
    assert_failed(run(model, tmp_path / "out", "--device", "cpu"), tmp_path / "out", EXIT_MODEL,
                  "document_encoder.pt", "(input_ids, attention_mask)")


def test_module_of_wrong_output_shape(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model", module=WrongShape())
    assert_failed(run(model, tmp_path / "out", "--device", "cpu"), tmp_path / "out", EXIT_MODEL,
                  "document_encoder.pt", "shape")


def test_not_torchscript(model: Path, tmp_path: Path) -> None:
    (model / "document_encoder.pt").write_bytes(b"not a zip archive")
    write_manifest(model)
    assert_failed(run(model, tmp_path / "out", "--device", "cpu"), tmp_path / "out", EXIT_MODEL,
                  "not a loadable TorchScript module")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_gpu(model: Path, tmp_path: Path, device: str) -> None:
    assert_failed(run(model, tmp_path / "out", "--device", device), tmp_path / "out", EXIT_USAGE,
                  f"--device {device}", "no usable CUDA GPU")


def test_fp16_on_cpu(model: Path, tmp_path: Path) -> None:
    assert_failed(run(model, tmp_path / "out", "--device", "cpu", "--dtype", "fp16"), tmp_path / "out",
                  EXIT_USAGE, "fp16")


def test_malformed_device_rejected_at_parse_time(model: Path, tmp_path: Path) -> None:
    assert_failed(run(model, tmp_path / "out", "--device", "gpu0"), tmp_path / "out", EXIT_USAGE, "--device")


def test_registered_model_not_exported_names_the_command(tmp_path: Path) -> None:
    models_root = tmp_path / "models"
    models_root.mkdir()
    shutil.copy(SOURCE / "models" / "registry.json", models_root / "registry.json")
    completed = run("v3-gte", tmp_path / "out", "--models-root", str(models_root))
    assert_failed(completed, tmp_path / "out", EXIT_USAGE, "not exported",
                  f"scripts/export_model.sh --all --only v3-gte --models-dir {models_root}")


def test_unknown_model_lists_the_known_ones(tmp_path: Path) -> None:
    assert_failed(run("v9", tmp_path / "out"), tmp_path / "out", EXIT_USAGE, "unknown model 'v9'", "bm25",
                  "v3-gte")


def test_tokenize_matches_hugging_face(model: Path) -> None:
    from transformers import BertTokenizerFast

    lines = ["Who likes Quokkas?", "Ångström café 東京", "", "  spaces  "]
    reference = BertTokenizerFast(vocab_file=str(VOCAB), do_lower_case=True)
    for side, special in (("query", False), ("document", True)):
        completed = subprocess.run([str(BIN), "tokenize", "--model", str(model), "--as", side],
                                   input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
        assert completed.returncode == 0, completed.stderr
        got = [[int(t) for t in line.split()] for line in completed.stdout.splitlines()]
        want = [reference(line, add_special_tokens=special)["input_ids"] for line in lines]
        assert got == want, side


# A siamese SPLADE folder (docs/model-format.md, query_encoder.kind "mlm"): the queries go through
# the document encoder's module.
MLM_QUERY = {"kind": "mlm", "file": "document_encoder.pt", "architecture": "StandInMlm", "max_seq_length": 512,
             "add_special_tokens": True, "strip": True, "pooling": "max", "activation": "relu"}


@pytest.mark.parametrize("activation", ["relu", "log1p_relu"])
def test_queries_encoded_by_the_mlm(tmp_path: Path, activation: str) -> None:
    """Each query is stripped, tokenized with [CLS] ... [SEP], run through the module and max-pooled,
    as sentence-transformers' encode_query runs MLMTransformer + SpladePooling. The document side's
    settings (relu) serve the queries with its own loaded module; other settings (log1p_relu) load
    the module again for the queries."""
    from transformers import BertTokenizerFast

    model = make_model(tmp_path / "model")
    write_manifest(model, query_encoder={**MLM_QUERY, "activation": activation})
    out = tmp_path / "out"
    completed = run(model, out, "--device", "cpu")
    assert completed.returncode == 0, completed.stderr
    shared = activation == "relu"
    assert ("queries: encoded by the MLM (the document encoder's" in completed.stderr) == shared, completed.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    described = results["model"]["description"]["query_encoder"]
    assert described["kind"] == "mlm" and described["shared_with_document_encoder"] is shared
    assert described["activation"] == activation and described["add_special_tokens"] is True
    assert results["model"]["description"]["kind"] == "sparse encoder, queries by the MLM"
    assert results["timings_s"]["query_encoding"] > 0

    tokenizer = BertTokenizerFast(vocab_file=str(VOCAB), do_lower_case=True)
    mlm = StandInMlm()
    ours = {row["_id"]: row["vector"] for row in map(json.loads, (out / "vectors" / "queries.jsonl").read_text(
        encoding="utf-8").splitlines())}
    queries = [json.loads(line) for line in (SOURCE / "data" / "limit-small" / "queries.jsonl").read_text(
        encoding="utf-8").splitlines()[:25]]
    for query in queries:
        ids = tokenizer(query["text"].strip(), truncation=True, max_length=512)["input_ids"]
        with torch.inference_mode():
            pooled = torch.log1p(torch.relu(mlm(torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.int64))[0]))
            if activation == "log1p_relu":
                pooled = torch.log1p(pooled)
            pooled = pooled.max(dim=0).values
        want = {tokenizer.convert_ids_to_tokens(i): float(pooled[i]) for i in torch.nonzero(pooled).flatten().tolist()}
        got = ours[query["_id"]]
        scale = max(want.values())
        assert got.keys() == want.keys(), query["_id"]
        assert all(abs(got[token] - value) <= 1e-5 * scale for token, value in want.items()), query["_id"]


def test_tokenize_as_query_follows_the_mlm_query_encoder(model: Path) -> None:
    write_manifest(model, query_encoder=MLM_QUERY)
    completed = subprocess.run([str(BIN), "tokenize", "--model", str(model), "--as", "query"],
                               input="Who likes Quokkas?\n", capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split()[0] == "101" and completed.stdout.split()[-1] == "102"


def test_query_encoder_kind(model: Path, tmp_path: Path) -> None:
    """kind defaults to static_weights (folders written before "mlm" existed); an unknown kind is refused."""
    write_manifest(model, query_encoder={"file": "query_weights.f32", "max_seq_length": 512})
    out = tmp_path / "out"
    completed = run(model, out, "--device", "cpu")
    assert completed.returncode == 0, completed.stderr
    assert "queries: static weights (inference-free)" in completed.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["model"]["description"]["query_encoder"]["kind"] == "static_weights"

    write_manifest(model, **{"query_encoder.kind": "sparse_autoencoder"})
    assert_failed(run(model, tmp_path / "out2"), tmp_path / "out2", EXIT_MODEL,
                  "query_encoder.kind 'sparse_autoencoder' is not supported", '"mlm"')


# ---- model folders from others: nothing they carry may steer a write, or size an allocation ----


def test_a_model_name_that_is_a_path_keeps_the_results_under_results(model: Path, tmp_path: Path) -> None:
    write_manifest(model, name="../../../escaped/name")
    work = tmp_path / "work"
    work.mkdir()
    completed = subprocess.run(
        [str(BIN), "--model", str(model), "--dataset", "limit-small", "--device", "cpu"], capture_output=True,
        text=True, timeout=600, cwd=work, env={**os.environ, "LIMIT_EVAL_CACHE_DIR": str(tmp_path / "cache")})
    assert completed.returncode == 0, completed.stderr
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file())
    assert written == ["results/limit-small/_.._.._.._escaped_name.json"], written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "model", "work"]
    assert all(p.resolve().is_relative_to((tmp_path / "cache").resolve()) for p in (tmp_path / "cache").rglob("*"))
    assert "'../../../escaped/name'" in completed.stderr  # the warning names both forms


@pytest.mark.parametrize("field, outside", [("document_encoder.file", "../document_encoder.pt"),
                                            ("query_encoder.file", "/etc/hostname"),
                                            ("tokenizer.vocab_file", "tokenizer/../../x")])
def test_a_manifest_naming_a_file_outside_its_folder_is_refused(model: Path, tmp_path: Path, field: str,
                                                                 outside: str) -> None:
    write_manifest(model, **{field: outside})
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, field, "inside the model folder")


def test_a_vocabulary_no_weights_file_could_hold_is_refused_before_it_is_allocated(model: Path,
                                                                                  tmp_path: Path) -> None:
    write_manifest(model, vocab_size=4_000_000_000)  # 16 GB of weights announced, 122 kB present
    assert_failed(run(model, tmp_path / "out"), tmp_path / "out", EXIT_MODEL, "query_weights.f32", "4000000000")
