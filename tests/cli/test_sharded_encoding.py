"""Sharded encoding into one vector cache, and concurrent use of that cache (issue 11 item 3, issue 12
section 2), end to end with a tiny exported neural model (tests/tiny_models.py):

- `scripts/encode_sharded.sh --shards 3` runs `limit-eval encode --shard K/3` as 3 processes at
  once on a corpus of 3 cache chunks; each encodes its own chunk, and the evaluation then loads
  every chunk and encodes nothing, with the metrics, per-query values and run file of an
  unsharded, uncached run;
- `encode` without --shard encodes every chunk, and a second time nothing; a shard past the
  corpus's chunks has nothing to do; BM25 and malformed --shard values are refused (exit 2);
- two evaluations of the same model and corpus sharing one empty cache at once, writing the same
  or different output files, never leave a damaged chunk, a temporary or a wrong result.

Chunk files are checked against the layout of include/limit_eval/encode/vector_cache.hpp, read
here independently of limit-eval.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)
from tiny_models import tiny_model  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SCRIPT = SOURCE / "scripts" / "encode_sharded.sh"
LIMIT_SMALL = SOURCE / "data" / "limit-small"
CHUNK_DOCUMENTS = 2048  # kCacheChunkDocuments
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def model() -> Path:
    return tiny_model("distilbert", "relu").exported


def write_dataset(folder: Path, documents: int) -> Path:
    """Short texts keep the encoding quick; ids and texts vary so that the rankings mean something."""
    folder.mkdir(parents=True)
    words = ["apples", "quokkas", "tapirs", "glaciers", "barley", "otters", "jazz", "chess", "kites", "moss"]
    with (folder / "corpus.jsonl").open("w") as corpus:
        for i in range(documents):
            text = f"{words[i % 10]} {words[i // 10 % 10]} {words[i // 100 % 10]}"
            corpus.write(json.dumps({"_id": f"d{i}", "title": "", "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as queries, (folder / "qrels.jsonl").open("w") as qrels:
        for q, word in enumerate(words):
            queries.write(json.dumps({"_id": f"q{q}", "text": f"{word} {words[(q + 3) % 10]}"}) + "\n")
            for d in (q, q + 30, min(q + 3 * CHUNK_DOCUMENTS // 2, documents - 1)):
                qrels.write(json.dumps({"query-id": f"q{q}", "corpus-id": f"d{d}", "score": 1}) + "\n")
    return folder


@pytest.fixture(scope="module")
def three_chunks(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data") / "three-chunks", 2 * CHUNK_DOCUMENTS + 100)


def evaluation(binary: Path, model: Path, dataset: Path, out: Path, *options: str) -> list[str]:
    return [str(binary), "--model", str(model), "--dataset", str(dataset), "--device", "cpu", "--threads", "1",
            "--output", str(out / "results.json"), "--run-file", str(out / "run.trec"), *options]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=TIMEOUT_S, **kwargs)


class Outputs:
    def __init__(self, out: Path):
        self.results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        self.run_file = (out / "run.trec").read_bytes()
        self.cache = self.results["cache"]


def uncached(binary: Path, model: Path, dataset: Path, out: Path) -> Outputs:
    """The unsharded run, without the cache (the same chunks and batches: the same bits)."""
    completed = run(evaluation(binary, model, dataset, out, "--no-cache"))
    assert completed.returncode == 0, completed.stderr
    return Outputs(out)


@pytest.fixture(scope="module")
def reference(binary, model, three_chunks, tmp_path_factory) -> Outputs:
    return uncached(binary, model, three_chunks, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def two_chunks(binary, model, tmp_path_factory) -> tuple[Path, Outputs]:
    """A corpus of two chunks, the second small, and its uncached run."""
    folder = tmp_path_factory.mktemp("two")
    dataset = write_dataset(folder / "two-chunks", CHUNK_DOCUMENTS + 50)
    return dataset, uncached(binary, model, dataset, folder / "reference")


def assert_same_results(got: Outputs, expected: Outputs) -> None:
    assert got.results["metrics"] == expected.results["metrics"]
    assert got.results["per_query"] == expected.results["per_query"]
    assert got.run_file == expected.run_file


def check_chunk(path: Path) -> int:
    """Verifies a chunk file's size and checksum; returns its chunk index."""
    data = path.read_bytes()
    assert data[:8] == b"LIMITVEC", path
    _version, index, first_row, rows, _columns, nnz, _seconds = struct.unpack_from("<IIQIIQd", data, 8)
    assert first_row == index * CHUNK_DOCUMENTS, path
    assert len(data) == 112 + (rows + 1) * 8 + nnz * 8, path
    assert hashlib.sha256(data[:80] + bytes(32) + data[112:]).digest() == data[80:112], f"{path}: checksum"
    return index


def cache_files(cache: Path) -> tuple[list[int], list[str]]:
    """The chunk indices of the cache's one key folder (each verified), and any other file but key.json."""
    [folder] = [path for path in cache.iterdir()]
    chunks = sorted(check_chunk(path) for path in folder.glob("chunk-*.bin"))
    others = sorted(path.name for path in folder.iterdir() if not path.name.startswith("chunk-")
                    and path.name != "key.json")
    others += [path.name for path in folder.glob("chunk-*") if path.suffix != ".bin"]
    return chunks, others


def test_three_shard_processes_fill_the_cache_and_the_evaluation_encodes_nothing(binary, model, three_chunks,
                                                                                 reference, tmp_path):
    cache = tmp_path / "cache"
    completed = run([str(SCRIPT), "--shards", "3", "--", "--model", str(model), "--dataset", str(three_chunks),
                     "--device", "cpu", "--cache-dir", str(cache)], env={**os.environ, "LIMIT_EVAL_BIN": str(binary)})
    assert completed.returncode == 0, completed.stderr
    summaries = [json.loads(line) for line in completed.stdout.splitlines()]
    assert sorted(s["shard"]["index"] for s in summaries) == [1, 2, 3]
    for summary in summaries:
        k = summary["shard"]["index"]
        assert summary["shard"]["count"] == 3
        assert summary["shard"]["chunks"] == {"first": k - 1, "end": k, "of": 3}
        assert summary["cache"]["chunks"] == {"total": 1, "loaded": 0, "encoded": 1}
        assert f"[shard {k}/3] " in completed.stderr
    assert len({s["cache"]["key"] for s in summaries}) == 1
    assert cache_files(cache) == ([0, 1, 2], [])

    out = tmp_path / "evaluation"
    evaluated = run(evaluation(binary, model, three_chunks, out, "--cache-dir", str(cache)))
    assert evaluated.returncode == 0, evaluated.stderr
    results = Outputs(out)
    assert results.cache["status"] == "hit"
    assert results.cache["chunks"] == {"total": 3, "loaded": 3, "encoded": 0}
    assert results.cache["key"] == summaries[0]["cache"]["key"]
    assert "corpus vectors loaded from cache" in evaluated.stderr
    assert_same_results(results, reference)


def test_encode_without_shard_encodes_every_chunk_once(binary, model, tmp_path):
    cache = tmp_path / "cache"
    command = [str(binary), "encode", "--model", str(model), "--dataset", str(LIMIT_SMALL), "--device", "cpu",
               "--cache-dir", str(cache)]
    first = run(command)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["shard"] == {"index": 1, "count": 1, "chunks": {"first": 0, "end": 1, "of": 1},
                                "documents": {"first": 0, "end": 46}}
    assert (summary["cache"]["status"], summary["cache"]["chunks"]["encoded"]) == ("miss", 1)
    again = run(command)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["cache"]["chunks"] == {"total": 1, "loaded": 1, "encoded": 0}
    assert cache_files(cache) == ([0], [])

    # More shards than chunks: the last ones have nothing to do, and succeed.
    idle = run([*command, "--shard", "2/2"])
    assert idle.returncode == 0, idle.stderr
    assert "nothing to encode" in idle.stderr
    assert json.loads(idle.stdout)["shard"]["chunks"] == {"first": 1, "end": 1, "of": 1}


@pytest.mark.parametrize("shard, message", [
    ("0/3", "shards are counted from 1: 1/3 to 3/3"),
    ("4/3", "there is no shard 4 of 3"),
    ("1/0", "N must be from 1"),
    ("3", "is not K/N"),
    ("a/3", "is not K/N"),
    ("-1/3", "is not K/N"),
    ("1/3/3", "is not K/N"),
])
def test_malformed_shards_are_usage_errors(binary, model, tmp_path, shard, message):
    completed = run([str(binary), "encode", "--model", str(model), "--cache-dir", str(tmp_path), "--shard", shard])
    assert completed.returncode == 2, completed.stderr
    assert "--shard" in completed.stderr and message in completed.stderr, completed.stderr
    assert not any(tmp_path.iterdir())


def test_bm25_and_no_cache_are_refused(binary, tmp_path):
    bm25 = run([str(binary), "encode", "--model", "bm25", "--cache-dir", str(tmp_path)])
    assert bm25.returncode == 2
    assert "never cached" in bm25.stderr and "nothing to encode" in bm25.stderr, bm25.stderr
    # The script fails when a shard fails, naming it.
    script = run([str(SCRIPT), "--shards", "2", "--", "--model", "bm25", "--cache-dir", str(tmp_path)],
                 env={**os.environ, "LIMIT_EVAL_BIN": str(binary)})
    assert script.returncode == 1
    assert "2 of 2 shards failed: 1/2 (exit status 2), 2/2 (exit status 2)" in script.stderr, script.stderr
    no_cache = run([str(binary), "encode", "--no-cache"])
    assert no_cache.returncode == 2
    assert "--no-cache" in no_cache.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("outputs", ["same", "different"])
def test_two_processes_sharing_one_cache_never_corrupt_it_or_each_others_results(binary, model, two_chunks,
                                                                                 tmp_path, outputs):
    dataset, reference = two_chunks
    for attempt in range(2):
        cache = tmp_path / f"cache-{attempt}"
        outs = [tmp_path / f"out-{attempt}-{p if outputs == 'different' else 0}" for p in range(2)]
        processes = [subprocess.Popen(evaluation(binary, model, dataset, out, "--cache-dir", str(cache)),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
                     for out in outs]
        for process in processes:
            _, stderr = process.communicate(timeout=TIMEOUT_S)
            assert process.returncode == 0, stderr
            assert "damaged" not in stderr, stderr
        assert cache_files(cache) == ([0, 1], [])
        for out in set(outs):
            assert_same_results(Outputs(out), reference)
            assert sorted(path.name for path in out.iterdir()) == ["results.json", "run.trec"]
