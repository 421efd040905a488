"""`limit-eval evaluate` against pytrec_eval (pytrec-eval-terrier 0.5.7) and BEIR 2.2.

Randomized runs and qrels (fixed seeds) exercise what trec_eval is particular about: equal
scores (ranked by doc id descending, in strcmp order), graded, zero and negative judgements,
queries in the run only or in the qrels only, retrieved documents that are not judged, documents
whose id is the query id (BEIR drops them), queries with fewer results than k, queries without any
relevant judgement. Every per-query value and every mean must agree to 1e-9, and the means rounded
as BEIR rounds them must equal BEIR's own numbers.

The scores given to pytrec_eval are parsed back from the run file the binary reads, so both sides
rank the same doubles.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval
from beir.retrieval.evaluation import EvaluateRetrieval

K_VALUES = [1, 2, 3, 5, 10, 20, 100]
TOLERANCE = 1e-9
# One hit of two results per query at most: a few ids whose strcmp order differs from a naive
# numeric or case-insensitive one, and non-ASCII ids (UTF-8 bytes compare unsigned).
SPECIAL_DOC_IDS = ["D1", "d1_", "d10", "d9", "d1", "Z", "a", "\u00e9t\u00e9", "\u03a9", "doc-\u4e2d"]


def limit_eval_binary() -> Path:
    configured = os.environ.get("LIMIT_EVAL_BIN")
    if configured:
        return Path(configured)
    source = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
    return source / "build" / "limit-eval"


@dataclass
class Case:
    name: str
    seed: int
    tie_scores: bool = True  # scores from a handful of values: many exact ties
    negative_judgements: bool = False
    relevance_level: int = 1
    keep_identical_ids: bool = False
    qrels_format: str = "jsonl"


CASES = [
    Case("ties", seed=1),
    Case("float32_scores", seed=2, tie_scores=False),
    Case("negative_judgements", seed=3, negative_judgements=True),
    Case("relevance_level_2", seed=4, relevance_level=2),
    Case("keep_identical_ids", seed=5, keep_identical_ids=True),
    Case("tsv_qrels", seed=6, tie_scores=False, qrels_format="tsv"),
]


def make_data(case: Case) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, float]]]:
    rng = random.Random(case.seed)
    np_rng = np.random.default_rng(case.seed)
    query_ids = [f"q{i}" for i in range(80)]
    doc_ids = [f"d{i}" for i in range(400)] + SPECIAL_DOC_IDS + query_ids[:30]
    grades = [0, 1, 1, 1, 2, 3] + ([-1, -2] if case.negative_judgements else [])

    qrels: dict[str, dict[str, int]] = {}
    for q in query_ids + [f"judged_only_{i}" for i in range(5)]:
        if q in query_ids and rng.random() < 0.1:
            continue  # in the run only
        judged = rng.sample(doc_ids, rng.randint(1, 25))
        if q in query_ids[:30] and rng.random() < 0.5:
            judged.append(q)  # the query itself is judged: BEIR still drops it from the run
        if rng.random() < 0.1:
            qrels[q] = {d: rng.choice([0, -1] if case.negative_judgements else [0]) for d in judged}
        else:
            qrels[q] = {d: rng.choice(grades) for d in judged}

    tie_values = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 7.0]
    run: dict[str, dict[str, float]] = {}
    for q in query_ids + [f"unjudged_{i}" for i in range(5)]:
        if q in query_ids and rng.random() < 0.08:
            continue  # in the qrels only
        size = rng.choice([1, 1, 2, 3, 4, 7, 12, 19, 25, 60, 100, 101, 150])
        retrieved = [d for d in qrels.get(q, {}) if rng.random() < 0.6]
        retrieved += SPECIAL_DOC_IDS[: rng.randint(0, 4)]
        if q in query_ids[:30] and rng.random() < 0.6:
            retrieved.append(q)
        retrieved = list(dict.fromkeys(retrieved))
        while len(retrieved) < size:
            d = rng.choice(doc_ids)
            if d not in retrieved:
                retrieved.append(d)
        retrieved = retrieved[: max(size, 1)]
        if case.tie_scores:
            scores = [rng.choice(tie_values) for _ in retrieved]
        else:
            # float32 values, as the retrievers produce, a few of them repeated.
            scores = [float(np.float32(x)) for x in np_rng.normal(5.0, 3.0, len(retrieved))]
            for i in range(0, len(scores), 7):
                scores[i] = scores[0]
        run[q] = dict(zip(retrieved, scores))
    # A query whose only result is itself: after BEIR's drop it is evaluated with no results.
    run["q0"] = {"q0": 3.0}
    qrels.setdefault("q0", {"q0": 1, "d1": 1})
    return qrels, run


def write_run(path: Path, run: dict[str, dict[str, float]], rng: random.Random) -> None:
    lines = []
    for q, docs in run.items():
        for rank, (d, score) in enumerate(docs.items(), start=1):
            lines.append(f"{q} Q0 {d} {rank} {score!r} oracle\n")
    rng.shuffle(lines)  # the reader must not depend on the file's order
    path.write_text("".join(lines), encoding="utf-8")


def read_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        q, _, d, _, score, _ = line.split()
        assert d not in run.setdefault(q, {})
        run[q][d] = float(score)
    return run


def write_qrels(path: Path, qrels: dict[str, dict[str, int]], fmt: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        if fmt == "tsv":
            out.write("query-id\tcorpus-id\tscore\n")
        for q, judged in qrels.items():
            for d, grade in judged.items():
                if fmt == "tsv":
                    out.write(f"{q}\t{d}\t{grade}\n")
                else:
                    out.write(json.dumps({"query-id": q, "corpus-id": d, "score": grade}, ensure_ascii=False) + "\n")


def trec_eval_order(docs: dict[str, float]) -> list[str]:
    # Score descending, then doc id descending in strcmp order (UTF-8 bytes).
    return sorted(docs, key=lambda d: (docs[d], d.encode("utf-8")), reverse=True)


def drop_identical_ids(run: dict[str, dict[str, float]]) -> int:
    """BEIR 2.2's EvaluateRetrieval.evaluate, ignore_identical_ids=True."""
    popped = 0
    for qid, rels in run.items():
        for pid in list(rels):
            if qid == pid:
                rels.pop(pid)
                popped += 1
    return popped


def reference_per_query(qrels, run, relevance_level: int) -> dict[str, dict[str, float]]:
    """pytrec_eval's values under our metric names, for the queries pytrec_eval returns."""
    ks = ",".join(str(k) for k in K_VALUES)
    measures = {f"map_cut.{ks}", f"ndcg_cut.{ks}", f"recall.{ks}", f"P.{ks}"}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=relevance_level)
    scores = evaluator.evaluate(run)
    reference = {
        q: {
            **{f"NDCG@{k}": v[f"ndcg_cut_{k}"] for k in K_VALUES},
            **{f"MAP@{k}": v[f"map_cut_{k}"] for k in K_VALUES},
            **{f"Recall@{k}": v[f"recall_{k}"] for k in K_VALUES},
            **{f"P@{k}": v[f"P_{k}"] for k in K_VALUES},
        }
        for q, v in scores.items()
    }
    # MRR@k: trec_eval's recip_rank on the ranking cut at k.
    rr_evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"} | measures, relevance_level=relevance_level)
    for k in K_VALUES:
        cut = {q: {d: docs[d] for d in trec_eval_order(docs)[:k]} for q, docs in run.items()}
        cut_scores = rr_evaluator.evaluate(cut)
        for q, values in cut_scores.items():
            # Guards the cut itself: had it kept other documents than trec_eval's own top k, the
            # cut-k measures of the cut run would differ from those of the full run.
            assert values[f"P_{k}"] == scores[q][f"P_{k}"], (q, k)
            assert values[f"ndcg_cut_{k}"] == scores[q][f"ndcg_cut_{k}"], (q, k)
            reference[q][f"MRR@{k}"] = values["recip_rank"]
    return reference


def run_limit_eval(run_path: Path, qrels_path: Path, case: Case) -> dict:
    binary = limit_eval_binary()
    assert binary.exists(), f"limit-eval binary not found at {binary} (set LIMIT_EVAL_BIN)"
    command = [str(binary), "evaluate", "--run", str(run_path), "--qrels", str(qrels_path),
               "--k", ",".join(str(k) for k in K_VALUES), "--relevance-level", str(case.relevance_level),
               "--per-query"]
    if case.keep_identical_ids:
        command.append("--keep-identical-ids")
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, f"{command} failed ({completed.returncode}):\n{completed.stderr}"
    return json.loads(completed.stdout)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_pytrec_eval_and_beir(case: Case, tmp_path: Path) -> None:
    qrels, generated_run = make_data(case)
    run_path = tmp_path / "run.trec"
    qrels_path = tmp_path / f"qrels.{case.qrels_format}"
    write_run(run_path, generated_run, random.Random(case.seed))
    write_qrels(qrels_path, qrels, case.qrels_format)

    run = read_run(run_path)  # the doubles the binary reads
    evaluated_run = copy.deepcopy(run)
    dropped = 0 if case.keep_identical_ids else drop_identical_ids(evaluated_run)
    reference = reference_per_query(qrels, evaluated_run, case.relevance_level)
    ours = run_limit_eval(run_path, qrels_path, case)

    # The data must reach the cases the test is about.
    assert dropped > 0 or case.keep_identical_ids
    assert any(len(docs) < max(K_VALUES) for docs in evaluated_run.values())
    assert any(q not in qrels for q in run) and any(q not in run for q in qrels)
    assert any(all(g < case.relevance_level for g in qrels[q].values()) for q in reference)

    assert ours["evaluated_queries"] == len(reference)
    assert ours["run_queries_without_qrels"] == sum(q not in qrels for q in run)
    assert ours["qrels_queries_without_run"] == sum(q not in run for q in qrels)
    assert ours["identical_ids_dropped"] == dropped
    assert set(ours["per_query"]) == set(reference)

    compared = 0
    bit_identical = 0
    max_diff = 0.0
    for q, expected in reference.items():
        got = ours["per_query"][q]
        assert set(got) == set(expected), q
        for name, value in expected.items():
            diff = abs(got[name] - value)
            assert diff <= TOLERANCE, f"query {q} {name}: limit-eval {got[name]!r}, pytrec_eval {value!r}"
            max_diff = max(max_diff, diff)
            bit_identical += got[name] == value
            compared += 1
    per_query_compared = compared

    # Means as BEIR takes them: sum over the queries pytrec_eval returned / their number.
    for name, value in ours["metrics"].items():
        expected_mean = sum(v[name] for v in reference.values()) / len(reference)
        diff = abs(value - expected_mean)
        assert diff <= TOLERANCE, f"mean {name}: limit-eval {value!r}, pytrec_eval {expected_mean!r}"
        max_diff = max(max_diff, diff)
        compared += 1

    # BEIR's own numbers (rounded to 5 decimals) for NDCG, MAP, Recall and P.
    if not case.keep_identical_ids and case.relevance_level == 1:
        beir_tables = EvaluateRetrieval.evaluate(qrels, copy.deepcopy(run), K_VALUES, ignore_identical_ids=True)
        for table in beir_tables:
            for name, beir_value in table.items():
                ours_value = ours["metrics"][name]
                # Equal once rounded, unless the mean sits on a rounding boundary within 1e-9.
                assert round(ours_value, 5) == beir_value or abs(ours_value - beir_value) <= 5e-6 + TOLERANCE, (
                    f"{name}: limit-eval {ours_value!r}, BEIR {beir_value!r}")
                compared += 1

    print(f"{case.name}: {compared} values compared ({per_query_compared} per query, {bit_identical} of them "
          f"bit-identical), {len(reference)} queries, max |diff| {max_diff:.3g}")
    assert compared > 1000
    assert math.isfinite(max_diff)
