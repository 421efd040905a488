"""--dtype auto (issue 11 item 4): on a CPU it resolves to bf16 when the CPU has native bf16 (AMX or
avx512_bf16, read here from /proc/cpuinfo's flags), else fp32. The resolved precision is logged,
recorded in the results JSON next to the requested one, used for the environment's dtype, and is
the one the encoding cache's key holds: an auto run and a run asking for the resolved dtype
explicitly share one cache entry and give the same vectors. The resolution itself, with every
combination of CPU capabilities, CUDA and GTE, is unit-tested in encode_precision_test."""
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


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.skip("/proc/cpuinfo has no flags line")


def expected_auto_dtype() -> str:
    return "bf16" if {"avx512_bf16", "amx_bf16"} & cpu_flags() else "fp32"


def run(model: Path, out: Path, *options: str) -> tuple[dict, str]:
    completed = subprocess.run([BIN, "--model", str(model), "--dataset", str(SOURCE / "data" / "limit-small"),
                                "--device", "cpu", "--output", str(out / "results.json"),
                                "--save-vectors", str(out / "vectors"), *options],
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), completed.stderr


def test_auto_resolves_by_cpu_capability_and_shares_the_resolved_dtypes_cache(tmp_path: Path) -> None:
    model = tiny_model("bert", "relu").exported
    expected = expected_auto_dtype()
    cache = tmp_path / "cache"
    auto, log = run(model, tmp_path / "auto", "--dtype", "auto", "--cache-dir", str(cache))
    document = auto["model"]["description"]["document_encoder"]
    assert (document["dtype"], document["dtype_requested"]) == (expected, "auto")
    assert auto["environment"]["dtype"] == expected
    assert f"--dtype auto: {expected} on cpu (" in log
    assert ("AMX" in log or "avx512_bf16" in log) if expected == "bf16" else ("no native bf16" in log)
    assert auto["cache"]["status"] == "miss"

    explicit, log = run(model, tmp_path / "explicit", "--dtype", expected, "--cache-dir", str(cache))
    document = explicit["model"]["description"]["document_encoder"]
    assert (document["dtype"], document["dtype_requested"]) == (expected, expected)
    assert "--dtype auto" not in log
    assert explicit["cache"]["status"] == "hit" and explicit["cache"]["key"] == auto["cache"]["key"]
    assert explicit["metrics"] == auto["metrics"]
    assert ((tmp_path / "auto" / "vectors" / "corpus.jsonl").read_bytes()
            == (tmp_path / "explicit" / "vectors" / "corpus.jsonl").read_bytes())


def test_unknown_dtype_is_a_usage_error(tmp_path: Path) -> None:
    completed = subprocess.run([BIN, "--model", "bm25", "--dataset", str(SOURCE / "data" / "limit-small"),
                                "--dtype", "fp8", "--output", str(tmp_path / "r.json")],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2, completed.stderr
    assert "--dtype" in completed.stderr and "auto" in completed.stderr
    assert not (tmp_path / "r.json").exists()
