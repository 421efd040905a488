"""End to end: `limit-eval --model bm25 --dataset limit-small` prints the expected table.

tests/e2e/expected/bm25_limit-small.md was produced by tests/e2e/make_expected.py with the
reference implementations (bm25s + BEIR/pytrec_eval); only the timing cells ("*") are masked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BIN = Path(os.environ["LIMIT_EVAL_BIN"])


def mask_timings(table: str) -> str:
    lines = table.splitlines()
    masked = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and re.fullmatch(r"\d+\.\d{4}", cells[6]) and re.fullmatch(r"\d+\.\d{4}", cells[7]):
            cells[6] = cells[7] = "*"
            line = "| " + " | ".join(cells) + " |"
        masked.append(line)
    return "\n".join(masked) + "\n"


def test_bm25_limit_small_table_and_results(tmp_path: Path) -> None:
    output = tmp_path / "out" / "bm25.json"
    completed = subprocess.run(
        [str(BIN), "--model", "bm25", "--dataset", "limit-small", "--output", str(output), "--log-level", "warn"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    expected = (SOURCE / "tests" / "e2e" / "expected" / "bm25_limit-small.md").read_text(encoding="utf-8")
    assert mask_timings(completed.stdout) == expected
    assert completed.stderr == ""  # --log-level warn: a clean run logs nothing

    results = json.loads(output.read_text(encoding="utf-8"))
    assert results["format"] == "limit-eval-results/1"
    assert results["model"]["name"] == "bm25"
    assert results["dataset"]["name"] == "limit-small"
    assert (results["dataset"]["documents"], results["dataset"]["queries"]) == (46, 1000)
    assert results["evaluation"]["evaluated_queries"] == 1000
    assert len(results["per_query"]) == 1000
    for key in ("data_loading", "model_load", "corpus_encoding", "query_encoding", "retrieval", "evaluation", "total"):
        assert results["timings_s"][key] >= 0.0
    env = results["environment"]
    for key in ("limit_eval_version", "git_commit", "device", "device_name", "threads", "dtype", "date"):
        assert key in env
    # The table shows the JSON's numbers.
    row = [c.strip() for c in completed.stdout.splitlines()[2].strip("|").split("|")]
    assert row[1] == f"{results['metrics']['NDCG@10']:.4f}"
    assert row[2] == f"{results['metrics']['Recall@2']:.4f}"
    assert row[6] == f"{results['timings_s']['corpus_encoding']:.4f}"
    # Nothing else was written beside the results.
    assert sorted(p.name for p in output.parent.iterdir()) == ["bm25.json"]


def test_default_output_path_is_under_the_working_folder(tmp_path: Path) -> None:
    completed = subprocess.run([str(BIN), "--log-level", "error"], capture_output=True, text=True, timeout=300,
                               cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "results" / "limit-small" / "bm25.json").is_file()
    assert "| bm25 |" in completed.stdout


def test_help_shows_examples() -> None:
    completed = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0
    assert "Examples:" in completed.stdout
    assert "--dataset" in completed.stdout and "--model" in completed.stdout
