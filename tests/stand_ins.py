"""Stand-ins that the CLI tests build in a moment, without torch, shared by every test file that needs
one (tests/stand_in_models.py adds model folders with a TorchScript module, which needs torch):

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from stand_ins import tokenizer_only_model, write_chunked_dataset

- `write_manifest(folder, **changes)`: a model folder's manifest.json (docs/model-format.md) for its
  document_encoder.pt, query_weights.f32 and tokenizer/vocab.txt, with (dotted) fields changed;
- `tokenizer_only_model(folder, **changes)`: a model folder that `tokenize` reads (it loads neither
  the TorchScript module nor the query weights, so those are placeholders);
- `write_chunked_dataset(folder, documents)`: a BEIR folder whose corpus fills several vector-cache
  chunks (short texts keep the encoding quick).
Tiny models of the real architectures, built by sentence-transformers, are tests/tiny_models.py's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[1]))
VOCAB = SOURCE / "tests" / "fixtures" / "bert-base-uncased-vocab.txt"
VOCAB_SIZE = 30522
CHUNK_DOCUMENTS = 2048  # kCacheChunkDocuments


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(folder: Path, **overrides) -> None:
    """The folder's manifest.json; each override sets a (dotted) field, e.g. document_encoder.activation."""
    files = {}
    for relative in ("document_encoder.pt", "query_weights.f32", "tokenizer/vocab.txt"):
        path = folder / relative
        files[relative] = {"sha256": sha256(path), "bytes": path.stat().st_size}
    manifest = {
        "format": "limit-eval-model",
        "format_version": 1,
        "name": "stand-in",
        "source": {"id": "tests/stand_ins.py"},
        "vocab_size": VOCAB_SIZE,
        "document_encoder": {"file": "document_encoder.pt", "architecture": "StandInMlm", "max_seq_length": 512,
                             "add_special_tokens": True, "pooling": "max", "activation": "relu"},
        "query_encoder": {"kind": "static_weights", "file": "query_weights.f32", "dtype": "float32",
                          "max_seq_length": 512, "add_special_tokens": False},
        "tokenizer": {"kind": "wordpiece", "vocab_file": "tokenizer/vocab.txt", "lowercase": True},
        "files": files,
    }
    for dotted, value in overrides.items():
        target = manifest
        *parents, last = dotted.split(".")
        for key in parents:
            target = target[key]
        target[last] = value
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def tokenizer_only_model(folder: Path, **changes) -> Path:
    (folder / "tokenizer").mkdir(parents=True)
    shutil.copy(VOCAB, folder / "tokenizer" / "vocab.txt")
    (folder / "document_encoder.pt").write_bytes(b"never loaded by tokenize")
    (folder / "query_weights.f32").write_bytes(b"\x00\x00\x80\x3f" * VOCAB_SIZE)
    write_manifest(folder, name="tokenizer-only", **changes)
    return folder


def write_chunked_dataset(folder: Path, documents: int) -> Path:
    """A corpus of `documents` two-word texts (ceil(documents / CHUNK_DOCUMENTS) cache chunks), eight
    one-word queries and one relevant document each."""
    folder.mkdir(parents=True)
    words = ["apples", "quokkas", "tapirs", "glaciers", "barley", "otters", "jazz", "chess"]
    with (folder / "corpus.jsonl").open("w") as corpus:
        for i in range(documents):
            corpus.write(json.dumps({"_id": f"d{i}", "text": f"{words[i % 8]} {words[i // 8 % 8]}"}) + "\n")
    with (folder / "queries.jsonl").open("w") as queries, (folder / "qrels.jsonl").open("w") as qrels:
        for q, word in enumerate(words):
            queries.write(json.dumps({"_id": f"q{q}", "text": word}) + "\n")
            qrels.write(json.dumps({"query-id": f"q{q}", "corpus-id": f"d{q}", "score": 1}) + "\n")
    return folder
