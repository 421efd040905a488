"""bench/cpu_variants.py, the interleaved CPU-time comparison behind bench/README.md's "CPU encoding:
what was tried", runs on a tiny exported model: every variant prints its CPU and wall seconds, the
GEMM probe its rate, and an unknown variant is refused."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import tiny_model  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "cpu_variants.py"


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=600)


def test_forward_variants_and_decoder_blocks() -> None:
    model = tiny_model("bert", "relu")
    completed = run("--export", str(model.exported), "--st", str(model.source), "--rounds", "1",
                    "--variants", "gemm,st,base,freeze,base-bf16")
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = {line.split(":")[0]: line for line in completed.stdout.splitlines()}
    assert set(lines) == {"gemm", "st", "base", "freeze", "base-bf16"}, completed.stdout
    for line in lines.values():
        assert float(re.search(r"CPU s median ([0-9.]+)", line).group(1)) > 0, line
    assert float(re.search(r"([0-9.]+) GFLOP per CPU-second", lines["gemm"]).group(1)) > 0
    assert "46 documents, 7386 tokens, 2 batches" in completed.stderr

    completed = run("--decoder-rows", "320,160", "--decoder-positions", "320", "--rounds", "1")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert [line.split(":")[0] for line in completed.stdout.splitlines()] == ["decoder rows 320", "decoder rows 160"]


def test_unknown_variant_is_refused() -> None:
    completed = run("--export", str(tiny_model("bert", "relu").exported), "--variants", "nonsense")
    assert completed.returncode != 0 and "unknown variant nonsense" in completed.stderr
