"""scripts/export_model.py on tiny random-weight OpenSearch-style models built by
scripts/make_tiny_model.py: the folder matches docs/model-format.md, the traced document encoder
reproduces the eager MLM on shapes it was not traced with, and a failed check, an unsupported
model or an existing output folder leaves nothing behind."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SOURCE_DIR = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SCRIPTS = SOURCE_DIR / "scripts"
SHARED_IDF = SOURCE_DIR.parent / "shared" / "reference" / "opensearch-idf.json"
LIMIT_SMALL = SOURCE_DIR / "data" / "limit-small" / "corpus.jsonl"
VOCAB_SIZE = 30522

# (folder name, make_tiny_model arguments, expected manifest settings)
MODELS = {
    "bert-relu": (["--arch", "bert", "--activation", "relu", "--seed", "0"],
                  {"architecture": "BertForMaskedLM", "activation": "relu", "max_seq_length": 512,
                   "token_type_ids": "zeros", "class": "BertTokenizerFast", "output": "hidden_states"}),
    "distilbert-log1p": (["--arch", "distilbert", "--activation", "log1p_relu", "--seed", "1", "--max-seq-length", "256"],
                         {"architecture": "DistilBertForMaskedLM", "activation": "log1p_relu", "max_seq_length": 256,
                          "token_type_ids": "none", "class": "DistilBertTokenizerFast", "output": "logits"}),
}

EXIT_LAYOUT = 4
EXIT_CHECK = 5
EXIT_EXISTS = 6


def environment() -> dict[str, str]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.setdefault("OMP_NUM_THREADS", "1")  # the two builds/exports run side by side on 2 cores
    return env


def run_parallel(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=environment()) for command in commands]
    results = []
    for command, process in zip(commands, processes):
        stdout, stderr = process.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return results


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def sources(work: Path) -> dict[str, Path]:
    """The tiny SparseEncoder folders, built by the make_tiny_model.py command line."""
    idf = str(SHARED_IDF) if SHARED_IDF.is_file() else "random"
    commands, folders = [], {}
    for name, (arguments, _) in MODELS.items():
        folders[name] = work / "src" / name
        commands.append([sys.executable, str(SCRIPTS / "make_tiny_model.py"), *arguments, "--idf", idf,
                         "--output", str(folders[name])])
    for result in run_parallel(commands):
        assert result.returncode == 0, result.stderr
    return folders


# How each tiny model is exported: bert-relu as SOURCE --output DIR --name NAME (hidden states +
# decoder, the default), distilbert-log1p with --all from a registry whose hf_id is the local
# folder and --document-output logits (whole MLM logits).
EXPORT_NAMES = {"bert-relu": "tiny-bert-relu", "distilbert-log1p": "distilbert-log1p"}


@pytest.fixture(scope="module")
def models_dir(work: Path, sources: dict[str, Path]) -> Path:
    folder = work / "models"
    folder.mkdir()
    (folder / "registry.json").write_text(json.dumps({"models": {
        "distilbert-log1p": {"hf_id": str(sources["distilbert-log1p"]), "revision": None,
                             "architecture": "DistilBertForMaskedLM", "activation": "log1p_relu",
                             "trust_remote_code": False, "code_revision": None},
    }}))
    return folder


@pytest.fixture(scope="module")
def exports(models_dir: Path, sources: dict[str, Path]) -> dict[str, Path]:
    """The exported model folders, written by the export_model.py command line (both forms)."""
    script = str(SCRIPTS / "export_model.py")
    folders = {name: models_dir / name for name in sources}
    commands = [[sys.executable, script, str(sources["bert-relu"]), "--output", str(folders["bert-relu"]),
                 "--name", EXPORT_NAMES["bert-relu"]],
                [sys.executable, script, "--all", "--models-dir", str(models_dir), "--registry",
                 str(models_dir / "registry.json"), "--document-output", "logits"]]
    for result in run_parallel(commands):
        assert result.returncode == 0, result.stderr
        assert "largest abs difference" in result.stderr
    return folders


@pytest.fixture(scope="module")
def export_model():
    return load_script("export_model")


@pytest.fixture(scope="module")
def encoders(sources: dict[str, Path]):
    from sentence_transformers import SparseEncoder

    return {name: SparseEncoder(str(path), device="cpu") for name, path in sources.items()}


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.") or p.name == name)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_manifest_fields(exports: dict[str, Path], sources: dict[str, Path], name: str) -> None:
    expected = MODELS[name][1]
    manifest = manifest_of(exports[name])
    assert manifest["format"] == "limit-eval-model"
    assert manifest["format_version"] == 2
    assert manifest["name"] == EXPORT_NAMES[name]
    assert manifest["source"]["id"] == str(sources[name])
    assert manifest["source"]["revision"] is None
    assert manifest["vocab_size"] == VOCAB_SIZE
    assert manifest["similarity"] == "dot"

    doc = manifest["document_encoder"]
    assert doc["file"] == "document_encoder.pt"
    assert doc["architecture"] == expected["architecture"]
    assert doc["max_seq_length"] == expected["max_seq_length"]
    assert doc["activation"] == expected["activation"]
    assert doc["pooling"] == "max"
    assert doc["add_special_tokens"] is True
    assert doc["text"] == "title_space_text_stripped"
    assert doc["token_type_ids"] == expected["token_type_ids"]
    assert doc["dtype"] == "float32"
    assert doc["output"] == expected["output"]

    query = manifest["query_encoder"]
    assert query == {**query, "kind": "static_weights", "file": "query_weights.f32", "dtype": "float32",
                     "max_seq_length": 512, "add_special_tokens": False}

    tok = manifest["tokenizer"]
    # transformers 5 names its (always fast) tokenizers without the "Fast" suffix.
    assert tok["kind"] == "wordpiece" and tok["class"].removesuffix("Fast") == expected["class"].removesuffix("Fast")
    assert tok["vocab_file"] == "tokenizer/vocab.txt"
    assert (tok["lowercase"], tok["strip_accents"], tok["tokenize_chinese_chars"], tok["clean_text"]) == \
        (True, None, True, True)
    assert (tok["unk_token"], tok["cls_token"], tok["sep_token"], tok["pad_token"]) == \
        ("[UNK]", "[CLS]", "[SEP]", "[PAD]")
    assert tok["special_token_ids"] == {"unk": 100, "cls": 101, "sep": 102, "pad": 0, "mask": 103}
    assert tok["continuing_subword_prefix"] == "##" and tok["max_input_chars_per_word"] == 100
    assert {t["content"] for t in tok["added_tokens"]} == {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

    import sentence_transformers
    import transformers

    assert manifest["versions"]["torch"] == torch.__version__
    assert manifest["versions"]["transformers"] == transformers.__version__
    assert manifest["versions"]["sentence_transformers"] == sentence_transformers.__version__

    check = manifest["export_check"]
    assert check["tolerance"] == 1e-4 and 0.0 <= check["max_abs_diff"] <= 1e-4
    shapes = {(c["batch_size"], c["max_length"]) for c in check["cases"] if c["kind"] == "traced_vs_eager"}
    longest = min(300, expected["max_seq_length"])  # check lengths are capped at max_seq_length
    assert {(1, 2), (3, 7), (8, 64), (8, longest)} <= shapes
    assert any("padded_vs_alone_max_abs_diff" in c for c in check["cases"])
    assert check["pipeline"]["document_max_abs_diff"] <= 1e-4
    assert check["pipeline"]["query_max_abs_diff"] == 0.0
    assert manifest["exported_at"].endswith("Z")


@pytest.mark.parametrize("name", list(MODELS))
def test_files_and_checksums(exports: dict[str, Path], name: str) -> None:
    folder = exports[name]
    manifest = manifest_of(folder)
    on_disk = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted([*manifest["files"], "manifest.json"]) == on_disk
    for relative, entry in manifest["files"].items():
        data = (folder / relative).read_bytes()
        assert entry["bytes"] == len(data), relative
        assert entry["sha256"] == hashlib.sha256(data).hexdigest(), relative
    for required in ("document_encoder.pt", "query_weights.f32", "tokenizer/vocab.txt", "tokenizer/tokenizer.json"):
        assert required in manifest["files"]
    shared_vocab = SOURCE_DIR / "tests" / "fixtures" / "bert-base-uncased-vocab.txt"
    assert (folder / "tokenizer" / "vocab.txt").read_bytes() == shared_vocab.read_bytes()


@pytest.mark.parametrize("name", list(MODELS))
def test_query_weights_are_the_static_embedding(exports: dict[str, Path], encoders, name: str) -> None:
    weights = np.fromfile(exports[name] / "query_weights.f32", dtype="<f4")
    static = encoders[name][0].sub_modules["query"][0]
    assert weights.shape == (VOCAB_SIZE,)
    np.testing.assert_array_equal(weights, static.weight.detach().numpy().astype("<f4"))
    if SHARED_IDF.is_file():
        idf = json.loads(SHARED_IDF.read_text())
        vocab = (exports[name] / "tokenizer" / "vocab.txt").read_text().splitlines()
        for token_id in (0, 101, 1996, 2066, 29900):
            assert weights[token_id] == np.float32(idf[vocab[token_id]])


@pytest.mark.parametrize("name", list(MODELS))
def test_traced_module_matches_eager_on_fresh_shapes(exports: dict[str, Path], encoders, export_model,
                                                     name: str) -> None:
    traced = torch.jit.load(str(exports[name] / "document_encoder.pt"), map_location="cpu")
    output = manifest_of(exports[name])["document_encoder"]["output"]
    mlm = encoders[name][0].sub_modules["document"][0]
    uses_token_types = "token_type_ids" in mlm.tokenizer.model_input_names
    generator = torch.Generator().manual_seed(7)
    for batch, lengths in ((5, [37, 3, 20, 37, 11]), (2, [129, 2]), (1, [5])):
        width = max(lengths)
        input_ids = torch.zeros((batch, width), dtype=torch.int64)
        mask = torch.zeros_like(input_ids)
        for row, length in enumerate(lengths):
            input_ids[row, :length] = torch.randint(1000, VOCAB_SIZE, (length,), generator=generator)
            input_ids[row, 0], input_ids[row, length - 1] = 101, 102
            mask[row, :length] = 1
        features = {"input_ids": input_ids, "attention_mask": mask}
        if uses_token_types:
            features["token_type_ids"] = torch.zeros_like(input_ids)
        with torch.inference_mode():
            want = mlm(dict(features))["token_embeddings"]
            got = export_model.module_logits(traced, input_ids, mask, output)
        assert got.shape == (batch, width, VOCAB_SIZE)
        valid = mask.bool()
        assert float((got - want).abs()[valid].max()) <= 1e-5
        # Padding is honoured: the shortest row gives what it gives alone.
        row = lengths.index(min(lengths))
        with torch.inference_mode():
            alone = export_model.module_logits(traced, input_ids[row:row + 1, :lengths[row]],
                                               mask[row:row + 1, :lengths[row]], output)
        assert float((alone[0] - got[row, :lengths[row]]).abs().max()) <= 1e-5


def test_hidden_states_module_carries_the_tied_decoder(exports: dict[str, Path], encoders) -> None:
    """The hidden_states export returns [B, L, H] and carries the decoder, stored once with the
    word embeddings it is tied to; the logits export returns [B, L, V] and carries none."""
    traced = torch.jit.load(str(exports["bert-relu"] / "document_encoder.pt"), map_location="cpu")
    auto_model = encoders["bert-relu"][0].sub_modules["document"][0].auto_model
    decoder = auto_model.get_output_embeddings()
    ids = torch.tensor([[101, 2000, 102]])
    with torch.inference_mode():
        hidden = traced(ids, torch.ones_like(ids))
    assert hidden.shape == (1, 3, decoder.in_features)
    assert torch.equal(traced.decoder_weight, decoder.weight.detach())
    assert torch.equal(traced.decoder_bias, decoder.bias.detach())
    parameter_bytes = sum(p.numel() * p.element_size() for p in auto_model.parameters())
    assert (exports["bert-relu"] / "document_encoder.pt").stat().st_size < parameter_bytes * 1.1

    logits_module = torch.jit.load(str(exports["distilbert-log1p"] / "document_encoder.pt"), map_location="cpu")
    with torch.inference_mode():
        assert logits_module(ids, torch.ones_like(ids)).shape == (1, 3, VOCAB_SIZE)
    assert not hasattr(logits_module, "decoder_weight")


@pytest.mark.parametrize("name", list(MODELS))
def test_manifest_pipeline_reproduces_encode_document_on_limit_small(exports, encoders, export_model,
                                                                     name: str) -> None:
    """The folder alone (tokenizer + TorchScript + manifest settings) gives the SparseEncoder's
    document vectors; and the tiny models are sparse, but not empty, on LIMIT-small."""
    from transformers import AutoTokenizer

    folder = exports[name]
    manifest = manifest_of(folder)
    records = [json.loads(line) for line in LIMIT_SMALL.read_text().splitlines()[:12]]
    texts = [(r.get("title", "") + " " + r["text"]).strip() for r in records]
    tokenizer = AutoTokenizer.from_pretrained(folder / "tokenizer")
    traced = torch.jit.load(str(folder / "document_encoder.pt"), map_location="cpu")
    got = export_model.contract_document_vectors(traced, tokenizer, texts, manifest["document_encoder"])
    want = encoders[name].encode_document(texts, batch_size=4, convert_to_tensor=True, convert_to_sparse_tensor=False)
    assert float((got - want).abs().max()) <= 1e-4
    nonzero = (want > 0).sum(dim=1).float() / VOCAB_SIZE
    assert 0.005 < float(nonzero.mean()) < 0.10, f"document vectors {float(nonzero.mean()):.2%} non-zero"


def test_failed_check_writes_nothing(work: Path, sources: dict[str, Path], export_model, monkeypatch) -> None:
    real_trace = export_model.trace_document_encoder

    class Perturbed(torch.nn.Module):
        """Logits off by 1e-3: through the decoder bias of a hidden_states module, else directly.
        (A failed hidden_states export is retried as logits, which must fail too.)"""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.split = hasattr(inner, "decoder_weight")
            if self.split:
                self.decoder_weight = inner.decoder_weight
                self.decoder_bias = inner.decoder_bias + 1e-3

        def forward(self, input_ids, attention_mask):
            output = self.inner(input_ids, attention_mask)
            return output if self.split else output + 1e-3

    def perturbed_trace(wrapper, found_decoder, ids, vocab_size):
        traced, warnings = real_trace(wrapper, found_decoder, ids, vocab_size)
        return Perturbed(traced), warnings

    monkeypatch.setattr(export_model, "trace_document_encoder", perturbed_trace)
    target = work / "failed"
    code = export_model.main([str(sources["bert-relu"]), "--output", str(target), "--check-tolerance", "0"])
    assert code == EXIT_CHECK
    assert leftovers(work, "failed") == []

    # The default tolerance (1e-4) also rejects a 1e-3 error, and an existing folder survives untouched.
    target.mkdir()
    (target / "keep").write_text("x")
    code = export_model.main([str(sources["bert-relu"]), "--output", str(target), "--force"])
    assert code == EXIT_CHECK
    assert leftovers(work, "failed") == ["failed"] and [p.name for p in target.iterdir()] == ["keep"]


def test_existing_output_is_refused_unless_forced(work: Path, sources: dict[str, Path], models_dir: Path,
                                                  exports, export_model) -> None:
    before = {name: (folder / "manifest.json").read_bytes() for name, folder in exports.items()}
    script = str(SCRIPTS / "export_model.py")
    for command in ([sys.executable, script, str(sources["bert-relu"]), "--output", str(exports["bert-relu"])],
                    [sys.executable, script, "--all", "--models-dir", str(models_dir), "--registry",
                     str(models_dir / "registry.json")]):
        result = subprocess.run(command, capture_output=True, text=True, env=environment())
        assert result.returncode == EXIT_EXISTS, result.stderr
        assert "already exists" in result.stderr and "--force" in result.stderr
    assert before == {name: (folder / "manifest.json").read_bytes() for name, folder in exports.items()}

    # --force: the finished folder replaces the old one by renames, and nothing else is left.
    target, staging = work / "replaced", work / ".replaced.tmp-test"
    target.mkdir()
    (target / "stale").write_text("old")
    staging.mkdir()
    (staging / "manifest.json").write_text("{}")
    with pytest.raises(export_model.OutputExistsError):
        export_model.publish(staging, target, force=False)
    export_model.publish(staging, target, force=True)
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json"]
    assert leftovers(work, "replaced") == ["replaced"]


def test_unsupported_layouts_are_rejected(work: Path, sources: dict[str, Path], export_model, capsys) -> None:
    import copy

    from sentence_transformers import SentenceTransformer, SparseEncoder
    from sentence_transformers.models import Pooling, Router, Transformer
    from sentence_transformers.sparse_encoder.models import MLMTransformer, SparseAutoEncoder, SpladePooling

    mlm_folder = sources["bert-relu"] / "document_0_MLMTransformer"
    # A plain SPLADE model is supported: its queries go through the MLM (tests/oracle/test_neural_parity.py
    # exports and evaluates it).
    plain = work / "plain-splade"
    SparseEncoder(modules=[MLMTransformer(str(mlm_folder)), SpladePooling("max", "relu")], device="cpu").save(str(plain))
    parts = export_model.find_routes(SparseEncoder(str(plain), device="cpu"))
    assert parts["static"] is None and parts["pooling"].activation_function == "relu"

    supported = "supported: an inference-free model"
    # A dense SentenceTransformer: SparseEncoder loads it with an untrained SparseAutoEncoder on top.
    dense = work / "dense"
    SentenceTransformer(modules=[Transformer(str(mlm_folder)), Pooling(64, "mean")], device="cpu").save(str(dense))
    assert export_model.main([str(dense), "--output", str(work / "dense-out")]) == EXIT_LAYOUT
    err = capsys.readouterr().err
    assert "a dense SentenceTransformer model" in err and supported in err and "[MLMTransformer, SpladePooling]" in err

    # A CSR model (SparseAutoEncoder over a dense embedding).
    csr = work / "csr"
    SparseEncoder(modules=[Transformer(str(mlm_folder)), Pooling(64, "mean"),
                           SparseAutoEncoder(input_dim=64, hidden_dim=256, k=16, k_aux=32)], device="cpu").save(str(csr))
    assert export_model.main([str(csr), "--output", str(work / "csr-out")]) == EXIT_LAYOUT
    err = capsys.readouterr().err
    assert "a CSR model" in err and supported in err

    # Two different MLMs on the two routes (an asymmetric two-tower model).
    model = SparseEncoder(str(sources["bert-relu"]), device="cpu")
    document_mlm = model[0].sub_modules["document"][0]
    query_mlm = copy.deepcopy(document_mlm)
    with torch.no_grad():
        next(query_mlm.auto_model.parameters()).add_(0.5)
    asymmetric = work / "asymmetric"
    SparseEncoder(modules=[Router.for_query_document(query_modules=[query_mlm, SpladePooling("max", "relu")],
                                                     document_modules=[document_mlm, SpladePooling("max", "relu")])],
                  similarity_fn_name="dot", device="cpu").save(str(asymmetric))
    assert export_model.main([str(asymmetric), "--output", str(work / "asymmetric-out")]) == EXIT_LAYOUT
    assert "different MLMTransformer or SpladePooling" in capsys.readouterr().err

    router = model[0]
    summed = work / "sum-pooling"
    SparseEncoder(modules=[Router.for_query_document(
        query_modules=list(router.sub_modules["query"]),
        document_modules=[router.sub_modules["document"][0], SpladePooling("sum", "relu")])],
        similarity_fn_name="dot", device="cpu").save(str(summed))
    assert export_model.main([str(summed), "--output", str(work / "sum-out")]) == EXIT_LAYOUT
    assert "pooling_strategy 'sum'" in capsys.readouterr().err
    for name in ("dense-out", "csr-out", "asymmetric-out", "sum-out"):
        assert leftovers(work, name) == []

    assert export_model.main([str(work / "no-such-model"), "--output", str(work / "x-out")]) == 3
    assert "no such model folder" in capsys.readouterr().err


def test_tiny_model_weights_are_seeded(sources: dict[str, Path]) -> None:
    make_tiny_model = load_script("make_tiny_model")
    args = make_tiny_model.parse_args(["--arch", "distilbert", "--activation", "relu", "--output", "unused",
                                       "--seed", "1", "--max-seq-length", "256"])
    first, second = make_tiny_model.build_mlm(args), make_tiny_model.build_mlm(args)
    for (key, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), key
    # ... and they are the weights the command line saved.
    from safetensors.torch import load_file

    saved = load_file(str(sources["distilbert-log1p"] / "document_0_MLMTransformer" / "model.safetensors"))
    args.seed = 1
    args.activation = "log1p_relu"
    built = make_tiny_model.build_mlm(args).state_dict()
    for key, value in saved.items():
        assert torch.equal(built[key], value), key
