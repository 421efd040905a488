"""A limit-eval run killed (SIGKILL) while it writes its outputs never leaves a partial or corrupt file
under a final name, and the next run into the same place completes with the same results.

- fault injection: LIMIT_EVAL_CRASH_AT=N makes the run kill itself at the Nth point of its file
  writers (four per file: temporary created, temporary half written, complete but not renamed,
  renamed), for every N up to the first run that is not killed;
- random kills: runs killed from outside after seeded random delays over their whole length.
After each kill every output under its final name is the reference run's (the results JSON: same
metrics and per-query values), and a rerun succeeds with the reference's outputs and leaves no
temporary behind. BM25 on LIMIT-small writes the results JSON, a run file and two vector files; the
vector cache's chunk files are killed at every point by encode_vector_cache_test
(KilledAtEveryWritePointLeavesOnlyCompleteFiles). About 15 s.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
OUTPUTS = ["results.json", "run.trec", "vectors/corpus.jsonl", "vectors/queries.jsonl"]
WRITE_POINTS_PER_FILE = 4


def command(binary: Path, out: Path) -> list[str]:
    return [str(binary), "--dataset", str(SOURCE / "data" / "limit-small"), "--threads", "1", "--output",
            str(out / "results.json"), "--run-file", str(out / "run.trec"), "--save-vectors", str(out / "vectors")]


def run(binary: Path, out: Path, crash_at: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("LIMIT_EVAL_CRASH_AT", None)
    if crash_at is not None:
        env["LIMIT_EVAL_CRASH_AT"] = str(crash_at)
    return subprocess.run(command(binary, out), capture_output=True, text=True, timeout=120, env=env)


def outputs(out: Path) -> dict[str, object]:
    """The outputs under their final names; the results JSON as what must not change between runs."""
    found: dict[str, object] = {}
    for name in OUTPUTS:
        path = out / name
        if not path.exists():
            continue
        if name == "results.json":
            results = json.loads(path.read_text(encoding="utf-8"))  # fails on a partial file
            found[name] = (results["metrics"], results["per_query"])
        else:
            found[name] = path.read_bytes()
    return found


def temporaries(out: Path) -> list[str]:
    return [str(p.relative_to(out)) for p in out.rglob("*") if ".tmp." in p.name]


def check_after_kill(binary: Path, out: Path, reference: dict[str, object], what: str) -> None:
    for name, value in outputs(out).items():
        assert value == reference[name], f"{what}: {name} is not the complete file"
    rerun = run(binary, out)
    assert rerun.returncode == 0, f"{what}: the next run failed:\n{rerun.stderr}"
    assert outputs(out) == reference, f"{what}: the next run's outputs differ"
    assert temporaries(out) == [], f"{what}: temporaries left behind"


def test_killed_at_every_write_point(binary, tmp_path):
    reference_run = run(binary, tmp_path / "reference")
    assert reference_run.returncode == 0, reference_run.stderr
    reference = outputs(tmp_path / "reference")
    assert set(reference) == set(OUTPUTS)

    point = 1
    while True:
        out = tmp_path / f"point-{point}"
        completed = run(binary, out, crash_at=point)
        if completed.returncode == 0:
            break
        assert completed.returncode == -signal.SIGKILL, f"point {point}: exit {completed.returncode}\n{completed.stderr}"
        check_after_kill(binary, out, reference, f"killed at write point {point}")
        point += 1
    assert point == len(OUTPUTS) * WRITE_POINTS_PER_FILE + 1, "a writer did not pass its four points"


def test_killed_after_random_delays(binary, tmp_path):
    reference_out = tmp_path / "reference"
    start = time.monotonic()
    assert run(binary, reference_out).returncode == 0
    duration = time.monotonic() - start
    reference = outputs(reference_out)
    rng = random.Random(12)
    for attempt in range(8):
        out = tmp_path / f"attempt-{attempt}"
        process = subprocess.Popen(command(binary, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, duration))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        check_after_kill(binary, out, reference, f"killed at random (attempt {attempt})")
