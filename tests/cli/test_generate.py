"""`limit-eval generate`: writes a LIMIT-style BEIR folder whose qrels hold by construction, the same
bytes for the same options and seed, refuses to overwrite, and feeds `limit-eval` directly. A golden
sha256 of a small dataset catches any change in the generator's output."""

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

EXIT_USAGE = 2
EXIT_IO = 4
FILES = ("corpus.jsonl", "queries.jsonl", "qrels.jsonl")
SOURCE_DIR = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))

# `generate --documents 200 --queries 20 --seed 7` with the shipped attribute and names lists. A
# deliberate change of the generator's output updates these (and says so in its commit).
GOLDEN_ARGUMENTS = ["--documents", "200", "--queries", "20", "--seed", "7"]
GOLDEN_SHA256 = {
    "corpus.jsonl": "3b14c11d2303265e63832e55751bb1c78d97bb2a9bdaff54bfcf9f8c106e5cd9",
    "queries.jsonl": "3ede080676aedde17c5c742dfb0a755f58e5855dcd75d9bef1fd5406ff0900bf",
    "qrels.jsonl": "a647ab79367ebd747e78cee2e011a1b45da8c617953f9a8e6896638f74df58f7",
}


def generate(binary: Path, output: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), "generate", "--output", str(output), *arguments],
                          capture_output=True, text=True, timeout=300)


def digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def attribute_lists(corpus: list[dict], known: set[str]) -> dict[str, list[str]]:
    """Each document's attributes, read back from "<id> likes A, B and C." (an attribute may hold
    " and ", as "Fish and Chips" does, so the last two are split where both halves are known)."""
    lists = {}
    for document in corpus:
        prefix = document["_id"] + " likes "
        text = document["text"]
        assert text.startswith(prefix) and text.endswith("."), text
        *head, tail = text[len(prefix):-1].split(", ")
        if not head and tail in known:
            lists[document["_id"]] = [tail]
            continue
        splits = [(tail[:at], tail[at + 5:]) for at in range(len(tail)) if tail.startswith(" and ", at)]
        last_two = [pair for pair in splits if pair[0] in known and pair[1] in known]
        assert last_two, f"cannot split {tail!r}"
        lists[document["_id"]] = head + list(last_two[0])
    return lists


def test_generates_a_limit_style_dataset_with_correct_qrels(binary, tmp_path):
    output = tmp_path / "generated"
    result = generate(binary, output, "--documents", "2000", "--queries", "300", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "2000 documents, 300 queries, 600 judgements" in result.stderr
    assert sorted(path.name for path in output.iterdir()) == sorted(FILES)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["generated"], "temporary folder left behind"

    corpus = read_jsonl(output / "corpus.jsonl")
    queries = read_jsonl(output / "queries.jsonl")
    qrels = read_jsonl(output / "qrels.jsonl")
    assert len(corpus) == 2000 and len(queries) == 300 and len(qrels) == 600
    assert all(list(document) == ["_id", "title", "text"] and document["title"] == "" for document in corpus)
    assert len({document["_id"] for document in corpus}) == 2000

    known = {line.strip() for line in (SOURCE_DIR / "data/limit-attributes.txt").read_text().splitlines()}
    lists = attribute_lists(corpus, known)
    assert all(len(attributes) == 45 == len(set(attributes)) for attributes in lists.values())
    assert all(set(attributes) <= known for attributes in lists.values())
    listing: dict[str, set[str]] = {}
    for document_id, attributes in lists.items():
        for attribute in attributes:
            listing.setdefault(attribute, set()).add(document_id)
    relevant: dict[str, set[str]] = {}
    for judgement in qrels:
        assert judgement["score"] == 1
        relevant.setdefault(judgement["query-id"], set()).add(judgement["corpus-id"])
    for query in queries:
        assert query["text"].startswith("Who likes ") and query["text"].endswith("?")
        attribute = query["text"][len("Who likes "):-1]
        assert relevant[query["_id"]] == listing[attribute], query
        assert len(relevant[query["_id"]]) == 2
    # LIMIT's dense qrels: the 300 queries' relevant pairs are distinct pairs of a pool of 25 documents.
    pairs = {frozenset(documents) for documents in relevant.values()}
    assert len(pairs) == 300
    assert len(set().union(*pairs)) == 25


def test_same_arguments_give_the_same_bytes(binary, tmp_path):
    arguments = ["--documents", "500", "--queries", "40", "--attributes-per-document", "20-50", "--seed", "11"]
    assert generate(binary, tmp_path / "a", *arguments).returncode == 0
    assert generate(binary, tmp_path / "b", *arguments).returncode == 0
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert generate(binary, tmp_path / "c", *arguments[:-1], "12").returncode == 0
    assert (tmp_path / "a/corpus.jsonl").read_bytes() != (tmp_path / "c/corpus.jsonl").read_bytes()


def test_golden_sha256(binary, tmp_path):
    result = generate(binary, tmp_path / "golden", *GOLDEN_ARGUMENTS)
    assert result.returncode == 0, result.stderr
    assert digests(tmp_path / "golden") == GOLDEN_SHA256


def test_refuses_to_overwrite_without_force(binary, tmp_path):
    output = tmp_path / "existing"
    output.mkdir()
    (output / "corpus.jsonl").write_text("old\n")
    (output / "notes.txt").write_text("mine\n")
    result = generate(binary, output, "--documents", "100", "--queries", "10")
    assert result.returncode == EXIT_USAGE
    assert "not empty" in result.stderr and "--force" in result.stderr
    assert (output / "corpus.jsonl").read_text() == "old\n"
    assert not (output / "queries.jsonl").exists()

    result = generate(binary, output, "--documents", "100", "--queries", "10", "--force")
    assert result.returncode == 0, result.stderr
    assert len(read_jsonl(output / "corpus.jsonl")) == 100
    assert (output / "notes.txt").read_text() == "mine\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["existing"]

    empty = tmp_path / "empty"
    empty.mkdir()
    assert generate(binary, empty, "--documents", "100", "--queries", "10").returncode == 0


@pytest.mark.parametrize(
    "arguments, message, status",
    [
        (["--queries", "5000"], "the attribute list has 1848", EXIT_USAGE),
        (["--documents", "40"], "needs at least 46 documents", EXIT_USAGE),
        (["--documents", "0"], "--documents", EXIT_USAGE),
        (["--relevant-per-query", "0"], "--relevant-per-query", EXIT_USAGE),
        (["--attributes-per-document", "50-20"], "MIN is larger than MAX", EXIT_USAGE),
        (["--attributes-per-document", "many"], "--attributes-per-document", EXIT_USAGE),
        (["--queries", "1810"], "lower --attributes-per-document or --queries", EXIT_USAGE),
        (["--attributes", "/nonexistent/attributes.txt"], "/nonexistent/attributes.txt", EXIT_IO),
        (["--names", "/nonexistent/names.txt"], "/nonexistent/names.txt", EXIT_IO),
    ],
)
def test_impossible_requests_fail_before_writing(binary, tmp_path, arguments, message, status):
    result = generate(binary, tmp_path / "out", *arguments)
    assert result.returncode == status, result.stderr
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_bm25_runs_on_a_generated_dataset(binary, tmp_path):
    dataset = tmp_path / "generated"
    assert generate(binary, dataset, "--documents", "3000", "--seed", "5").returncode == 0
    results = tmp_path / "bm25.json"
    run = subprocess.run([str(binary), "--model", "bm25", "--dataset", str(dataset), "--output", str(results)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    report = json.loads(results.read_text())
    assert report["dataset"]["documents"] == 3000 and report["dataset"]["queries"] == 1000
    assert report["dataset"]["qrels_report"]["unknown_docs"] == 0
    assert report["evaluation"]["evaluated_queries"] == 1000
    # BM25 finds most pairs (the LIMIT paper: 85.7 Recall@2 on LIMIT's 50k documents), not all.
    assert 0.5 < report["metrics"]["Recall@2"] < 1.0
    assert report["metrics"]["Recall@100"] > 0.9


def test_small_names_list_gives_middle_initials(binary, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("# two by two\n[first]\nAnn\nBob\n[last]\nLee\nRoe\n")
    output = tmp_path / "out"
    result = generate(binary, output, "--documents", "50", "--queries", "5", "--names", str(names))
    assert result.returncode == 0, result.stderr
    ids = [document["_id"] for document in read_jsonl(output / "corpus.jsonl")]
    assert len(set(ids)) == 50
    shapes = Counter(len(identifier.split(" ")) for identifier in ids)
    assert shapes == {2: 4, 3: 46}
    assert "46 ids with a middle initial" in result.stderr
