"""Parity of limit-eval's neural sparse encoders with the reference pipeline.

Tiny random-weight SparseEncoders of the real architectures (BertForMaskedLM with relu pooling,
DistilBertForMaskedLM with log1p_relu pooling, GTE's NewForMaskedLM (v3-gte's architecture, its
custom code loaded with trust_remote_code and the registry's v3-gte loading options) with
log1p_relu pooling; the real 30522-token vocabulary; OpenSearch's idf table as query weights), and
siamese SPLADE models whose queries go through the MLM too (BERT as [MLMTransformer, SpladePooling],
DistilBERT as a Router holding that pair on both routes), are built by scripts/make_tiny_model.py, exported by
scripts/export_model.py, and evaluated on LIMIT-small twice:

- reference: sentence-transformers 5.1 `encode_document` on (title + " " + text).strip() and
  `encode_query` on the query text, dot-product similarity, top 100 per query, BEIR 2.2
  `EvaluateRetrieval.evaluate` (pytrec_eval);
- limit-eval: `limit-eval --model <exported folder> --dataset limit-small --device cpu`.

Asserted: every metric equal to 1e-4; top-10 lists identical except where neighbouring scores
tie; document and query vectors equal to 1e-4 relative to the vector's largest weight (an entry
near 0 carries the absolute float noise of its logit, ~1e-6, which is no relative error of that
entry; a token whose weight is within that noise of 0 may be present on one side only). A negative control flips the pooling
activation in a copy of the exported folder and asserts that the comparison then fails, so the
test is known to be able to fail.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import arch_param, registry_loading, registry_loading_options  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ["LIMIT_EVAL_BIN"])
DATASET = SOURCE / "data" / "limit-small"
K_VALUES = [2, 10, 20, 100]
METRIC_TOL = 1e-4
VECTOR_RTOL = 1e-4
TIE_RTOL = 1e-5

# v3-gte's loading options, as the registry gives them to export_model.py --all.
GTE_EXPORT = registry_loading_options("gte")
GTE_LOAD = registry_loading("gte")
GTE_MAKE = ["--arch", "gte", "--activation", "log1p_relu", "--seed", "3", "--mlm-vocab-size", "30522"]

# name -> (make_tiny_model.py arguments, extra export_model.py arguments, SparseEncoder loading
# options). The default export carries the MLM decoder for limit-eval to apply on valid positions;
# one model of each of two architectures is also exported as whole logits.
CONFIGS = {
    "bert-relu": (["--arch", "bert", "--activation", "relu", "--seed", "1"], [], {}),
    "distilbert-log1p_relu": (["--arch", "distilbert", "--activation", "log1p_relu", "--seed", "2"], [], {}),
    "distilbert-log1p_relu-logits": (["--arch", "distilbert", "--activation", "log1p_relu", "--seed", "2"],
                                     ["--document-output", "logits"], {}),
    "gte-log1p_relu": (GTE_MAKE, GTE_EXPORT, GTE_LOAD),
    "gte-log1p_relu-logits": (GTE_MAKE, [*GTE_EXPORT, "--document-output", "logits"], GTE_LOAD),
    # GTE's own configs: a 30528-logit MLM over the 30522-token vocabulary (make_tiny_model's gte default).
    "gte-log1p_relu-mlm30528": (["--arch", "gte", "--activation", "log1p_relu", "--seed", "4"], GTE_EXPORT, GTE_LOAD),
    # Siamese SPLADE (naver's SPLADE, OpenSearch's bi-encoders): the queries go through the MLM too.
    "bert-relu-siamese": (["--arch", "bert", "--activation", "relu", "--seed", "5", "--layout", "siamese"], [], {}),
    "distilbert-log1p_relu-siamese-router": (["--arch", "distilbert", "--activation", "log1p_relu", "--seed", "6",
                                              "--layout", "siamese-router"], [], {}),
}


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def run_script(*args: str) -> None:
    completed = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=1200,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert completed.returncode == 0, f"{args[0]} failed:\n{completed.stdout}\n{completed.stderr}"


# Configurations with the same make_tiny_model.py arguments share the built model and its reference
# run (the export differs): the suite builds each tiny model once.
_SOURCES: dict[tuple[str, ...], Path] = {}
_REFERENCES: dict[tuple[str, str], dict] = {}


def config_arch(name: str) -> str:
    make_arguments = CONFIGS[name][0]
    return make_arguments[make_arguments.index("--arch") + 1]


# GTE's configurations are skipped, with the reason, where GTE's code cannot run (transformers 5).
@pytest.fixture(scope="module", params=[arch_param(name, config_arch(name)) for name in sorted(CONFIGS)])
def exported(request, tmp_path_factory) -> tuple[Path, Path, dict, str]:
    """(sentence-transformers folder, exported limit-eval folder, loading options, configuration name)
    of one tiny model."""
    work = tmp_path_factory.mktemp(request.param)
    export_folder = work / "export"
    make_arguments, export_arguments, _ = CONFIGS[request.param]
    st_folder = _SOURCES.get(tuple(make_arguments))
    if st_folder is None:
        st_folder = work / "st"
        run_script(str(SOURCE / "scripts" / "make_tiny_model.py"), *make_arguments, "--output", str(st_folder))
        _SOURCES[tuple(make_arguments)] = st_folder
    run_script(str(SOURCE / "scripts" / "export_model.py"), str(st_folder), "--output", str(export_folder),
               "--name", f"tiny-{request.param}", *export_arguments)
    return st_folder, export_folder, CONFIGS[request.param][2], request.param


def reference_pipeline(st_folder: Path, load: dict) -> dict:
    """The seed's pipeline: sentence-transformers encode + dot product + top 100 + BEIR evaluate."""
    from beir.retrieval.evaluation import EvaluateRetrieval
    from sentence_transformers import SparseEncoder

    logging.disable(logging.INFO)
    torch.manual_seed(0)
    model = SparseEncoder(str(st_folder), device="cpu", **load)
    corpus = read_jsonl(DATASET / "corpus.jsonl")
    queries = read_jsonl(DATASET / "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    for row in read_jsonl(DATASET / "qrels.jsonl"):
        qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])

    doc_texts = [(doc.get("title", "") + " " + doc["text"]).strip() for doc in corpus]
    with torch.inference_mode():
        docs = model.encode_document(doc_texts, batch_size=32, convert_to_tensor=True).to_dense()
        qs = model.encode_query([q["text"] for q in queries], batch_size=32, convert_to_tensor=True).to_dense()
    if qs.shape[1] < docs.shape[1]:
        # An MLM larger than its tokenizer: sentence-transformers' own similarity() refuses the two
        # widths; the reference pads the query vectors with zeros, as the export does.
        qs = torch.nn.functional.pad(qs, (0, docs.shape[1] - qs.shape[1]))
    scores = qs @ docs.T
    top = torch.topk(scores, k=min(100, len(corpus)), dim=1)
    results = {
        q["_id"]: {corpus[int(d)]["_id"]: float(s) for s, d in zip(top.values[i], top.indices[i])}
        for i, q in enumerate(queries)
    }
    ndcg, _map, recall, precision = EvaluateRetrieval.evaluate(qrels, results, K_VALUES, ignore_identical_ids=True)
    return {
        "metrics": {**ndcg, **_map, **recall, **precision},
        "doc_vectors": {doc["_id"]: docs[i] for i, doc in enumerate(corpus)},
        "query_vectors": {q["_id"]: qs[i] for i, q in enumerate(queries)},
        "scores": scores,
        "corpus_ids": [doc["_id"] for doc in corpus],
        "query_ids": [q["_id"] for q in queries],
        "tokenizer": model.tokenizer,
    }


def run_limit_eval(model_folder: Path, work: Path) -> dict:
    output, vectors = work / "results.json", work / "vectors"
    completed = subprocess.run(
        [str(BIN), "--model", str(model_folder), "--dataset", str(DATASET), "--device", "cpu", "--output",
         str(output), "--save-vectors", str(vectors), "--log-level", "warn"],
        capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, completed.stderr
    return {
        "results": json.loads(output.read_text(encoding="utf-8")),
        "doc_vectors": {row["_id"]: row["vector"] for row in read_jsonl(vectors / "corpus.jsonl")},
        "query_vectors": {row["_id"]: row["vector"] for row in read_jsonl(vectors / "queries.jsonl")},
    }


def term(column: int, tokenizer, size: int) -> str:
    """limit-eval's name of a column: the token, or "<id N>" past the tokenizer's size ids."""
    token = tokenizer.convert_ids_to_tokens(column) if column < size else None
    return token if token is not None else f"<id {column}>"


def column(token: str, vocab: dict[str, int]) -> int:
    return vocab[token] if token in vocab else int(token.removeprefix("<id ").removesuffix(">"))


def as_token_dict(dense: torch.Tensor, tokenizer) -> dict[str, float]:
    nonzero = torch.nonzero(dense).flatten().tolist()
    size = len(tokenizer)  # not per entry: it builds the whole vocabulary each call
    return {term(i, tokenizer, size): float(dense[i]) for i in nonzero}


def vector_mismatches(ours: dict[str, dict[str, float]], reference: dict[str, torch.Tensor], tokenizer) -> list[str]:
    problems = []
    for record_id, dense in reference.items():
        expected = as_token_dict(dense, tokenizer)
        got = ours[record_id]
        scale = max((abs(v) for v in expected.values()), default=0.0)
        for token in sorted(set(expected) | set(got)):
            a, b = got.get(token, 0.0), expected.get(token, 0.0)
            if abs(a - b) > VECTOR_RTOL * scale:
                problems.append(f"{record_id}: '{token}' ours {a} vs reference {b} (largest weight {scale})")
                break
    return problems


def metric_mismatches(ours: dict[str, float], reference: dict[str, float]) -> list[str]:
    return [f"{name}: {ours[name]} vs {value}" for name, value in reference.items()
            if abs(ours[name] - value) > METRIC_TOL]


def top10_mismatches(ours: dict, reference: dict) -> list[str]:
    """Our per-query top-10 (recomputed from our vectors) against the reference's scores, allowing
    reordering only among documents whose reference scores tie."""
    problems = []
    corpus_ids = reference["corpus_ids"]
    tokenizer = reference["tokenizer"]
    vocab = tokenizer.get_vocab()
    width = next(iter(reference["doc_vectors"].values())).shape[0]
    doc_matrix = torch.zeros(len(corpus_ids), width)
    for row, doc_id in enumerate(corpus_ids):
        for token, value in ours["doc_vectors"][doc_id].items():
            doc_matrix[row, column(token, vocab)] = value
    for qi, query_id in enumerate(reference["query_ids"]):
        query = torch.zeros(width)
        for token, value in ours["query_vectors"][query_id].items():
            query[column(token, vocab)] = value
        our_scores = doc_matrix @ query
        ref_scores = reference["scores"][qi]
        # trec_eval order: score descending, then id descending.
        ours_ranked = sorted(range(len(corpus_ids)), key=lambda d: (-float(our_scores[d]), _desc(corpus_ids[d])))[:10]
        ref_ranked = sorted(range(len(corpus_ids)), key=lambda d: (-float(ref_scores[d]), _desc(corpus_ids[d])))[:10]
        for rank, (a, b) in enumerate(zip(ours_ranked, ref_ranked)):
            if a != b and abs(float(ref_scores[a]) - float(ref_scores[b])) > TIE_RTOL * max(1.0, abs(float(ref_scores[b]))):
                problems.append(f"{query_id} rank {rank + 1}: ours {corpus_ids[a]} vs reference {corpus_ids[b]}")
                break
    return problems


def _desc(doc_id: str) -> list[int]:
    return [-b for b in doc_id.encode("utf-8")] + [1]


def compare(ours: dict, reference: dict) -> list[str]:
    tokenizer = reference["tokenizer"]
    problems = metric_mismatches(ours["results"]["metrics"], reference["metrics"])
    problems += vector_mismatches(ours["doc_vectors"], reference["doc_vectors"], tokenizer)
    problems += vector_mismatches(ours["query_vectors"], reference["query_vectors"], tokenizer)
    problems += top10_mismatches(ours, reference)
    return problems


@pytest.fixture(scope="module")
def reference(exported):
    key = (str(exported[0]), json.dumps(exported[2], sort_keys=True))
    if key not in _REFERENCES:
        _REFERENCES[key] = reference_pipeline(exported[0], exported[2])
    return _REFERENCES[key]


def test_limit_eval_matches_sentence_transformers_and_beir(exported, reference, tmp_path):
    ours = run_limit_eval(exported[1], tmp_path)
    problems = compare(ours, reference)
    assert not problems, "\n".join(problems[:30])
    # Metrics are far from trivial, so agreement means something.
    assert 0.05 < reference["metrics"]["NDCG@10"] < 0.999
    manifest = json.loads((exported[1] / "manifest.json").read_text(encoding="utf-8"))
    assert ours["results"]["model"]["name"] == manifest["name"]
    query_kind = "mlm" if "siamese" in exported[3] else "static_weights"
    assert manifest["query_encoder"]["kind"] == query_kind
    assert ours["results"]["model"]["description"]["query_encoder"]["kind"] == query_kind
    assert ours["results"]["environment"]["device"] == "cpu"


def test_broken_pooling_is_detected(exported, reference, tmp_path):
    """Negative control: the same export with the other activation must fail the comparison."""
    broken = tmp_path / "broken"
    shutil.copytree(exported[1], broken)
    manifest_path = broken / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    activation = manifest["document_encoder"]["activation"]
    manifest["document_encoder"]["activation"] = "relu" if activation == "log1p_relu" else "log1p_relu"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    ours = run_limit_eval(broken, tmp_path / "run")
    problems = compare(ours, reference)
    assert problems, "flipping the pooling activation went unnoticed: the parity test cannot fail"
