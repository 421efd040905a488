"""The results JSON's `efficiency` block against sentence-transformers and numpy.

For BM25 on LIMIT-small (always) and a tiny exported neural model (when the neural plugin is
built), limit-eval runs with --save-vectors; the saved document and query vectors are turned back
into dense torch tensors over the model's dimensions, and:

- active dimensions (mean) and sparsity ratio equal sentence-transformers 5.1's
  `SparseEncoder.sparsity` of those tensors (float32 there: 1e-6 relative);
- median, p99 and max equal numpy's (np.median, np.percentile(..., 99), max);
- FLOPS equals sum_j (fraction of queries using j) x (fraction of documents using j) computed here
  with numpy, postings_per_query equals FLOPS x documents, index_bytes 8 x (non-zeros + dims + 1).

For the tiny model, sentence-transformers' own encoding of LIMIT-small is measured too: its
active dimensions agree with ours up to the few tokens whose weight is within float noise of 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SparseEncoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)
from tiny_models import tiny_model  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
LIMIT_SMALL = SOURCE / "data" / "limit-small"


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def run(binary: Path, model: str, work: Path) -> tuple[dict, list[dict], list[dict]]:
    output, vectors = work / "results.json", work / "vectors"
    completed = subprocess.run(
        [str(binary), "--model", model, "--dataset", str(LIMIT_SMALL), "--device", "cpu", "--output", str(output),
         "--save-vectors", str(vectors), "--no-cache", "--log-level", "warn"],
        capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stderr
    return (json.loads(output.read_text(encoding="utf-8")), read_jsonl(vectors / "corpus.jsonl"),
            read_jsonl(vectors / "queries.jsonl"))


def dense(rows: list[dict], columns: dict[str, int], dimensions: int) -> torch.Tensor:
    matrix = torch.zeros((len(rows), dimensions), dtype=torch.float32)
    for i, row in enumerate(rows):
        for term, weight in row["vector"].items():
            matrix[i, columns[term]] = weight
    return matrix


def check_efficiency(results: dict, corpus: list[dict], queries: list[dict], vocabulary: list[str] | None) -> None:
    efficiency = results["efficiency"]
    dimensions = efficiency["dimensions"]
    if vocabulary is None:  # BM25: its terms, in any fixed order
        terms = sorted({t for row in corpus + queries for t in row["vector"]})
        assert len(terms) <= dimensions
        columns = {term: i for i, term in enumerate(terms)}
    else:
        assert len(vocabulary) == dimensions
        columns = {term: i for i, term in enumerate(vocabulary)}
    docs, qs = dense(corpus, columns, dimensions), dense(queries, columns, dimensions)
    for side, matrix in (("documents", docs), ("queries", qs)):
        ours = efficiency[side]
        reference = SparseEncoder.sparsity(matrix)
        assert ours["vectors"] == matrix.shape[0]
        assert ours["active_dims"]["mean"] == pytest.approx(reference["active_dims"], rel=1e-6), side
        assert ours["sparsity_ratio"] == pytest.approx(reference["sparsity_ratio"], rel=1e-6, abs=1e-7), side
        counts = (matrix != 0).sum(dim=1).numpy()
        assert ours["active_dims"]["median"] == pytest.approx(float(np.median(counts)), abs=1e-12), side
        assert ours["active_dims"]["p99"] == pytest.approx(float(np.percentile(counts, 99)), abs=1e-9), side
        assert ours["active_dims"]["max"] == int(counts.max()), side
    doc_fraction = (docs != 0).double().mean(dim=0).numpy()
    query_fraction = (qs != 0).double().mean(dim=0).numpy()
    flops = float(np.sum(doc_fraction * query_fraction))
    assert flops > 0
    assert efficiency["flops"] == pytest.approx(flops, rel=1e-12)
    assert efficiency["postings_per_query"] == pytest.approx(flops * docs.shape[0], rel=1e-12)
    nnz = int((docs != 0).sum())
    assert efficiency["index_bytes"] == 8 * (nnz + dimensions + 1)


def test_bm25_efficiency(binary, tmp_path):
    results, corpus, queries = run(binary, "bm25", tmp_path)
    assert results["efficiency"]["dimensions"] == results["model"]["description"]["vocabulary_size"]
    check_efficiency(results, corpus, queries, None)
    # LIMIT-small's documents list 45 attributes: dozens of active terms, queries a handful.
    assert 40 < results["efficiency"]["documents"]["active_dims"]["mean"] < 120
    assert 1 <= results["efficiency"]["queries"]["active_dims"]["mean"] < 6


def plugin_built() -> bool:
    build = os.environ.get("LIMIT_EVAL_BUILD_DIR")
    return build is not None and any(Path(build).glob("*limit_eval_neural*.so"))


@pytest.mark.skipif(not plugin_built(), reason="the neural plugin is not built (torch-free build)")
def test_tiny_neural_model_efficiency(binary, tmp_path):
    model = tiny_model("distilbert", "log1p_relu")
    results, corpus, queries = run(binary, str(model.exported), tmp_path)
    encoder = SparseEncoder(str(model.source), device="cpu")
    vocabulary = encoder.tokenizer.convert_ids_to_tokens(list(range(encoder.tokenizer.vocab_size)))
    check_efficiency(results, corpus, queries, vocabulary)
    # sentence-transformers' own vectors of the same texts.
    texts = [(doc.get("title", "") + " " + doc["text"]).strip() for doc in read_jsonl(LIMIT_SMALL / "corpus.jsonl")]
    with torch.inference_mode():
        docs = encoder.encode_document(texts, batch_size=32, convert_to_tensor=True).to_dense()
    reference = SparseEncoder.sparsity(docs)
    ours = results["efficiency"]["documents"]["active_dims"]["mean"]
    assert ours == pytest.approx(reference["active_dims"], rel=1e-3)
