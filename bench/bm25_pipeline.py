"""Whole-run timing of BM25 on a dataset: `limit-eval --model bm25` against the Python pipeline the
LIMIT paper ran (bm25s + PyStemmer for retrieval, BEIR/pytrec_eval for the metrics), each as a fresh
process on the same machine in one run (process start-up, data loading, indexing, retrieval of the
top 100 and evaluation included). Prints medians and the ratio.

    ~/.cache/limit-eval/venv/bin/python bench/bm25_pipeline.py [--binary build/limit-eval]
        [--dataset data/limit-small] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PYTHON_PIPELINE = r'''
import json, logging, sys
from pathlib import Path
import bm25s, Stemmer
from beir.retrieval.evaluation import EvaluateRetrieval
logging.disable(logging.INFO)
root = Path(sys.argv[1])
read = lambda p: [json.loads(line) for line in open(p, encoding="utf-8")]
corpus, queries = read(root / "corpus.jsonl"), read(root / "queries.jsonl")
qrels = {}
for row in read(root / "qrels.jsonl"):
    qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
stemmer = Stemmer.Stemmer("english")
retriever = bm25s.BM25()
retriever.index(bm25s.tokenize(["\n".join([d.get("title", ""), d["text"]]) for d in corpus], stopwords="en",
                               stemmer=stemmer, show_progress=False), show_progress=False)
tokens = bm25s.tokenize([q["text"] for q in queries], stopwords="en", stemmer=stemmer, show_progress=False)
ids, scores = retriever.retrieve(tokens, k=min(100, len(corpus)), show_progress=False)
results = {q["_id"]: {corpus[int(d)]["_id"]: float(s) for d, s in zip(ids[i], scores[i])}
           for i, q in enumerate(queries)}
ndcg, _, recall, _ = EvaluateRetrieval.evaluate(qrels, results, [2, 10, 20, 100])
print(json.dumps({**ndcg, **recall}))
'''


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{completed.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(ROOT / "build" / "limit-eval"))
    parser.add_argument("--dataset", default=str(ROOT / "data" / "limit-small"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        ours_cmd = [args.binary, "--model", "bm25", "--dataset", args.dataset, "--output", f"{work}/r.json",
                    "--log-level", "warn"]
        python_cmd = [sys.executable, "-c", PYTHON_PIPELINE, args.dataset]
        ours, theirs = [], []
        for _ in range(args.repeats):  # interleaved, so load changes hit both alike
            ours.append(timed(ours_cmd))
            theirs.append(timed(python_cmd))
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"dataset {args.dataset}, {args.repeats} interleaved runs each, wall seconds (median)")
    print("| pipeline | wall s | speed-up |")
    print("| --- | --- | --- |")
    print(f"| limit-eval --model bm25 | {o:.3f} | {t / o:.1f}x |")
    print(f"| bm25s + PyStemmer + BEIR/pytrec_eval | {t:.3f} | 1.0x |")


if __name__ == "__main__":
    main()
