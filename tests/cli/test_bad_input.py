"""limit-eval on invalid datasets: the error names the file and the line (or id), the exit status
says what kind of error it is (3 invalid data, 4 file error), and no output file is left behind.
Qrels naming unknown queries/documents are not an error: the counts are reported."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

EXIT_DATA = 3
EXIT_IO = 4

SOURCE_DIR = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))


def jsonl(*records: dict) -> bytes:
    return b"".join(json.dumps(record).encode() + b"\n" for record in records)


VALID_CORPUS = jsonl(
    {"_id": "d1", "title": "", "text": "Alice likes quokkas and tapirs."},
    {"_id": "d2", "title": "", "text": "Bob likes otters and pangolins."},
    {"_id": "d3", "title": "", "text": "Carol likes glaciers and barley."},
)
VALID_QUERIES = jsonl(
    {"_id": "q1", "text": "Who likes quokkas?"},
    {"_id": "q2", "text": "Who likes otters?"},
)
VALID_QRELS = jsonl(
    {"query-id": "q1", "corpus-id": "d1", "score": 1},
    {"query-id": "q2", "corpus-id": "d2", "score": 1},
)
TSV_HEADER = b"query-id\tcorpus-id\tscore\n"


def make_dataset(folder: Path, files: dict[str, bytes | None]) -> Path:
    """A valid dataset in `folder`, with `files` replacing (bytes) or removing (None) some files."""
    contents: dict[str, bytes | None] = {
        "corpus.jsonl": VALID_CORPUS,
        "queries.jsonl": VALID_QUERIES,
        "qrels.jsonl": VALID_QRELS,
    }
    contents.update(files)
    for name, data in contents.items():
        if data is not None:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    return folder


def all_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


class Run:
    def __init__(self, binary: Path, dataset: str | Path, out: Path, cwd: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.results = out / "results.json"
        self.run_file = out / "run.trec"
        self.out = out
        self.process = subprocess.run(
            [str(binary), "--model", "bm25", "--dataset", str(dataset), "--output", str(self.results),
             "--run-file", str(self.run_file)],
            cwd=cwd, capture_output=True, text=True, errors="replace", timeout=300,
        )
        self.stderr = self.process.stderr
        self.returncode = self.process.returncode

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stderr ---\n{self.stderr}\n--- stdout ---\n{self.process.stdout}"


def assert_failed_cleanly(run: Run, dataset: Path, files_before: set[str], exit_status: int,
                          message_parts: list[str]) -> None:
    assert run.returncode == exit_status, run.describe()
    for part in message_parts:
        assert part in run.stderr, f"{part!r} not in stderr\n{run.describe()}"
    assert not run.results.exists() and not run.run_file.exists(), run.describe()
    assert all_files(run.out) == set(), f"files left in the output folder: {all_files(run.out)}"
    assert all_files(dataset) == files_before, "the dataset folder changed"


D1 = {"_id": "d1", "text": "Alice likes quokkas."}
Q1 = {"_id": "q1", "text": "Who likes quokkas?"}
J1 = {"query-id": "q1", "corpus-id": "d1", "score": 1}

# (id, files to replace, file the error names, its line or id text, message fragment, exit status)
BAD_INPUTS = [
    ("malformed_json_line", {"corpus.jsonl": jsonl(D1) + b'{"_id": "d2", "text": "no closing brace"\n'},
     "corpus.jsonl", ":2:", "malformed JSON", EXIT_DATA),
    ("non_object_line", {"queries.jsonl": jsonl(Q1) + b'["q2", "text"]\n'},
     "queries.jsonl", ":2:", "expected a JSON object", EXIT_DATA),
    ("missing_text_field", {"corpus.jsonl": jsonl(D1, {"_id": "d2", "title": "t"})},
     "corpus.jsonl", ":2:", "missing field 'text'", EXIT_DATA),
    ("missing_query_id_field", {"queries.jsonl": jsonl(Q1, {"text": "Who?"})},
     "queries.jsonl", ":2:", "missing field '_id'", EXIT_DATA),
    ("missing_score_field", {"qrels.jsonl": jsonl(J1, {"query-id": "q2", "corpus-id": "d2"})},
     "qrels.jsonl", ":2:", "missing field 'score'", EXIT_DATA),
    ("wrong_field_type", {"corpus.jsonl": jsonl(D1, {"_id": "d2", "text": ["a", "b"]})},
     "corpus.jsonl", ":2:", "field 'text' must be a string", EXIT_DATA),
    ("fractional_score", {"qrels.jsonl": jsonl(J1, {"query-id": "q2", "corpus-id": "d2", "score": 0.5})},
     "qrels.jsonl", ":2:", "must be an integer", EXIT_DATA),
    ("empty_id", {"corpus.jsonl": jsonl(D1, {"_id": "", "text": "nobody"})},
     "corpus.jsonl", ":2:", "empty id", EXIT_DATA),
    ("duplicate_document_id", {"corpus.jsonl": jsonl(D1, {"_id": "d2", "text": "x"}, D1)},
     "corpus.jsonl", ":3:", "duplicate document id 'd1' (first on line 1)", EXIT_DATA),
    ("duplicate_query_id", {"queries.jsonl": jsonl(Q1, Q1)},
     "queries.jsonl", ":2:", "duplicate query id 'q1' (first on line 1)", EXIT_DATA),
    ("duplicate_judgement", {"qrels.jsonl": jsonl(J1, {"query-id": "q2", "corpus-id": "d2", "score": 1}, J1)},
     "qrels.jsonl", ":3:", "duplicate judgement for query 'q1' and document 'd1' (first on line 1)", EXIT_DATA),
    ("invalid_utf8_in_corpus", {"corpus.jsonl": jsonl(D1) + b'{"_id": "d2", "text": "caf\xe9"}\n'},
     "corpus.jsonl", ":2:", "UTF-8", EXIT_DATA),
    ("invalid_utf8_in_tsv_qrels", {"qrels.jsonl": None, "qrels/test.tsv": TSV_HEADER + b"q1\td1\t1\nq2\td\xff2\t1\n"},
     "test.tsv", ":3:", "UTF-8", EXIT_DATA),
    ("blank_line", {"queries.jsonl": jsonl(Q1) + b"\n" + jsonl({"_id": "q2", "text": "x"})},
     "queries.jsonl", ":2:", "blank line", EXIT_DATA),
    ("empty_corpus", {"corpus.jsonl": b""}, "corpus.jsonl", "", "empty corpus", EXIT_DATA),
    ("empty_query_set", {"queries.jsonl": b""}, "queries.jsonl", "", "empty query set", EXIT_DATA),
    ("empty_qrels", {"qrels.jsonl": b""}, "qrels.jsonl", "", "empty qrels", EXIT_DATA),
    ("tsv_qrels_without_header", {"qrels.jsonl": None, "qrels/test.tsv": b"q1\td1\t1\n"},
     "test.tsv", ":1:", "header", EXIT_DATA),
    ("missing_queries_file", {"queries.jsonl": None}, "queries.jsonl", "", "not found", EXIT_IO),
]


@pytest.mark.parametrize("files, file_name, location, fragment, exit_status",
                         [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_fails_naming_file_and_line(binary, tmp_path, files, file_name, location, fragment, exit_status):
    dataset = make_dataset(tmp_path / "bad", files)
    before = all_files(dataset)
    run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
    path = next(dataset.rglob(file_name), dataset / file_name)
    assert_failed_cleanly(run, dataset, before, exit_status, [f"{path}{location}", fragment])


def test_folder_in_place_of_a_file_is_a_file_error(binary, tmp_path):
    # Works as root too, unlike chmod 000: a folder cannot be read as a file by anyone.
    dataset = make_dataset(tmp_path / "bad", {"corpus.jsonl": None})
    (dataset / "corpus.jsonl").mkdir()
    before = all_files(dataset)
    run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
    assert_failed_cleanly(run, dataset, before, EXIT_IO, [str(dataset / "corpus.jsonl")])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_a_file_error(binary, tmp_path):
    dataset = make_dataset(tmp_path / "bad", {})
    (dataset / "queries.jsonl").chmod(0)
    try:
        before = all_files(dataset)
        run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
        assert_failed_cleanly(run, dataset, before, EXIT_IO, [str(dataset / "queries.jsonl"), "ermission"])
    finally:
        (dataset / "queries.jsonl").chmod(0o644)


def test_missing_limit_corpus_names_the_download_command(binary, tmp_path):
    dataset = tmp_path / "limit"
    dataset.mkdir()
    for name in ("queries.jsonl", "qrels.jsonl"):
        (dataset / name).write_bytes((SOURCE_DIR / "data" / "limit" / name).read_bytes())
    before = all_files(dataset)
    run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
    assert_failed_cleanly(run, dataset, before, EXIT_IO,
                          [str(dataset / "corpus.jsonl"), "scripts/download_data.sh limit"])


@pytest.mark.skipif((SOURCE_DIR / "data" / "limit" / "corpus.jsonl").exists(),
                    reason="the LIMIT corpus has been downloaded into data/limit")
def test_dataset_name_limit_without_corpus_names_the_download_command(binary, tmp_path):
    run = Run(binary, "limit", tmp_path / "out", cwd=tmp_path)
    assert run.returncode == EXIT_IO, run.describe()
    assert "scripts/download_data.sh limit" in run.stderr, run.describe()
    assert all_files(run.out) == set()


def test_missing_corpus_of_another_dataset_names_only_the_file(binary, tmp_path):
    dataset = make_dataset(tmp_path / "other", {"corpus.jsonl": None})
    before = all_files(dataset)
    run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
    assert_failed_cleanly(run, dataset, before, EXIT_IO, [str(dataset / "corpus.jsonl")])
    assert "download_data.sh" not in run.stderr


def test_missing_qrels_lists_both_candidates(binary, tmp_path):
    dataset = make_dataset(tmp_path / "noqrels", {"qrels.jsonl": None})
    before = all_files(dataset)
    run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
    assert_failed_cleanly(run, dataset, before, EXIT_IO,
                          [str(dataset / "qrels.jsonl"), str(dataset / "qrels" / "test.tsv")])


def line_with_counts(stderr: str, file_name: str, *counts: int) -> bool:
    """True when one stderr line names the file and every count as a whole number."""
    return any(file_name in line and all(re.search(rf"(?<![\d.]){n}(?![\d.])", line) for n in counts)
               for line in stderr.splitlines())


def test_unknown_qrels_ids_are_counted_and_reported(binary, tmp_path):
    dataset = make_dataset(tmp_path / "unknown", {
        "queries.jsonl": jsonl({"_id": "q1", "text": "Who likes quokkas?"},
                               {"_id": "q2", "text": "Who likes otters?"},
                               {"_id": "q3", "text": "Who likes glaciers?"}),
        "qrels.jsonl": jsonl(
            {"query-id": "q1", "corpus-id": "d1", "score": 1},
            {"query-id": "q1", "corpus-id": "ghost-doc-1", "score": 1},
            {"query-id": "q2", "corpus-id": "d2", "score": 1},
            {"query-id": "q2", "corpus-id": "ghost-doc-1", "score": 1},
            {"query-id": "q2", "corpus-id": "ghost-doc-2", "score": 1},
            {"query-id": "q2", "corpus-id": "ghost-doc-3", "score": 1},
            {"query-id": "ghost-query-1", "corpus-id": "d1", "score": 1},
            {"query-id": "ghost-query-1", "corpus-id": "d2", "score": 1},
            {"query-id": "ghost-query-1", "corpus-id": "d3", "score": 1},
            {"query-id": "ghost-query-1", "corpus-id": "d3-ghost", "score": 1},
            {"query-id": "ghost-query-2", "corpus-id": "d1", "score": 1},
        ),
    })
    run = Run(binary, dataset, tmp_path / "out", cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    expected = {
        "path": str(dataset / "qrels.jsonl"),
        "lines": 11,
        "judgements": 11,
        "unknown_query_judgements": 5,
        "unknown_doc_judgements": 5,
        "unknown_queries": 2,
        "unknown_docs": 4,
        "queries_without_judgements": 1,
    }
    # The counts are logged: one line for unknown queries, one for unknown documents, one for q3.
    assert line_with_counts(run.stderr, "qrels.jsonl", 5, 2), run.describe()
    assert line_with_counts(run.stderr, "qrels.jsonl", 5, 4), run.describe()
    assert line_with_counts(run.stderr, "qrels.jsonl", 1), run.describe()

    results = json.loads(run.results.read_text())
    assert results["dataset"]["qrels_report"] == expected
    assert run.run_file.is_file()
    assert all_files(run.out) == {"results.json", "run.trec"}
