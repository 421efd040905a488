"""Writes tests/e2e/expected/bm25_limit-small.md: the results table that
`limit-eval --model bm25 --dataset limit-small` must print, computed by the reference
implementations (bm25s as MTEB runs it for the retrieval, BEIR 2.2's EvaluateRetrieval.evaluate,
i.e. pytrec_eval, for the metrics). Timing cells are "*" (they vary run to run).

Run from the repository root with the project's venv:
    ~/.cache/limit-eval/venv/bin/python tests/e2e/make_expected.py
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import bm25s
import Stemmer
from beir.retrieval.evaluation import EvaluateRetrieval

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["NDCG@10", "Recall@2", "Recall@10", "Recall@20", "Recall@100"]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def reference_metrics(dataset: Path) -> dict[str, float]:
    corpus = read_jsonl(dataset / "corpus.jsonl")
    queries = read_jsonl(dataset / "queries.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    for row in read_jsonl(dataset / "qrels.jsonl"):
        qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])

    stemmer = Stemmer.Stemmer("english")
    texts = ["\n".join([doc.get("title", ""), doc["text"]]) for doc in corpus]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    query_tokens = bm25s.tokenize([q["text"] for q in queries], stopwords="en", stemmer=stemmer, show_progress=False)
    k = min(100, len(corpus))
    indices, scores = retriever.retrieve(query_tokens, k=k, show_progress=False)
    results = {
        q["_id"]: {corpus[int(d)]["_id"]: float(s) for d, s in zip(indices[i], scores[i])}
        for i, q in enumerate(queries)
    }
    ndcg, _map, recall, _precision = EvaluateRetrieval.evaluate(qrels, results, [2, 10, 20, 100],
                                                                ignore_identical_ids=True)
    return {**ndcg, **recall}


def table(model: str, metrics: dict[str, float]) -> str:
    header = ["Model", *COLUMNS, "Corpus Encoding Time (s)", "Query Encoding Time (s)"]
    rows = [f"| {' | '.join(header)} |", f"| {' | '.join('-' * len(h) for h in header)} |"]
    cells = [model, *(f"{metrics[c]:.4f}" for c in COLUMNS), "*", "*"]
    rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    logging.disable(logging.INFO)
    out = ROOT / "tests" / "e2e" / "expected" / "bm25_limit-small.md"
    out.write_text(table("bm25", reference_metrics(ROOT / "data" / "limit-small")), encoding="utf-8")
    print(out.read_text(encoding="utf-8"), end="")


if __name__ == "__main__":
    main()
