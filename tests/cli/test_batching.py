"""Batch formation does not change what limit-eval computes: the same tiny model's document
vectors and metrics with one document per batch, the default 32, and batches bounded by a token
budget (--max-batch-tokens), which mixes batch sizes within one run. Floats may differ in the last
bits between batch shapes (other GEMM blocking), so vectors agree to 1e-5 of each row's largest
weight and metrics to 1e-6; the token budget is recorded in the results and in the cache key."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import tiny_model  # noqa: E402

BIN = os.environ.get("LIMIT_EVAL_BIN")
SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
pytestmark = pytest.mark.skipif(not BIN, reason="LIMIT_EVAL_BIN not set")


def run(model: Path, out: Path, *options: str) -> dict:
    completed = subprocess.run([BIN, "--model", str(model), "--dataset", str(SOURCE / "data" / "limit-small"),
                                "--device", "cpu", "--no-cache", "--output", str(out / "results.json"),
                                "--save-vectors", str(out / "vectors"), "--log-level", "warn", *options],
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    with open(out / "vectors" / "corpus.jsonl", encoding="utf-8") as stream:
        vectors = {row["_id"]: row["vector"] for row in map(json.loads, stream)}
    return {"results": json.loads((out / "results.json").read_text()), "vectors": vectors}


@pytest.fixture(scope="module")
def model() -> Path:
    return tiny_model("bert", "relu").exported


def assert_same(a: dict, b: dict) -> None:
    assert a["vectors"].keys() == b["vectors"].keys()
    for doc_id, va in a["vectors"].items():
        vb = b["vectors"][doc_id]
        scale = max(abs(v) for v in va.values())
        for token in set(va) | set(vb):
            assert abs(va.get(token, 0.0) - vb.get(token, 0.0)) <= 1e-5 * scale, (doc_id, token)
    for name, value in a["results"]["metrics"].items():
        assert abs(value - b["results"]["metrics"][name]) <= 1e-6, name


def test_token_budget_and_batch_sizes_give_the_same_vectors(model: Path, tmp_path: Path) -> None:
    default = run(model, tmp_path / "default")
    single = run(model, tmp_path / "single", "--batch-size", "1")
    budget = run(model, tmp_path / "budget", "--batch-size", "512", "--max-batch-tokens", "700")
    assert_same(default, single)
    assert_same(default, budget)
    described = budget["results"]["model"]["description"]["document_encoder"]
    assert described["max_batch_tokens"] == 700 and described["batch_size"] == 512
    assert default["results"]["model"]["description"]["document_encoder"]["max_batch_tokens"] == 0


def test_token_budget_is_part_of_the_cache_key(model: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    def cached(*options: str) -> dict:
        out = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        completed = subprocess.run([BIN, "--model", str(model), "--dataset", str(SOURCE / "data" / "limit-small"),
                                    "--device", "cpu", "--cache-dir", str(cache), "--output", str(out / "r.json"),
                                    "--log-level", "warn", *options], capture_output=True, text=True, timeout=900)
        assert completed.returncode == 0, completed.stderr[-3000:]
        return json.loads((out / "r.json").read_text())["cache"]
    first = cached("--max-batch-tokens", "700")
    again = cached("--max-batch-tokens", "700")
    other = cached("--max-batch-tokens", "900")
    assert first["key"] == again["key"] != other["key"], (first, again, other)
