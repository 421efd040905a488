"""TREC-format qrels, checked on trec_eval's own test data (tests/fixtures/trec_eval, NIST's files).

`limit-eval evaluate --run results.test --qrels qrels.test` (the TREC qrels format detected, and
named with --qrels-format trec) must give, for every query and for `all`, trec_eval's expected
values of `out.test.aq` (`trec_eval -m all_trec -q`, printed to 4 decimals) for the measures we
share: P_k, recall_k, ndcg_cut_k, map_cut_k at k = 5 ... 1000, and recip_rank (our MRR@1000: the
run holds 500 documents per query). Identical ids are kept, as trec_eval keeps them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
DATA = SOURCE / "tests" / "fixtures" / "trec_eval"
CUTOFFS = [5, 10, 15, 20, 30, 100, 200, 500, 1000]
OURS = {"P": "P@{}", "recall": "Recall@{}", "ndcg_cut": "NDCG@{}", "map_cut": "MAP@{}"}


def expected_values() -> dict[str, dict[str, float]]:
    """query ('all' too) -> our metric name -> trec_eval's value."""
    expected: dict[str, dict[str, float]] = {}
    for line in (DATA / "out.test.aq").read_text(encoding="ascii").splitlines():
        measure, query, value = (part.strip() for part in line.split("\t"))
        for family, name in OURS.items():
            for k in CUTOFFS:
                if measure == f"{family}_{k}":
                    expected.setdefault(query, {})[name.format(k)] = float(value)
        if measure == "recip_rank":
            expected.setdefault(query, {})["MRR@1000"] = float(value)
    return expected


@pytest.mark.parametrize("format_args", [[], ["--qrels-format", "trec"]], ids=["detected", "named"])
def test_evaluate_equals_trec_eval_expected_output(binary, format_args):
    completed = subprocess.run(
        [str(binary), "--log-level", "warn", "evaluate", "--run", str(DATA / "results.test"), "--qrels", str(DATA / "qrels.test"),
         "--k", ",".join(map(str, CUTOFFS)), "--keep-identical-ids", "--per-query", *format_args], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    ours = json.loads(completed.stdout)
    assert ours["evaluated_queries"] == 3
    expected = expected_values()
    assert sorted(expected) == ["301", "302", "303", "all"]
    checked = 0
    for query, values in expected.items():
        assert len(values) == 4 * len(CUTOFFS) + 1
        actual = ours["metrics"] if query == "all" else ours["per_query"][query]
        for name, value in values.items():
            # trec_eval prints 4 decimals: ours, rounded the same way, must print the same.
            assert abs(actual[name] - value) <= 0.00005 + 1e-12, (query, name, actual[name], value)
            checked += 1
    assert checked == 4 * (4 * len(CUTOFFS) + 1)
    # Non-trivial values: the check compares real numbers, not zeros.
    assert 0.3 < ours["metrics"]["NDCG@10"] < 0.31


def test_wrong_format_is_refused(binary):
    completed = subprocess.run(
        [str(binary), "--log-level", "warn", "evaluate", "--run", str(DATA / "results.test"), "--qrels", str(DATA / "qrels.test"),
         "--qrels-format", "tsv"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 3
    assert "qrels.test:1" in completed.stderr and "header" in completed.stderr
