"""Issue 14, what the data and the outputs must do for a new user: a mistyped id stops the run
(item 3), every Unicode whitespace character of an id becomes '_' in a TREC file (item 4), the
table follows -k (item 10), a --run-file id collision is invalid data found at load time (item 11),
exact means stay exact (item 14) and --save-vectors says where it wrote (item 15)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
EXIT_DATA = 3


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def dataset(folder: Path, docs: list[tuple[object, str]], queries: list[tuple[str, str]],
            qrels: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(jsonl(*({"_id": i, "title": "", "text": t} for i, t in docs)),
                                         encoding="utf-8")
    (folder / "queries.jsonl").write_text(jsonl(*({"_id": i, "text": t} for i, t in queries)), encoding="utf-8")
    (folder / "qrels.jsonl").write_text(jsonl(*({"query-id": q, "corpus-id": d, "score": 1} for q, d in qrels)),
                                        encoding="utf-8")
    return folder


def run(binary: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *arguments], cwd=cwd, capture_output=True, text=True, timeout=300)


# --- item 3 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("file", ["corpus", "queries", "qrels"])
def test_a_number_for_an_id_stops_the_run(binary: Path, tmp_path: Path, file: str) -> None:
    docs = [("d1", "Alice likes quokkas."), ("d2", "Bob likes otters.")]
    queries = [("q1", "Who likes quokkas?"), ("q2", "Who likes otters?")]
    folder = dataset(tmp_path / "data", docs, queries, [("q1", "d1"), ("q2", "d2")])
    path = folder / f"{file}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    key = "corpus-id" if file == "qrels" else "_id"
    record[key] = 5
    lines[1] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    completed = run(binary, "--dataset", str(folder), "--output", str(tmp_path / "out" / "r.json"), cwd=tmp_path)
    assert completed.returncode == EXIT_DATA, completed.stderr
    assert f"{file}.jsonl:2" in completed.stderr and f"field '{key}' must be a string, found number" in \
        completed.stderr, completed.stderr
    assert not (tmp_path / "out").exists()


# --- item 4 ------------------------------------------------------------------------------------------

WHITESPACE = ["\u00a0", "\u3000", "\u2009", "\u0085", "\u1680", "\u202f", "\u205f", "\u2028"]


def test_every_unicode_whitespace_of_an_id_becomes_an_underscore(binary: Path, tmp_path: Path) -> None:
    docs = [(f"Name{ws}Number{i}", f"person {i} likes topic{i}") for i, ws in enumerate(WHITESPACE)]
    queries = [(f"q{ws}{i}", f"who likes topic{i}") for i, ws in enumerate(WHITESPACE)]
    qrels = [(q, d) for (q, _), (d, _) in zip(queries, docs)]
    folder = dataset(tmp_path / "data", docs, queries, qrels)
    run_file = tmp_path / "run.trec"
    completed = run(binary, "--dataset", str(folder), "--run-file", str(run_file), "--output",
                    str(tmp_path / "r.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    text = run_file.read_text(encoding="utf-8")
    for ws in WHITESPACE:
        assert ws not in text, f"U+{ord(ws):04X} written raw"
    written = {line.split()[2] for line in text.splitlines()}
    assert {f"Name_Number{i}" for i in range(len(WHITESPACE))} <= written
    # The run file evaluates to the run's own numbers: the qrels are read with the same rule.
    evaluated = run(binary, "evaluate", "--run", str(run_file), "--qrels", str(folder / "qrels.jsonl"), cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert json.loads(evaluated.stdout)["metrics"]["NDCG@10"] == results["metrics"]["NDCG@10"] == 1.0


def test_unicode_whitespace_in_a_run_file_id_reads_as_an_underscore(binary: Path, tmp_path: Path) -> None:
    run_file = tmp_path / "run.trec"
    run_file.write_text("query_0 Q0 Geneva\u00a0Durben 1 2.0 t\nquery_0 Q0 Dorathea\u3000Bastress 2 1.0 t\n", encoding="utf-8")
    completed = run(binary, "evaluate", "--run", str(run_file), "--qrels",
                    str(SOURCE / "data" / "limit-small" / "qrels.jsonl"), "--per-query", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["per_query"]["query_0"]["Recall@2"] == 1.0


def test_the_readme_defines_whitespace(binary: Path) -> None:
    readme = (SOURCE / "README.md").read_text(encoding="utf-8")
    assert "White_Space" in readme and "U+00A0" in readme


# --- item 10 -----------------------------------------------------------------------------------------

def table(stdout: str) -> tuple[list[str], list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return cells[0], cells[2]


def test_the_table_shows_the_cut_offs_asked_for(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "-k", "1,5", "--output", str(tmp_path / "r.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    header, row = table(completed.stdout)
    assert header[1:4] == ["NDCG@5", "Recall@1", "Recall@5"], header
    assert "n/a" not in row, row
    # The default keeps the seed README's columns.
    completed = run(binary, "--output", str(tmp_path / "r2.json"), cwd=tmp_path)
    header, _ = table(completed.stdout)
    assert header[1:6] == ["NDCG@10", "Recall@2", "Recall@10", "Recall@20", "Recall@100"]


def test_repeated_cut_offs_count_once(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "-k", "10,10,2", "--output", str(tmp_path / "r.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert results["settings"]["k_values"] == [2, 10]
    header, _ = table(completed.stdout)
    assert header.count("Recall@10") == 1


def test_a_cut_off_above_top_k_is_warned_about(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "--top-k", "5", "-k", "2,100", "--output", str(tmp_path / "r.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    warning = [line for line in completed.stderr.splitlines() if "[warning]" in line and "--top-k 5" in line]
    assert warning and "100" in warning[0], completed.stderr
    completed = run(binary, "--top-k", "100", "--output", str(tmp_path / "r2.json"), cwd=tmp_path)
    assert "--top-k" not in completed.stderr


# --- item 11 -----------------------------------------------------------------------------------------

def test_a_run_file_id_collision_is_invalid_data_found_before_encoding(binary: Path, tmp_path: Path) -> None:
    docs = [("Geneva Durben", "Geneva likes quokkas."), ("x", "filler"), ("Geneva_Durben", "Another likes otters.")]
    folder = dataset(tmp_path / "data", docs, [("q1", "Who likes quokkas?")], [("q1", "Geneva Durben")])
    out = tmp_path / "out"
    completed = run(binary, "--dataset", str(folder), "--run-file", str(out / "run.trec"), "--save-vectors",
                    str(out / "vectors"), "--output", str(out / "r.json"), cwd=tmp_path)
    assert completed.returncode == EXIT_DATA, completed.stderr
    assert "corpus.jsonl:3" in completed.stderr and "'Geneva Durben'" in completed.stderr and \
        "'Geneva_Durben'" in completed.stderr, completed.stderr
    assert "corpus vectors" not in completed.stderr, "the collision must be found before encoding"
    assert not out.exists(), f"written: {list(out.rglob('*'))}"
    # Without --run-file the ids are fine.
    completed = run(binary, "--dataset", str(folder), "--output", str(out / "r.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr


# --- item 14 -----------------------------------------------------------------------------------------

def test_exact_means_stay_exact(binary: Path, tmp_path: Path) -> None:
    """1000 queries, each with five relevant documents of which one is retrieved: Recall@k is 0.2 for
    every query, and its mean is 0.2 (a plain running sum gives 0.19999999999999718)."""
    qrels, run_lines = [], []
    for q in range(1000):
        for d in range(5):
            qrels.append(json.dumps({"query-id": f"q{q}", "corpus-id": f"d{q}_{d}", "score": 1}))
        run_lines.append(f"q{q} Q0 d{q}_0 1 1.0 t")
    (tmp_path / "qrels.jsonl").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    (tmp_path / "run.trec").write_text("\n".join(run_lines) + "\n", encoding="utf-8")
    completed = run(binary, "evaluate", "--run", "run.trec", "--qrels", "qrels.jsonl", "-k", "1,10", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert '"Recall@10": 0.2,' in completed.stdout, completed.stdout
    assert json.loads(completed.stdout)["metrics"]["Recall@1"] == 0.2


# --- item 15 -----------------------------------------------------------------------------------------

def test_save_vectors_logs_where_it_wrote_and_what_it_replaced(binary: Path, tmp_path: Path) -> None:
    vectors = tmp_path / "vectors"
    first = run(binary, "--save-vectors", str(vectors), "--output", str(tmp_path / "r.json"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"vectors written to {vectors / 'corpus.jsonl'}" in first.stderr, first.stderr
    assert str(vectors / "queries.jsonl") in first.stderr
    assert "replacing" not in first.stderr
    second = run(binary, "--save-vectors", str(vectors), "--output", str(tmp_path / "r.json"), cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    replaced = [line for line in second.stderr.splitlines() if "[warning]" in line and "replacing" in line]
    assert len(replaced) == 2 and str(vectors / "corpus.jsonl") in replaced[0], second.stderr
