"""limit-eval at the limits of its input (README "Limits and memory"): a 100 MB line and JSON nested
a million levels deep stop with the file and line (exit status 3, nothing written); a document of
10 million characters and a million queries work, within the memory the README states. Inputs are
generated here."""

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

EXIT_DATA = 3


# Runs the command from a fresh, small interpreter: a child's peak memory (ru_maxrss) starts from
# what the process that forked it held, and this test process holds hundreds of MB of inputs.
MEASURE = ("import os, sys; pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ); "
           "_, status, usage = os.wait4(pid, 0); open(sys.argv[1], 'w').write(str(usage.ru_maxrss * 1024)); "
           "sys.exit(os.waitstatus_to_exitcode(status))")


def run(binary: Path, args: list[str], tmp_path: Path) -> tuple[int, str, int]:
    """Exit status, stderr and peak resident memory in bytes of one limit-eval run."""
    peak = tmp_path / "peak"
    with open(tmp_path / "stdout", "wb") as out, open(tmp_path / "stderr", "wb") as err:
        status = subprocess.run([sys.executable, "-c", MEASURE, str(peak), str(binary), *args], stdout=out,
                                stderr=err).returncode
    return status, (tmp_path / "stderr").read_text(errors="replace"), int(peak.read_text())


def write_dataset(folder: Path, corpus: str, queries: int = 1) -> None:
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    with open(folder / "queries.jsonl", "w") as q, open(folder / "qrels.jsonl", "w") as r:
        for i in range(queries):
            q.write(f'{{"_id": "q{i}", "text": "Who likes quokkas?"}}\n')
            r.write(f'{{"query-id": "q{i}", "corpus-id": "d1", "score": 1}}\n')


def test_hundred_megabyte_line_stops_with_file_and_line(binary, tmp_path):
    line = '{"_id": "d2", "text": "' + "x" * 100_000_000 + '"}'
    write_dataset(tmp_path / "d", '{"_id": "d1", "text": "quokkas"}\n' + line + "\n")
    output = tmp_path / "out.json"
    status, stderr, _ = run(binary, ["--dataset", str(tmp_path / "d"), "-o", str(output)], tmp_path)
    assert status == EXIT_DATA, stderr
    assert f"{tmp_path / 'd' / 'corpus.jsonl'}:2: line of {len(line)} bytes, longer than the 64 MiB" in stderr
    assert not output.exists()


def test_deeply_nested_result_file_stops_the_report(binary, tmp_path):
    results = tmp_path / "results" / "limit-small"
    results.mkdir(parents=True)
    (results / "m.json").write_text('{"format": "limit-eval-results/1",\n"model": ' + "[" * 1_000_000 +
                                    "]" * 1_000_000 + "}\n")
    status, stderr, _ = run(binary, ["report", "--results", str(tmp_path / "results")], tmp_path)
    assert status == EXIT_DATA, stderr
    assert f"{results / 'm.json'}:2: invalid JSON: nested more than 128 levels deep" in stderr
    assert not (tmp_path / "results" / "README.md").exists()


def test_ten_million_character_document_works(binary, tmp_path):
    big = "quokka otter tapir " * (10_000_000 // 19 + 1)
    corpus = '{"_id": "d1", "text": "quokkas"}\n' + json.dumps({"_id": "d2", "text": big[:10_000_000]}) + "\n"
    write_dataset(tmp_path / "d", corpus)
    output = tmp_path / "out.json"
    status, stderr, peak = run(binary, ["--dataset", str(tmp_path / "d"), "-o", str(output)], tmp_path)
    assert status == 0, stderr
    assert json.loads(output.read_text())["dataset"]["documents"] == 2
    # README: 166 MB at peak for this document.
    assert peak < 250_000_000, peak


def test_million_queries_work(binary, tmp_path):
    queries = 1_000_000
    write_dataset(tmp_path / "d", '{"_id": "d1", "text": "Alice likes quokkas"}\n'
                                  '{"_id": "d2", "text": "Bob likes otters"}\n', queries)
    output = tmp_path / "out.json"
    status, stderr, peak = run(binary, ["--dataset", str(tmp_path / "d"), "-o", str(output), "--top-k", "10",
                                        "-k", "1,10", "--log-level", "warn"], tmp_path)
    assert status == 0, stderr
    with open(output) as f:
        result = json.load(f)
    assert result["evaluation"]["evaluated_queries"] == queries
    assert len(result["per_query"]) == queries
    assert result["metrics"]["Recall@1"] == 1.0
    # README: about 1.5 KB per query at peak with two cut-offs (2.5 KB while the results JSON was
    # built whole before it was written).
    assert peak < queries * 2_000, peak
