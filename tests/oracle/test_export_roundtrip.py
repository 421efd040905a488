"""The exporter/loader round trip: every manifest variant export_model.py can write loads in
limit-eval and gives sentence-transformers' vectors, and every check the exporter makes before
writing is made by limit-eval when loading (and the other way round).

VARIANTS is the table of what the exporter can write, one row per exported folder: the tiny source
model (make_tiny_model.py arguments, and an edit of the saved sentence-transformers folder), the
export options, and the manifest fields the export must write. DOMAINS lists, for each field that
varies, every value the exporter can write (read from export_model.py's own vocabularies where it has
one); test_every_manifest_variant_is_enumerated fails when a value has no row, so a new kind (a new
query encoder, a new document output) is one more row. Each row is exported, checked field by field,
evaluated by limit-eval on a small dataset (with a query longer than 512 tokens), and its document
and query vectors compared with sentence-transformers' encode_document / encode_query.

CORRUPTIONS is the table of checks: each row breaks one thing in an exported folder; limit-eval
must refuse the folder (exit status 5, the message given) and export_model.validate_folder (what
the exporter runs on every folder before publishing it) must refuse it too. ACCEPTED lists
manifest forms the exporter can write that both must accept.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_models import registry_loading, registry_loading_options, skip_reason  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:`torch.jit.save` is deprecated:DeprecationWarning")]

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ["LIMIT_EVAL_BIN"])
SCRIPTS = SOURCE / "scripts"
LIMIT_SMALL = SOURCE / "data" / "limit-small"
EXIT_MODEL = 5


def load_export_model():
    spec = importlib.util.spec_from_file_location("export_model", SCRIPTS / "export_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_model = load_export_model()


# --------------------------------------------------------------------------------------------
# What the exporter can write


def query_tokenizer_without_max_length(folder: Path) -> None:
    """The query tokenizer as a BertTokenizerFast built from a vocab file saves it: no model_max_length
    (transformers then reads int(1e30), 'no limit'; sentence-transformers does not truncate queries)."""
    path = folder / "query_0_SparseStaticEmbedding" / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.pop("model_max_length", None)
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def lowercase_in_sentence_transformers(folder: Path) -> None:
    """MLMTransformer's do_lower_case (sentence-transformers lower-cases documents itself; refused)."""
    path = folder / "document_0_MLMTransformer" / "sentence_bert_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["do_lower_case"] = True
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")


@dataclass(frozen=True)
class Variant:
    make: tuple[str, ...]                        # make_tiny_model.py arguments
    expect: dict[str, Any]                       # manifest fields (see manifest_field) the export must write
    export: tuple[str, ...] = ()                 # extra export_model.py arguments
    edit: Callable[[Path], None] | None = None   # change to the saved sentence-transformers folder
    load: dict = field(default_factory=dict)     # SparseEncoder loading options (the reference's)
    skip: str | None = None                      # why this row cannot run in this environment


VARIANTS: dict[str, Variant] = {
    "bert-relu": Variant(
        ("--arch", "bert", "--activation", "relu", "--seed", "5"),
        {"document_encoder.output": "hidden_states", "document_encoder.activation": "relu",
         "document_encoder.token_type_ids": "zeros", "document_encoder.do_lower_case": False,
         "query_encoder.kind": "static_weights", "query_encoder.max_seq_length": 512,
         "vocab larger than tokenizer": False, "source.trust_remote_code": False}),
    "distilbert-log1p_relu-logits-128": Variant(
        ("--arch", "distilbert", "--activation", "log1p_relu", "--seed", "6", "--max-seq-length", "128"),
        {"document_encoder.output": "logits", "document_encoder.activation": "log1p_relu",
         "document_encoder.token_type_ids": "none", "document_encoder.max_seq_length": 128},
        export=("--document-output", "logits")),
    "bert-query-without-max-length": Variant(
        ("--arch", "bert", "--activation", "log1p_relu", "--seed", "7"),
        {"query_encoder.kind": "static_weights", "query_encoder.max_seq_length": None,
         "document_encoder.max_seq_length": 512},
        edit=query_tokenizer_without_max_length),
    "distilbert-mlm-larger-than-tokenizer": Variant(
        ("--arch", "distilbert", "--activation", "relu", "--seed", "8", "--mlm-vocab-size", "30528"),
        {"vocab_size": 30528, "query_encoder.static_weight_size": 30522, "vocab larger than tokenizer": True,
         "document_encoder.output": "hidden_states"}),
    "bert-relu-siamese": Variant(
        ("--arch", "bert", "--activation", "relu", "--seed", "10", "--layout", "siamese"),
        {"query_encoder.kind": "mlm", "query_encoder.max_seq_length": 512, "query_encoder.add_special_tokens": True,
         "document_encoder.output": "hidden_states"}),
    "gte-custom-code": Variant(
        ("--arch", "gte", "--activation", "log1p_relu", "--seed", "9"),
        {"document_encoder.architecture": "NewForMaskedLM", "source.trust_remote_code": True,
         "vocab larger than tokenizer": True, "document_encoder.max_position_embeddings": 8192},
        export=tuple(registry_loading_options("gte")), load=registry_loading("gte"),
        skip=skip_reason("gte")),
}

# Every value the exporter can write, per varying field.
DOMAINS: dict[str, set] = {
    "document_encoder.output": set(export_model.DOCUMENT_OUTPUTS),
    "document_encoder.activation": set(export_model.ACTIVATIONS),
    "query_encoder.kind": set(export_model.QUERY_ENCODER_KINDS),
    "document_encoder.token_type_ids": {"zeros", "none"},
    "document_encoder.do_lower_case": {False},  # True is refused (test_exporter_refuses_unsupported_sources)
    "query_encoder.max_seq_length is null": {True, False},
    "vocab larger than tokenizer": {True, False},
    "source.trust_remote_code": {True, False},
}


def manifest_field(manifest: dict, key: str) -> Any:
    if key == "vocab larger than tokenizer":
        return manifest["vocab_size"] > manifest["tokenizer"]["vocab_size"]
    if key.endswith(" is null"):
        return manifest_field(manifest, key.removesuffix(" is null")) is None
    value = manifest
    for part in key.split("."):
        value = value[part]
    return value


def declared(variant: Variant, key: str) -> Any:
    if key.endswith(" is null") and key.removesuffix(" is null") in variant.expect:
        return variant.expect[key.removesuffix(" is null")] is None
    return variant.expect.get(key, KeyError)


def test_every_manifest_variant_is_enumerated() -> None:
    missing = {key: sorted(map(str, values - {declared(v, key) for v in VARIANTS.values()}))
               for key, values in DOMAINS.items()}
    missing = {key: values for key, values in missing.items() if values}
    assert not missing, f"manifest values the exporter can write but no VARIANTS row exports: {missing}"


# --------------------------------------------------------------------------------------------
# Building, exporting, evaluating


def run_script(*args: str) -> None:
    completed = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=1200,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert completed.returncode == 0, f"{Path(args[0]).name} failed:\n{completed.stdout}\n{completed.stderr}"


_EXPORTS: dict[str, tuple[Path, Path]] = {}


def exported(name: str, root: Path) -> tuple[Path, Path]:
    """(sentence-transformers folder, exported folder) of a VARIANTS row, built once per session."""
    if name not in _EXPORTS:
        variant = VARIANTS[name]
        source, folder = root / name / "source", root / name / "exported"
        run_script(str(SCRIPTS / "make_tiny_model.py"), *variant.make, "--output", str(source))
        if variant.edit:
            variant.edit(source)
        run_script(str(SCRIPTS / "export_model.py"), str(source), "--output", str(folder), "--name", name,
                   *variant.export)
        _EXPORTS[name] = source, folder
    return _EXPORTS[name]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("roundtrip")


@pytest.fixture(scope="module")
def dataset(root: Path) -> Path:
    """20 LIMIT-small documents and 4 queries, one of them longer than 512 tokens with a word that
    only a query encoder without truncation sees."""
    folder = root / "dataset"
    folder.mkdir()
    corpus = [json.loads(line) for line in (LIMIT_SMALL / "corpus.jsonl").read_text(encoding="utf-8").splitlines()][:20]
    queries = [{"_id": "q1", "text": "Who likes Quokkas?"}, {"_id": "q2", "text": "who likes apples and rivers"},
               {"_id": "q3", "text": "  Café Ångström  "},
               {"_id": "long", "text": "apples " * 600 + "zebra quokkas"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (folder / "qrels.jsonl").write_text("".join(json.dumps({"query-id": q["_id"], "corpus-id": corpus[i]["_id"],
                                                            "score": 1}) + "\n" for i, q in enumerate(queries)),
                                        encoding="utf-8")
    return folder


def limit_eval(model: Path, dataset: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(BIN), "--model", str(model), "--dataset", str(dataset), "--device", "cpu", "--no-cache",
                           "--output", str(work / "results.json"), "--log-level", "warn", *extra],
                          capture_output=True, text=True, timeout=600)


def read_vectors(path: Path) -> dict[str, dict[str, float]]:
    return {row["_id"]: row["vector"] for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


VARIANT_PARAMS = [pytest.param(name, marks=pytest.mark.skip(reason=v.skip) if v.skip else ())
                  for name, v in VARIANTS.items()]


@pytest.mark.parametrize("name", VARIANT_PARAMS)
def test_variant_exports_loads_and_matches_sentence_transformers(name: str, root: Path, dataset: Path,
                                                                 tmp_path: Path) -> None:
    import test_neural_parity as parity
    from sentence_transformers import SparseEncoder

    variant = VARIANTS[name]
    source, folder = exported(name, root)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    wrong = {key: (manifest_field(manifest, key), want) for key, want in variant.expect.items()
             if manifest_field(manifest, key) != want}
    assert not wrong, f"manifest fields (written, expected): {wrong}"
    export_model.validate_folder(folder)

    completed = limit_eval(folder, dataset, tmp_path, "--save-vectors", str(tmp_path / "vectors"))
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert (results["model"]["description"]["query_encoder"]["max_seq_length"]
            == manifest["query_encoder"]["max_seq_length"])

    model = SparseEncoder(str(source), device="cpu", **variant.load)
    corpus = [json.loads(line) for line in (dataset / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line) for line in (dataset / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    with torch.inference_mode():
        docs = model.encode_document([(d.get("title", "") + " " + d["text"]).strip() for d in corpus],
                                     convert_to_tensor=True).to_dense()
        qs = model.encode_query([q["text"] for q in queries], convert_to_tensor=True).to_dense()
    ours_docs = read_vectors(tmp_path / "vectors" / "corpus.jsonl")
    ours_queries = read_vectors(tmp_path / "vectors" / "queries.jsonl")
    problems = parity.vector_mismatches(ours_docs, {d["_id"]: docs[i] for i, d in enumerate(corpus)}, model.tokenizer)
    problems += parity.vector_mismatches(ours_queries, {q["_id"]: qs[i] for i, q in enumerate(queries)},
                                         model.tokenizer)
    assert not problems, "\n".join(problems[:20])
    # The long query's last words count exactly when queries are not truncated (max_seq_length null).
    truncated = manifest["query_encoder"]["max_seq_length"] is not None
    assert ("zebra" in ours_queries["long"]) != truncated, ours_queries["long"]


# --------------------------------------------------------------------------------------------
# One corrupted folder per check: limit-eval and the exporter's own check both refuse it


BASE = "bert-relu"  # the folder the corruptions start from: output hidden_states


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        change(manifest)
        write_manifest(folder, manifest)
    return apply


def set_field(key: str, value: Any) -> Callable[[Path], None]:
    *parents, last = key.split(".")

    def change(manifest: dict) -> None:
        target = manifest
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return edit_manifest(change)


DELETE = object()


def replace_file(relative: str, content: Callable[[bytes], bytes], relist: bool = True) -> Callable[[Path], None]:
    """Changes a file of the folder; relist: the manifest's sha256 and size follow (a consistent but
    wrong folder), else they do not (a corrupt file)."""
    def apply(folder: Path) -> None:
        path = folder / relative
        path.write_bytes(content(path.read_bytes()))
        if relist:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            manifest["files"][relative] = {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                           "bytes": path.stat().st_size}
            write_manifest(folder, manifest)
    return apply


def nan_at(index: int) -> Callable[[bytes], bytes]:
    def content(data: bytes) -> bytes:
        weights = np.frombuffer(data, dtype="<f4").copy()
        weights[index] = np.nan
        return weights.tobytes()
    return content


class NoDecoder(torch.nn.Module):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return torch.zeros(input_ids.shape[0], input_ids.shape[1], 8) * attention_mask.unsqueeze(-1)


class WrongDecoder(NoDecoder):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("decoder_weight", torch.zeros(100, 8))
        self.register_buffer("decoder_bias", torch.zeros(100))


class OneInput(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("decoder_weight", torch.zeros(30522, 8))
        self.register_buffer("decoder_bias", torch.zeros(30522))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(input_ids.shape[0], input_ids.shape[1], 8)


def scripted(module_class: type) -> Callable[[bytes], bytes]:
    def content(_: bytes) -> bytes:
        import io
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(module_class()), buffer)
        return buffer.getvalue()
    return content


@dataclass(frozen=True)
class Corruption:
    change: Callable[[Path], None]
    message: str  # what limit-eval's message must contain (a regular expression)


CORRUPTIONS: dict[str, Corruption] = {
    # manifest.json
    "format": Corruption(set_field("format", "other-format"), r"'format' is not \"limit-eval-model\""),
    "format version": Corruption(set_field("format_version", 99), r"format version 99 is not supported"),
    "vocab_size": Corruption(set_field("vocab_size", 0), r"'vocab_size' must be a positive integer"),
    "name": Corruption(set_field("name", DELETE), r"'name' must be a string"),
    "document max_seq_length": Corruption(set_field("document_encoder.max_seq_length", None),
                                          r"'document_encoder.max_seq_length' must be a positive integer"),
    "document max_seq_length past the position embeddings": Corruption(
        set_field("document_encoder.max_seq_length", 1024),
        r"document_encoder.max_seq_length 1024 exceeds max_position_embeddings 512"),
    "pooling": Corruption(set_field("document_encoder.pooling", "sum"), r"pooling 'sum' is not supported"),
    "activation": Corruption(set_field("document_encoder.activation", "gelu"), r"activation 'gelu' is not supported"),
    "document output kind": Corruption(set_field("document_encoder.output", "pooled"),
                                       r"output 'pooled' is not supported"),
    "document output missing": Corruption(set_field("document_encoder.output", DELETE),
                                          r"'document_encoder.output' must be a string"),
    "document text": Corruption(set_field("document_encoder.text", "title"), r"text 'title' is not supported"),
    "query encoder kind": Corruption(set_field("query_encoder.kind", "dense"),
                                     r"query_encoder.kind 'dense' is not supported"),
    "query max_seq_length": Corruption(set_field("query_encoder.max_seq_length", 0),
                                       r"'query_encoder.max_seq_length' must be a positive integer or null"),
    "query dtype": Corruption(set_field("query_encoder.dtype", "float16"), r"query_encoder.dtype must be"),
    "query presence": Corruption(set_field("query_encoder.presence", "count"), r"presence 'count' is not supported"),
    "static weights longer than the vocabulary": Corruption(
        set_field("query_encoder.static_weight_size", 40000), r"static_weight_size 40000 exceeds vocab_size 30522"),
    "tokenizer kind": Corruption(set_field("tokenizer.kind", "bpe"), r"tokenizer.kind 'bpe' is not supported"),
    "sentence-transformers' own lower-casing": Corruption(set_field("document_encoder.do_lower_case", True),
                                                         r"document_encoder.do_lower_case true is not supported"),
    "strip_accents": Corruption(set_field("tokenizer.strip_accents", "yes"),
                                r"'tokenizer.strip_accents' must be true, false or null"),
    "max_input_chars_per_word": Corruption(set_field("tokenizer.max_input_chars_per_word", 0),
                                           r"'tokenizer.max_input_chars_per_word' must be a positive integer"),
    "special token not in the vocabulary": Corruption(set_field("tokenizer.cls_token", "[NOPE]"),
                                                      r"classifier token '\[NOPE\]' is not in the vocabulary"),
    # files
    "tokenizer past the vocabulary": Corruption(
        replace_file("tokenizer/vocab.txt", lambda data: data + b"".join(b"[extra%d]\n" % i for i in range(10))),
        r"the tokenizer has 30532 ids but the manifest's vocab_size is 30522"),
    "file not listed": Corruption(edit_manifest(lambda m: m["files"].pop("tokenizer/vocab.txt")),
                                  r"'files' does not list 'tokenizer/vocab.txt'"),
    "missing file": Corruption(lambda folder: (folder / "tokenizer" / "tokenizer_config.json").unlink(),
                               r"tokenizer_config.json: missing from the model folder"),
    "file size": Corruption(replace_file("tokenizer/tokenizer_config.json", lambda d: d + b" ", relist=False),
                            r"tokenizer_config.json: size \d+ differs from the manifest's"),
    "file checksum": Corruption(replace_file("tokenizer/tokenizer_config.json", lambda d: d.replace(b"{", b"[", 1),
                                             relist=False), r"tokenizer_config.json: sha256 \w+ differs"),
    "query weights of another length": Corruption(replace_file("query_weights.f32", lambda d: d[:-4]),
                                                  r"query_weights.f32: holds 122084 bytes"),
    "query weight not finite": Corruption(replace_file("query_weights.f32", nan_at(2000)),
                                          r"weight nan of token 2000 is not a finite number"),
    "document module not TorchScript": Corruption(replace_file("document_encoder.pt", lambda d: b"not a zip file"),
                                                  r"not a loadable TorchScript module"),
    "hidden_states module without decoder": Corruption(replace_file("document_encoder.pt", scripted(NoDecoder)),
                                                       r"output is hidden_states but the module has no"),
    "decoder of the wrong shape": Corruption(replace_file("document_encoder.pt", scripted(WrongDecoder)),
                                             r"decoder_weight has shape \[100x8\]"),
    "module of the wrong signature": Corruption(replace_file("document_encoder.pt", scripted(OneInput)),
                                                r"must take \(input_ids, attention_mask\)"),
    "module output of the wrong width": Corruption(set_field("document_encoder.output", "logits"),
                                                   r"forward\(\) returned shape \[\d+x\d+x64\]"),
}

# Forms the exporter writes that both sides must accept.
ACCEPTED: dict[str, Callable[[Path], None]] = {
    "tokenizer without a mask token": set_field("tokenizer.mask_token", None),
    "unknown position embeddings": set_field("document_encoder.max_position_embeddings", None),
    "queries not truncated": set_field("query_encoder.max_seq_length", None),
}


@pytest.fixture(scope="module")
def base(root: Path) -> Path:
    if VARIANTS[BASE].skip:
        pytest.skip(VARIANTS[BASE].skip)
    return exported(BASE, root)[1]


@pytest.mark.parametrize("check", list(CORRUPTIONS))
def test_limit_eval_and_the_exporter_refuse_the_same_folders(check: str, base: Path, dataset: Path,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(base, folder)
    CORRUPTIONS[check].change(folder)
    completed = limit_eval(folder, dataset, tmp_path / "run")
    assert completed.returncode == EXIT_MODEL, f"limit-eval accepted the folder ({completed.returncode}):\n" \
                                               f"{completed.stderr}"
    assert re.search(CORRUPTIONS[check].message, completed.stderr), completed.stderr
    assert not (tmp_path / "run" / "results.json").exists()
    with pytest.raises(export_model.CheckError) as refused:
        export_model.validate_folder(folder)
    assert str(refused.value)


@pytest.mark.parametrize("form", list(ACCEPTED))
def test_limit_eval_and_the_exporter_accept_the_same_forms(form: str, base: Path, dataset: Path,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(base, folder)
    ACCEPTED[form](folder)
    export_model.validate_folder(folder)
    completed = limit_eval(folder, dataset, tmp_path / "run")
    assert completed.returncode == 0, completed.stderr


# Sources the exporter refuses before writing anything (exit status 4, the message given): what no
# manifest can express.
REFUSED_SOURCES: dict[str, tuple[Callable[[Path], None], str]] = {
    "sentence-transformers' own lower-casing": (lowercase_in_sentence_transformers,
                                                r"unsupported MLMTransformer do_lower_case=True"),
}


@pytest.mark.parametrize("case", list(REFUSED_SOURCES))
def test_exporter_refuses_unsupported_sources(case: str, base: Path, root: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(exported(BASE, root)[0], source)
    edit, message = REFUSED_SOURCES[case]
    edit(source)
    completed = subprocess.run([sys.executable, str(SCRIPTS / "export_model.py"), str(source), "--output",
                                str(tmp_path / "exported")], capture_output=True, text=True, timeout=600,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert completed.returncode == 4, completed.stderr
    assert re.search(message, completed.stderr), completed.stderr
    assert not (tmp_path / "exported").exists()
