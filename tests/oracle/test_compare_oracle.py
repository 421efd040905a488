"""`limit-eval compare` against scipy, statsmodels and ranx.

Random per-query scores (fixed seeds) are written as minimal result files; `limit-eval compare
--json` is checked against:

- Student's paired t-test: scipy.stats.ttest_rel (t and p to 1e-9 relative);
- Holm and Bonferroni: statsmodels.stats.multitest.multipletests (to 1e-12);
- Fisher's randomization test: ranx.statistical_tests.fisher_randomization_test, and an exact
  enumeration of every sign pattern for a small query set, within Monte Carlo error computed from
  the number of permutations (both draw their own permutations);
- the paired bootstrap: the interval against scipy.stats.bootstrap (paired, percentile) and the
  p-value against a numpy shift-method bootstrap, within Monte Carlo error;
- win/tie/loss counts, fully-right counts and the ids only one system gets fully right, computed
  here from the per-query values.

Real results: a BM25 run on LIMIT-small and a perturbed copy of it (TREC run files), compared with
--qrels; the same oracles apply. Mismatched inputs are refused (exit status 3, the file named), and
the same inputs and seed give the same bytes.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from ranx.statistical_tests import fisher_randomization_test
from statsmodels.stats.multitest import multipletests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
EXIT_USAGE = 2
EXIT_DATA = 3
SAMPLES = 10000
# Monte Carlo agreement: this many standard errors of the difference of two independent estimates.
SIGMAS = 5.0


def result_file(path: Path, model: str, per_query: dict[str, dict[str, float]], *, dataset: str = "synthetic",
                k_values: list[int] | None = None, relevance_level: int = 1, documents: int = 46) -> Path:
    k_values = k_values or [2, 10, 100]
    metrics: dict[str, float] = {}
    for name in next(iter(per_query.values())):
        metrics[name] = float(np.mean([values[name] for values in per_query.values()]))
    path.write_text(json.dumps({
        "format": "limit-eval-results/1",
        "model": {"name": model, "description": {"kind": "test"}},
        "dataset": {"name": dataset, "documents": documents, "queries": len(per_query),
                    "qrels_report": {"judgements": 2 * len(per_query)}},
        "settings": {"top_k": 100, "k_values": k_values, "relevance_level": relevance_level,
                     "ignore_identical_ids": True},
        "metrics": metrics,
        "environment": {"device": "cpu", "dtype": "fp32", "date": "2026-01-01T00:00:00Z"},
        "per_query": per_query,
    }), encoding="utf-8")
    return path


def random_system(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, dict[str, float]]:
    """Per-query values: NDCG@10 continuous in [0, 1], Recall@k in {0, 0.5, 1} (LIMIT's 2 relevant)."""
    per_query = {}
    for q in range(n):
        recall2 = float(rng.choice([0.0, 0.5, 1.0], p=[0.2, 0.3, 0.5]))
        recall10 = max(recall2, float(rng.choice([0.0, 0.5, 1.0], p=[0.05, 0.15, 0.8])))
        per_query[f"query_{q}"] = {
            "NDCG@10": float(np.clip(rng.beta(4, 2) + shift, 0.0, 1.0)),
            "Recall@2": recall2,
            "Recall@10": recall10,
            "Recall@100": max(recall10, float(rng.choice([0.5, 1.0], p=[0.05, 0.95]))),
        }
    return per_query


def run_compare(binary: Path, files: list[Path], *args: str, json_output: bool = True) -> subprocess.CompletedProcess:
    command = [str(binary), "compare", *map(str, files), *args, "--log-level", "warn"]
    if json_output:
        command.append("--json")
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def compare_json(binary: Path, files: list[Path], *args: str) -> dict:
    completed = run_compare(binary, files, *args)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def column(per_query: dict[str, dict[str, float]], metric: str) -> np.ndarray:
    return np.array([per_query[q][metric] for q in sorted(per_query)])


@pytest.fixture(scope="module")
def systems(tmp_path_factory) -> tuple[list[Path], list[dict]]:
    """Four systems over 300 queries: two close, one clearly better, one slightly worse."""
    rng = np.random.default_rng(20251013)
    folder = tmp_path_factory.mktemp("systems")
    per_query = [random_system(rng, 300), random_system(rng, 300, 0.01), random_system(rng, 300, 0.06),
                 random_system(rng, 300, -0.015)]
    files = [result_file(folder / f"m{i}.json", f"m{i}", values) for i, values in enumerate(per_query)]
    return files, per_query


def pair_index(result: dict, baseline: str, model: str) -> dict:
    return next(p for p in result["pairs"] if p["baseline"] == baseline and p["model"] == model)


def test_t_test_equals_scipy_and_corrections_equal_statsmodels(binary, systems):
    files, per_query = systems
    for correction in ["holm", "bonferroni", "none"]:
        result = compare_json(binary, files, "--test", "t", "--correction", correction)
        assert result["test"] == "t" and result["correction"] == correction
        assert len(result["pairs"]) == 6
        raw = []
        for pair in result["pairs"]:
            a = column(per_query[int(pair["baseline"][1:])], "NDCG@10")
            b = column(per_query[int(pair["model"][1:])], "NDCG@10")
            reference = scipy.stats.ttest_rel(b, a)
            assert pair["t"] == pytest.approx(reference.statistic, rel=1e-9)
            assert pair["p"] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
            assert pair["difference"] == pytest.approx(b.mean() - a.mean(), abs=1e-12)
            raw.append(pair["p"])
        if correction == "none":
            expected = raw
        else:
            expected = multipletests(raw, alpha=0.05, method=correction)[1]
        for pair, value in zip(result["pairs"], expected):
            assert pair["p_corrected"] == pytest.approx(value, rel=1e-12, abs=1e-300)
            assert pair["significant"] == (value < 0.05)
    # Some pair is significant and some is not: the oracle comparison is not vacuous.
    assert {pair["significant"] for pair in result["pairs"]} == {True, False}


def test_t_test_on_tiny_p_values_and_few_queries(binary, tmp_path):
    rng = np.random.default_rng(5)
    for n, shift in [(2, 0.3), (3, 0.1), (15, 0.0), (2000, 0.05)]:
        a, b = random_system(rng, n), random_system(rng, n, shift)
        files = [result_file(tmp_path / f"a{n}.json", "a", a), result_file(tmp_path / f"b{n}.json", "b", b)]
        pair = compare_json(binary, files, "--samples", "100")["pairs"][0]
        reference = scipy.stats.ttest_rel(column(b, "NDCG@10"), column(a, "NDCG@10"))
        assert pair["p"] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300), n
        assert pair["t"] == pytest.approx(reference.statistic, rel=1e-9), n


def monte_carlo_tolerance(p: float, samples_a: int, samples_b: int) -> float:
    p = min(max(p, 1.0 / min(samples_a, samples_b)), 1 - 1.0 / min(samples_a, samples_b))
    return SIGMAS * math.sqrt(p * (1 - p) / samples_a + p * (1 - p) / samples_b)


def test_randomization_agrees_with_ranx(binary, systems):
    files, per_query = systems
    result = compare_json(binary, files, "--test", "randomization", "--samples", str(SAMPLES), "--correction",
                          "none")
    assert result["samples"] == SAMPLES
    moderate = 0
    for pair in result["pairs"]:
        a = column(per_query[int(pair["baseline"][1:])], "NDCG@10")
        b = column(per_query[int(pair["model"][1:])], "NDCG@10")
        reference, _ = fisher_randomization_test(a, b, n_permutations=SAMPLES, max_p=0.05, random_seed=42)
        assert abs(pair["p"] - reference) <= monte_carlo_tolerance(reference, SAMPLES, SAMPLES), pair
        moderate += 0.01 < reference < 0.99
    assert moderate >= 2  # p-values away from 0 and 1, where the agreement says something


def test_randomization_agrees_with_exact_enumeration(binary, tmp_path):
    rng = np.random.default_rng(11)
    n = 12
    a, b = random_system(rng, n), random_system(rng, n, 0.08)
    files = [result_file(tmp_path / "a.json", "a", a), result_file(tmp_path / "b.json", "b", b)]
    d = column(b, "NDCG@10") - column(a, "NDCG@10")
    observed = abs(d.sum())
    count = 0
    for signs in itertools.product([1.0, -1.0], repeat=n):
        count += abs(np.dot(signs, d)) >= observed - 1e-12 * np.abs(d).sum()
    exact = count / 2 ** n
    assert 0.02 < exact < 0.98
    samples = 40000
    pair = compare_json(binary, files, "--test", "randomization", "--samples", str(samples))["pairs"][0]
    assert abs(pair["p"] - exact) <= SIGMAS * math.sqrt(exact * (1 - exact) / samples)


def test_bootstrap_interval_and_p_value(binary, systems):
    files, per_query = systems
    result = compare_json(binary, files[:3], "--test", "bootstrap", "--samples", str(SAMPLES), "--correction",
                          "none", "--alpha", "0.05")
    assert result["confidence"] == pytest.approx(0.95)
    rng = np.random.default_rng(99)
    moderate = 0
    for pair in result["pairs"]:
        a = column(per_query[int(pair["baseline"][1:])], "NDCG@10")
        b = column(per_query[int(pair["model"][1:])], "NDCG@10")
        d = b - a
        reference = scipy.stats.bootstrap((b, a), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True,
                                          vectorized=True, n_resamples=SAMPLES, confidence_level=0.95,
                                          method="percentile", random_state=rng)
        # Standard error of a 2.5% quantile of the bootstrap distribution (normal approximation), for
        # the difference of two independent estimates.
        sd = reference.standard_error
        quantile_se = math.sqrt(0.025 * 0.975 / SAMPLES) / scipy.stats.norm.pdf(1.959964) * sd
        tolerance = SIGMAS * math.sqrt(2) * quantile_se
        low, high = pair["ci"]
        assert low == pytest.approx(reference.confidence_interval.low, abs=tolerance)
        assert high == pytest.approx(reference.confidence_interval.high, abs=tolerance)
        assert low < d.mean() < high
        # Shift-method p-value with numpy's own resamples.
        indices = rng.integers(0, len(d), size=(SAMPLES, len(d)))
        means = d[indices].mean(axis=1)
        expected = np.mean(np.abs(means - d.mean()) >= abs(d.mean()) - 1e-12 * np.abs(d).mean())
        assert abs(pair["p"] - expected) <= monte_carlo_tolerance(expected, SAMPLES, SAMPLES), pair
        moderate += 0.01 < expected < 0.99
    assert moderate >= 1


def test_counts_and_fully_right_ids(binary, systems):
    files, per_query = systems
    result = compare_json(binary, files, "--baseline", str(files[2]), "--metric", "NDCG@10", "--samples", "200")
    assert [(p["baseline"], p["model"]) for p in result["pairs"]] == [("m2", "m0"), ("m2", "m1"), ("m2", "m3")]
    assert result["fully_right_k"] == [2, 10, 100]
    assert result["queries"] == 300
    for system in result["systems"]:
        values = per_query[int(system["name"][1:])]
        assert system["mean"] == pytest.approx(column(values, "NDCG@10").mean(), abs=1e-12)
        for k in [2, 10, 100]:
            assert system["fully_right"][str(k)] == sum(v[f"Recall@{k}"] == 1.0 for v in values.values())
    for pair in result["pairs"]:
        base, model = per_query[int(pair["baseline"][1:])], per_query[int(pair["model"][1:])]
        a, b = column(base, "NDCG@10"), column(model, "NDCG@10")
        assert (pair["wins"], pair["ties"], pair["losses"]) == (int((b > a).sum()), int((b == a).sum()),
                                                                int((b < a).sum()))
        for k in [2, 10, 100]:
            name = f"Recall@{k}"
            only_base = sorted(q for q in base if base[q][name] == 1.0 and model[q][name] != 1.0)
            only_model = sorted(q for q in base if model[q][name] == 1.0 and base[q][name] != 1.0)
            assert pair["fully_right"][str(k)] == {"only_baseline": only_base, "only_model": only_model}
        assert pair["fully_right"]["2"]["only_baseline"] or pair["fully_right"]["2"]["only_model"]


def test_same_inputs_same_bytes_and_markdown(binary, systems):
    files, _ = systems
    for test in ["t", "randomization", "bootstrap"]:
        first = run_compare(binary, files, "--test", test, "--samples", "2000")
        second = run_compare(binary, files, "--test", test, "--samples", "2000")
        assert first.returncode == 0 and first.stdout == second.stdout
    markdown = run_compare(binary, files[:2], "--test", "randomization", json_output=False)
    assert markdown.returncode == 0, markdown.stderr
    assert "| Baseline | Model |" in markdown.stdout
    assert "Fisher's randomization test" in markdown.stdout
    assert "| m0 | m1 |" in markdown.stdout


def test_mismatched_inputs_are_refused(binary, tmp_path):
    rng = np.random.default_rng(3)
    values = random_system(rng, 20)
    base = result_file(tmp_path / "base.json", "a", values)
    cases = {
        "dataset": (result_file(tmp_path / "other-dataset.json", "b", values, dataset="limit"), "dataset"),
        "k": (result_file(tmp_path / "other-k.json", "b", values, k_values=[2, 10, 20, 100]), "k_values"),
        "relevance": (result_file(tmp_path / "other-level.json", "b", values, relevance_level=2), "relevance_level"),
        # Same number of queries, one id differs.
        "queries": (result_file(tmp_path / "other-queries.json", "b",
                                {**{q: v for q, v in values.items() if q != "query_0"}, "query_99": values["query_0"]}),
                    "query_0"),
        "documents": (result_file(tmp_path / "other-documents.json", "b", values, documents=50000),
                      "number of documents"),
    }
    for name, (other, message) in cases.items():
        completed = run_compare(binary, [base, other])
        assert completed.returncode == EXIT_DATA, (name, completed.stderr)
        assert completed.stdout == ""
        assert str(other) in completed.stderr and message in completed.stderr, (name, completed.stderr)
    no_per_query = json.loads(base.read_text())
    del no_per_query["per_query"]
    (tmp_path / "bare.json").write_text(json.dumps(no_per_query))
    completed = run_compare(binary, [base, tmp_path / "bare.json"])
    assert completed.returncode == EXIT_DATA and "per_query" in completed.stderr
    completed = run_compare(binary, [base, result_file(tmp_path / "same.json", "b", values)], "--metric", "MAP@7")
    assert completed.returncode == EXIT_DATA and "MAP@7" in completed.stderr
    completed = run_compare(binary, [base])
    assert completed.returncode == EXIT_USAGE and "at least 2" in completed.stderr
    completed = run_compare(binary, [base, base], "--test", "anova")
    assert completed.returncode == EXIT_USAGE


# --- real results: BM25 on LIMIT-small and a perturbed copy, as TREC runs with --qrels ------------

def read_run(path: Path) -> dict[str, list[tuple[str, float]]]:
    run: dict[str, list[tuple[str, float]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        query, _, doc, _, score, _ = line.split()
        run.setdefault(query, []).append((doc, float(score)))
    return run


def write_run(path: Path, run: dict[str, list[tuple[str, float]]], tag: str) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for query in sorted(run):
            for rank, (doc, score) in enumerate(run[query], start=1):
                f.write(f"{query} Q0 {doc} {rank} {score:.6f} {tag}\n")
    return path


@pytest.fixture(scope="module")
def real_runs(binary, tmp_path_factory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("real")
    bm25_run = work / "bm25.trec"
    completed = subprocess.run([str(binary), "--model", "bm25", "--dataset", str(SOURCE / "data" / "limit-small"),
                                "--output", str(work / "bm25.json"), "--run-file", str(bm25_run), "--log-level",
                                "warn"], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    # The perturbed system: for a seeded third of the queries, the first document drops to rank 5.
    rng = random.Random(7)
    run = read_run(bm25_run)
    perturbed = {}
    for query, docs in run.items():
        docs = sorted(docs, key=lambda item: -item[1])
        if rng.random() < 1 / 3:
            docs = docs[1:5] + [docs[0]] + docs[5:]
        perturbed[query] = [(doc, 100.0 - rank) for rank, (doc, _) in enumerate(docs)]
    other = write_run(work / "perturbed.trec", perturbed, "perturbed")
    return bm25_run, other, SOURCE / "data" / "limit-small" / "qrels.jsonl"


def per_query_of(binary: Path, run: Path, qrels: Path) -> dict[str, dict[str, float]]:
    completed = subprocess.run([str(binary), "--log-level", "warn", "evaluate", "--run", str(run), "--qrels",
                                str(qrels), "--per-query"], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)["per_query"]


def test_real_runs_against_the_oracles(binary, real_runs):
    bm25, perturbed, qrels = real_runs
    a_values, b_values = per_query_of(binary, bm25, qrels), per_query_of(binary, perturbed, qrels)
    for metric in ["NDCG@10", "Recall@2"]:
        a, b = column(a_values, metric), column(b_values, metric)
        t = compare_json(binary, [bm25, perturbed], "--qrels", str(qrels), "--metric", metric)
        assert t["queries"] == 1000
        pair = t["pairs"][0]
        reference = scipy.stats.ttest_rel(b, a)
        assert pair["p"] == pytest.approx(reference.pvalue, rel=1e-9, abs=1e-300)
        assert pair["baseline_mean"] == pytest.approx(a.mean(), abs=1e-12)
        fisher = compare_json(binary, [bm25, perturbed], "--qrels", str(qrels), "--metric", metric, "--test",
                              "randomization")["pairs"][0]
        reference_p, _ = fisher_randomization_test(a, b, n_permutations=SAMPLES, max_p=0.05, random_seed=42)
        assert abs(fisher["p"] - reference_p) <= monte_carlo_tolerance(reference_p, SAMPLES, SAMPLES)
        assert (pair["wins"], pair["ties"], pair["losses"]) == (int((b > a).sum()), int((b == a).sum()),
                                                                int((b < a).sum()))
    # Recall@2 differs on few queries: many exact ties, the case where float rounding could hide a
    # permutation equal to the observed one.
    assert pair["ties"] > 500
