"""`limit-eval build-train-set`: the seed's training set (DESIGN.md §5) as a BEIR folder: the same
bytes for the same arguments at any thread count, no LIMIT test attribute anywhere, judged documents
that list their query's attribute, the default folder that `--dataset limit-train` resolves, and
impossible requests refused before anything is written. A golden sha256 catches any change."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE_DIR = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
FILES = ("corpus.jsonl", "queries.jsonl", "qrels.jsonl")
SMALL = ["--documents", "500", "--queries", "50"]
GOLDEN_SHA256 = {  # build-train-set --documents 500 --queries 50 (seed 42, shipped lists)
    "corpus.jsonl": "697f404fed54ed84a1782c47fba283acd9d774d7d7147f07fedba055b907a217",
    "queries.jsonl": "33c50651c28b765ab4d0e4e288371c19e02b056cdf6303a4d6aedcdbc9b64f4a",
    "qrels.jsonl": "90c2590ca2f369e34b107a1cd619d3596e30b317895fbc77ab8ec62c9f57e99f",
}


def build(binary: Path, *arguments: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), "build-train-set", "--log-level", "warn", *arguments], capture_output=True,
                          text=True, timeout=300, env=env)


def digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_same_bytes_at_any_thread_count_and_golden(binary, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert build(binary, "--output", str(one), *SMALL, "--threads", "1").returncode == 0
    assert build(binary, "--output", str(two), *SMALL, "--threads", "2").returncode == 0
    assert digests(one) == digests(two) == GOLDEN_SHA256


def test_seed_sized_set_avoids_test_attributes_and_judgements_hold(binary, tmp_path):
    folder = tmp_path / "train"
    completed = build(binary, "--output", str(folder))
    assert completed.returncode == 0, completed.stderr
    corpus, queries, qrels = (read_jsonl(folder / name) for name in FILES)
    assert (len(corpus), len(queries), len(qrels)) == (50000, 850, 1700)
    test_attributes = {q["text"][len("Who likes "):-1] for q in read_jsonl(SOURCE_DIR / "data/limit/queries.jsonl")}
    listed = {}
    for document in corpus:
        name_end = document["text"].index(" likes ")
        attributes = document["text"][name_end + len(" likes "):-1].split(", ")
        assert 5 <= len(attributes) <= 15 and len(set(attributes)) == len(attributes)
        assert not test_attributes & set(attributes), document
        listed[document["_id"]] = set(attributes)
    asked = {q["_id"]: q["text"][len("Who likes "):-1] for q in queries}
    assert not test_attributes & set(asked.values())
    assert len(set(asked.values())) == 850
    for judgement in qrels:
        assert judgement["score"] == 1
        assert asked[judgement["query-id"]] in listed[judgement["corpus-id"]], judgement


def test_default_folder_is_the_dataset_limit_train(binary, tmp_path):
    env = {**os.environ, "LIMIT_EVAL_DATA_ROOT": str(tmp_path)}
    assert build(binary, *SMALL, env=env).returncode == 0
    assert digests(tmp_path / "limit-train") == GOLDEN_SHA256
    completed = subprocess.run([str(binary), "--model", "bm25", "--dataset", "limit-train", "--output",
                                str(tmp_path / "bm25.json"), "--no-cache", "--log-level", "warn"],
                               capture_output=True, text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr
    assert json.loads((tmp_path / "bm25.json").read_text())["dataset"]["name"] == "limit-train"


def test_impossible_requests_write_nothing(binary, tmp_path):
    for arguments in (["--relevant-per-query", "600", *SMALL], ["--attributes-per-document", "5-900"],
                      ["--documents", "2", "--relevant-per-query", "3"]):
        folder = tmp_path / "refused"
        completed = build(binary, "--output", str(folder), *arguments)
        assert completed.returncode == 2, (arguments, completed.stderr)
        assert not folder.exists()
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("x")
    assert build(binary, "--output", str(occupied), *SMALL).returncode == 2
    assert sorted(p.name for p in occupied.iterdir()) == ["keep.txt"]
