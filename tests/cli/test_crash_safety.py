"""A limit-eval run killed (SIGKILL) while it writes its outputs never leaves a partial or corrupt file
under a final name, and the next run into the same place completes with the same results.

- fault injection: LIMIT_EVAL_CRASH_AT=N makes the run kill itself at the Nth point of its file
  writers (four per file: temporary created, temporary half written, complete but not renamed,
  renamed), for every N up to the first run that is not killed;
- random kills: runs killed from outside after seeded random delays over their whole length.
After each kill every output under its final name is the reference run's (the results JSON: same
metrics and per-query values), and a rerun succeeds with the reference's outputs and leaves no
temporary behind. BM25 on LIMIT-small writes the results JSON, a run file and two vector files.
A neural model (the TorchScript stand-in of tests/stand_ins.py) on a corpus of two cache chunks
writes the vector cache: `limit-eval encode` killed at each of its cache write points, and evaluation
runs killed at random while they encode and store chunks; every chunk under its final name is then
whole (its checksum) and holds the uninterrupted run's vectors, and the next evaluation reads it from
the cache and gives the uninterrupted run's results. `generate` killed at each write point leaves no
dataset folder or the whole one. The cache's chunk writer is also killed at every point with a fake
encoder by encode_vector_cache_test (KilledAtEveryWritePointLeavesOnlyCompleteFiles). About 40 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
OUTPUTS = ["results.json", "run.trec", "vectors/corpus.jsonl", "vectors/queries.jsonl"]
WRITE_POINTS_PER_FILE = 4


def command(binary: Path, out: Path) -> list[str]:
    return [str(binary), "--dataset", str(SOURCE / "data" / "limit-small"), "--threads", "1", "--output",
            str(out / "results.json"), "--run-file", str(out / "run.trec"), "--save-vectors", str(out / "vectors")]


def run_command(arguments: list[str], crash_at: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    env.pop("LIMIT_EVAL_CRASH_AT", None)
    if crash_at is not None:
        env["LIMIT_EVAL_CRASH_AT"] = str(crash_at)
    return subprocess.run(arguments, capture_output=True, text=True, timeout=120, env=env)


def run(binary: Path, out: Path, crash_at: int | None = None) -> subprocess.CompletedProcess:
    return run_command(command(binary, out), crash_at)


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


def check_complete_outputs(out: Path, reference: dict[str, object], what: str) -> None:
    for name, value in outputs(out).items():
        assert value == reference[name], f"{what}: {name} is not the complete file"


def check_after_kill(binary: Path, out: Path, reference: dict[str, object], what: str) -> None:
    check_complete_outputs(out, reference, what)
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
    arguments = command(binary, Path("{out}"))
    for attempt, out in killed_after_random_delays(arguments, duration, attempts=8, seed=12, out=tmp_path):
        check_after_kill(binary, out, reference, f"killed at random (attempt {attempt})")


def killed_after_random_delays(arguments: list[str], duration: float, attempts: int, seed: int, out: Path):
    """Yields the folder of each attempt after its run, started in it, was killed after a random delay."""
    rng = random.Random(seed)
    for attempt in range(attempts):
        folder = out / f"attempt-{attempt}"
        folder.mkdir(parents=True)
        process = subprocess.Popen([part.replace("{out}", str(folder)) for part in arguments],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, duration))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        yield attempt, folder


# Neural encoding into the vector cache.

CHUNK_HEADER_BYTES = 112
CHUNK_SECONDS = slice(40, 48)    # the encoding time, which differs between runs
CHUNK_CHECKSUM = slice(80, 112)  # SHA-256 of the file with these bytes zeroed


@pytest.fixture(scope="module")
def neural(tmp_path_factory):
    from stand_in_models import SparseStandInMlm, make_model  # noqa: PLC0415  (imports torch)
    from stand_ins import CHUNK_DOCUMENTS, write_chunked_dataset  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("neural")
    return (make_model(folder / "model", module=SparseStandInMlm()),
            write_chunked_dataset(folder / "dataset", CHUNK_DOCUMENTS + 30))


def neural_command(binary: Path, neural, out: str, cache: str) -> list[str]:
    model, dataset = neural
    return [str(binary), "--model", str(model), "--dataset", str(dataset), "--device", "cpu", "--threads", "1",
            "--cache-dir", cache, "--output", f"{out}/results.json", "--run-file", f"{out}/run.trec",
            "--save-vectors", f"{out}/vectors"]


def encode_command(binary: Path, neural, cache: Path) -> list[str]:
    model, dataset = neural
    return [str(binary), "encode", "--model", str(model), "--dataset", str(dataset), "--device", "cpu",
            "--threads", "1", "--cache-dir", str(cache)]


def cache_files(cache: Path) -> dict[str, bytes]:
    """The cache's files under their final names (key.json and chunks), by name."""
    return {path.name: path.read_bytes() for path in cache.rglob("*") if path.is_file() and ".tmp." not in path.name}


def check_cache(cache: Path, reference: dict[str, bytes], what: str) -> int:
    """Every file under a final name is whole and holds the reference's contents; returns the chunks."""
    chunks = 0
    for name, data in cache_files(cache).items():
        assert name in reference, f"{what}: unexpected {name}"
        if not name.startswith("chunk-"):
            assert data == reference[name], f"{what}: {name} is not the complete file"
            continue
        zeroed = data[:CHUNK_CHECKSUM.start] + bytes(32) + data[CHUNK_CHECKSUM.stop:]
        assert hashlib.sha256(zeroed).digest() == data[CHUNK_CHECKSUM], f"{what}: {name} fails its checksum"
        expected = reference[name]
        assert (data[:CHUNK_SECONDS.start], data[CHUNK_SECONDS.stop:CHUNK_CHECKSUM.start], data[CHUNK_HEADER_BYTES:]) == (
            expected[:CHUNK_SECONDS.start], expected[CHUNK_SECONDS.stop:CHUNK_CHECKSUM.start],
            expected[CHUNK_HEADER_BYTES:]), f"{what}: {name} holds other vectors than the uninterrupted run's"
        chunks += 1
    return chunks


def check_next_evaluation(binary: Path, neural, out: Path, cache: Path, complete_chunks: int,
                          reference: dict[str, object], what: str) -> None:
    """The next evaluation into `out` with the cache reads the whole chunks, encodes the rest, and gives
    the uninterrupted run's results; no temporary is left in the cache or in `out`."""
    rerun = run_command(neural_command(binary, neural, str(out), str(cache)))
    assert rerun.returncode == 0, f"{what}: the next run failed:\n{rerun.stderr}"
    report = json.loads((out / "results.json").read_text(encoding="utf-8"))["cache"]
    assert report["status"] in ("hit", "miss", "resumed"), f"{what}: cache {report['status']}\n{rerun.stderr}"
    assert report["chunks"]["loaded"] == complete_chunks, f"{what}: {report}"
    assert outputs(out) == reference, f"{what}: the next run's results differ"
    assert temporaries(cache) == [] and temporaries(out) == [], f"{what}: temporaries left behind"


@pytest.fixture(scope="module")
def neural_reference(binary, neural, tmp_path_factory):
    """An uninterrupted evaluation: its outputs, its cache's files, and how long it took."""
    out = tmp_path_factory.mktemp("neural-reference")
    start = time.monotonic()
    completed = run_command(neural_command(binary, neural, str(out), str(out / "cache")))
    duration = time.monotonic() - start
    assert completed.returncode == 0, completed.stderr
    files = cache_files(out / "cache")
    assert sorted(files) == ["chunk-000000.bin", "chunk-000001.bin", "key.json"]
    reference = outputs(out)
    assert set(reference) == set(OUTPUTS)
    return reference, files, duration


def test_neural_encoding_killed_at_every_cache_write_point(binary, neural, neural_reference, tmp_path):
    reference, reference_files, _ = neural_reference
    point = 1
    while True:
        cache = tmp_path / f"point-{point}" / "cache"
        completed = run_command(encode_command(binary, neural, cache), crash_at=point)
        if completed.returncode == 0:
            break
        assert completed.returncode == -signal.SIGKILL, f"point {point}: exit {completed.returncode}\n{completed.stderr}"
        what = f"encode killed at write point {point}"
        complete_chunks = check_cache(cache, reference_files, what)
        check_next_evaluation(binary, neural, cache.parent / "outputs", cache, complete_chunks, reference, what)
        point += 1
    assert point == len(reference_files) * WRITE_POINTS_PER_FILE + 1, "a cache writer did not pass its four points"


def test_neural_evaluation_killed_after_random_delays(binary, neural, neural_reference, tmp_path):
    reference, reference_files, duration = neural_reference
    arguments = neural_command(binary, neural, "{out}/outputs", "{out}/cache")
    for attempt, folder in killed_after_random_delays(arguments, duration, attempts=4, seed=21, out=tmp_path):
        what = f"evaluation killed at random (attempt {attempt})"
        check_complete_outputs(folder / "outputs", reference, what)
        complete_chunks = check_cache(folder / "cache", reference_files, what)
        check_next_evaluation(binary, neural, folder / "outputs", folder / "cache", complete_chunks, reference, what)


# generate: the dataset folder appears whole or not at all.

GENERATE_ARGUMENTS = ["--documents", "200", "--queries", "20", "--seed", "7"]
DATASET_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.jsonl")


def test_generate_killed_at_every_write_point(binary, tmp_path):
    def generate(out: Path, crash_at: int | None = None) -> subprocess.CompletedProcess:
        return run_command([str(binary), "generate", "--output", str(out), *GENERATE_ARGUMENTS], crash_at)

    assert generate(tmp_path / "reference").returncode == 0
    reference = {name: (tmp_path / "reference" / name).read_bytes() for name in DATASET_FILES}
    point = 1
    while True:
        parent = tmp_path / f"point-{point}"
        parent.mkdir()
        completed = generate(parent / "dataset", crash_at=point)
        if completed.returncode == 0:
            break
        assert completed.returncode == -signal.SIGKILL, f"point {point}: exit {completed.returncode}\n{completed.stderr}"
        assert not (parent / "dataset").exists(), f"point {point}: a dataset folder before all its files were written"
        rerun = generate(parent / "dataset")
        assert rerun.returncode == 0, f"point {point}: the next run failed:\n{rerun.stderr}"
        assert {name: (parent / "dataset" / name).read_bytes() for name in DATASET_FILES} == reference
        assert [p.name for p in parent.iterdir()] == ["dataset"], f"point {point}: temporaries left behind"
        point += 1
    assert point == len(DATASET_FILES) * WRITE_POINTS_PER_FILE + 1, "a writer did not pass its four points"
