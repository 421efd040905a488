"""limit-eval's encoded-corpus cache, end to end with a tiny exported neural model (tests/tiny_models.py).

- a second run of the same model on the same corpus loads the corpus vectors from the cache (log
  line, `cache.status` hit, the original encoding time kept) and gives identical metrics, run file
  and vectors;
- a damaged chunk file is named in a warning and rebuilt (`cache.status` rebuilt), same results;
- a corpus of two chunks whose second chunk is missing resumes with that chunk only;
- `--no-cache` writes nothing; BM25 is never cached; an unusable cache folder is a warning;
- `$LIMIT_EVAL_CACHE_DIR` is the default cache folder.
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
from stand_ins import CHUNK_DOCUMENTS, write_chunked_dataset  # noqa: E402
from tiny_models import tiny_model  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
LIMIT_SMALL = SOURCE / "data" / "limit-small"


@pytest.fixture(scope="module")
def model() -> Path:
    return tiny_model("distilbert", "relu").exported


class Run:
    """One limit-eval run writing its outputs into `out`."""

    def __init__(self, binary: Path, model: Path | str, dataset: Path, out: Path, *options: str,
                 env: dict[str, str] | None = None):
        out.mkdir(parents=True, exist_ok=True)
        self.results_path = out / "results.json"
        self.run_file = out / "run.trec"
        self.vectors = out / "vectors"
        self.process = subprocess.run(
            [str(binary), "--model", str(model), "--dataset", str(dataset), "--device", "cpu",
             "--output", str(self.results_path), "--run-file", str(self.run_file), "--save-vectors",
             str(self.vectors), *options],
            capture_output=True, text=True, errors="replace", timeout=900,
            env={**os.environ, "LIMIT_EVAL_CACHE_DIR": str(out / "unused-default-cache"), **(env or {})})
        self.stderr = self.process.stderr
        assert self.process.returncode == 0, self.stderr
        self.results = json.loads(self.results_path.read_text(encoding="utf-8"))
        self.cache = self.results["cache"]


def chunk_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("chunk-*.bin"))


def assert_same_results(a: Run, b: Run) -> None:
    assert a.results["metrics"] == b.results["metrics"]
    assert a.results["per_query"] == b.results["per_query"]
    assert a.run_file.read_bytes() == b.run_file.read_bytes()
    assert (a.vectors / "corpus.jsonl").read_bytes() == (b.vectors / "corpus.jsonl").read_bytes()


def test_second_run_loads_the_corpus_vectors_from_the_cache(binary, model, tmp_path):
    cache = tmp_path / "cache"
    first = Run(binary, model, LIMIT_SMALL, tmp_path / "first", "--cache-dir", str(cache))
    assert first.cache["status"] == "miss"
    assert "corpus vectors not cached yet" in first.stderr
    assert first.cache["chunks"] == {"total": 1, "loaded": 0, "encoded": 1}
    assert "corpus_encoding_cached" not in first.results["timings_s"]
    [chunk] = chunk_files(cache)
    assert Path(first.cache["path"]) == chunk.parent
    assert chunk.parent.parent == cache
    key = json.loads((chunk.parent / "key.json").read_text())
    assert key["model"]["name"] == "tiny-distilbert-relu" and "manifest_sha256" in key["model"]
    assert key["corpus"]["documents"] == 46
    assert (key["dtype"], key["device_type"], key["batch_size"]) == ("fp32", "cpu", 32)

    second = Run(binary, model, LIMIT_SMALL, tmp_path / "second", "--cache-dir", str(cache))
    assert second.cache["status"] == "hit"
    assert "corpus vectors loaded from cache " + first.cache["path"] in second.stderr
    assert second.cache["chunks"] == {"total": 1, "loaded": 1, "encoded": 0}
    assert second.cache["key"] == first.cache["key"]
    assert_same_results(first, second)
    # The original encoding time survives; the measured one is the load.
    timings = second.results["timings_s"]
    assert timings["corpus_encoding_cached"] == first.cache["encode_seconds"]
    assert timings["corpus_encoding"] < timings["corpus_encoding_cached"]
    assert f"{timings['corpus_encoding_cached']:.4f} |" in second.process.stdout  # the table shows it

    # Another batch size changes the last bits of fp32 results: another key.
    third = Run(binary, model, LIMIT_SMALL, tmp_path / "third", "--cache-dir", str(cache), "--batch-size", "8")
    assert third.cache["status"] == "miss"
    assert len(chunk_files(cache)) == 2


@pytest.mark.parametrize("damage", ["flip_payload_byte", "truncate", "bad_magic"])
def test_damaged_chunk_is_reported_and_rebuilt(binary, model, tmp_path, damage):
    cache = tmp_path / "cache"
    first = Run(binary, model, LIMIT_SMALL, tmp_path / "first", "--cache-dir", str(cache))
    [chunk] = chunk_files(cache)
    data = bytearray(chunk.read_bytes())
    if damage == "flip_payload_byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncate":
        del data[-100:]
    else:
        data[0:8] = b"NOTACHNK"
    chunk.write_bytes(bytes(data))

    second = Run(binary, model, LIMIT_SMALL, tmp_path / "second", "--cache-dir", str(cache))
    assert second.cache["status"] == "rebuilt"
    assert second.cache["damaged_files"] == [str(chunk)]
    warnings = [line for line in second.stderr.splitlines() if "[warning]" in line]
    assert any(str(chunk) in line and "damaged cache file" in line for line in warnings), second.stderr
    assert_same_results(first, second)

    if damage == "flip_payload_byte":
        third = Run(binary, model, LIMIT_SMALL, tmp_path / "third", "--cache-dir", str(cache))
        assert third.cache["status"] == "hit"
        assert_same_results(first, third)


def test_missing_chunk_is_resumed(binary, model, tmp_path):
    dataset = write_chunked_dataset(tmp_path / "dataset", CHUNK_DOCUMENTS + 30)
    cache = tmp_path / "cache"
    first = Run(binary, model, dataset, tmp_path / "first", "--cache-dir", str(cache))
    assert first.cache["status"] == "miss"
    assert first.cache["chunks"] == {"total": 2, "loaded": 0, "encoded": 2}
    first_chunk, second_chunk = chunk_files(cache)
    second_chunk.unlink()  # as if the first run had been stopped during the second chunk

    resumed = Run(binary, model, dataset, tmp_path / "resumed", "--cache-dir", str(cache))
    assert resumed.cache["status"] == "resumed"
    assert "resuming: 1 of 2 chunks cached" in resumed.stderr
    assert resumed.cache["chunks"] == {"total": 2, "loaded": 1, "encoded": 1}
    assert second_chunk.is_file()
    assert_same_results(first, resumed)
    # The whole corpus's encoding time: the first chunk's, recorded by the first run, and the second's.
    assert resumed.results["timings_s"]["corpus_encoding_cached"] == pytest.approx(
        resumed.cache["cached_encode_seconds"] + resumed.cache["encode_seconds"])
    assert 0 < resumed.cache["cached_encode_seconds"] < first.cache["encode_seconds"]

    # The same chunks are encoded without the cache: the vectors are bit-identical.
    uncached = Run(binary, model, dataset, tmp_path / "uncached", "--no-cache")
    assert uncached.cache["status"] == "disabled"
    assert_same_results(first, uncached)


def test_no_cache_writes_nothing(binary, model, tmp_path):
    cache = tmp_path / "cache"
    for name in ("first", "second"):
        run = Run(binary, model, LIMIT_SMALL, tmp_path / name, "--no-cache", env={"LIMIT_EVAL_CACHE_DIR": str(cache)})
        assert (run.cache["status"], run.cache["reason"]) == ("disabled", "disabled by --no-cache")
        assert "path" not in run.cache and "key" not in run.cache
        assert "corpus_encoding_cached" not in run.results["timings_s"]
    assert not cache.exists()


def test_no_cache_and_cache_dir_exclude_each_other(binary, model, tmp_path):
    completed = subprocess.run([str(binary), "--model", str(model), "--no-cache", "--cache-dir", str(tmp_path)],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "--cache-dir" in completed.stderr


def test_cache_dir_defaults_to_the_environment_variable(binary, model, tmp_path):
    cache = tmp_path / "env-cache"
    first = Run(binary, model, LIMIT_SMALL, tmp_path / "first", env={"LIMIT_EVAL_CACHE_DIR": str(cache)})
    assert Path(first.cache["path"]).parent == cache
    assert len(chunk_files(cache)) == 1
    second = Run(binary, model, LIMIT_SMALL, tmp_path / "second", env={"LIMIT_EVAL_CACHE_DIR": str(cache)})
    assert second.cache["status"] == "hit"


def test_bm25_is_never_cached(binary, tmp_path):
    cache = tmp_path / "cache"
    run = Run(binary, "bm25", LIMIT_SMALL, tmp_path / "out", "--cache-dir", str(cache))
    assert run.cache["status"] == "disabled"
    assert "depend on the whole corpus" in run.cache["reason"]
    assert not cache.exists()


def test_unusable_cache_folder_is_a_warning(binary, model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = Run(binary, model, LIMIT_SMALL, tmp_path / "out", "--cache-dir", str(blocker / "cache"))
    assert run.cache["status"] == "disabled"
    assert "cannot create" in run.cache["reason"]
    assert any("[warning]" in line and "will not be stored" in line for line in run.stderr.splitlines()), run.stderr
