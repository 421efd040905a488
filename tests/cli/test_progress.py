"""One progress bar per stage, over the whole stage, with its rate and the time left (issue 14, item 2).

The bar is drawn only on a terminal, so these tests give limit-eval a pseudo-terminal as stderr,
as a user's shell does, and read what it draws: BM25 on a corpus large enough to take over a
second, and a neural model whose corpus spans several cache chunks (one bar over all of them, not
one per chunk that restarts)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BAR = re.compile(r"^(?P<label>[\w :]+) \[[#.]+\] (?P<done>\d+)/(?P<total>\d+)  (?P<rate>\d+)/s  (?P<time>.*?)"
                 r"(?:\x1b\[K)?$")


def on_a_terminal(command: list[str], cwd: Path) -> tuple[int, str]:
    """Runs `command` with stderr on a pseudo-terminal; returns its exit status and what it drew."""
    master, slave = pty.openpty()
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    received = bytearray()
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end is closed
            break
        if not data:
            break
        received += data
    os.close(master)
    return process.wait(timeout=600), received.decode("utf-8", errors="replace")


def bars(terminal: str) -> list[dict]:
    """Every state of a bar drawn (each starts with a carriage return)."""
    states = []
    for piece in re.split(r"[\r\n]", terminal):
        match = BAR.match(piece.strip("\r\n"))
        if match:
            states.append({**match.groupdict(), "done": int(match["done"]), "total": int(match["total"])})
    return states


def assert_one_bar_over_the_stage(states: list[dict], documents: int, terminal: str) -> None:
    assert states, f"no progress bar drawn:\n{terminal}"
    assert {s["label"] for s in states} == {"encoding documents"}, states
    assert {s["total"] for s in states} == {documents}, "the bar's total is the whole stage's"
    done = [s["done"] for s in states]
    assert done == sorted(done), f"the bar went back (restarted): {done}"
    assert done[-1] == documents
    assert all(int(s["rate"]) > 0 for s in states)
    assert any("left" in s["time"] for s in states if s["done"] < documents) or done[0] == documents, states


def test_bm25_encoding_draws_one_bar(binary: Path, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    generated = subprocess.run([str(binary), "generate", "--output", str(corpus), "--documents", "150000",
                                "--log-level", "warn"], capture_output=True, text=True, timeout=600)
    assert generated.returncode == 0, generated.stderr
    status, terminal = on_a_terminal([str(binary), "--dataset", str(corpus), "--threads", "1", "--output",
                                      str(tmp_path / "r.json")], cwd=tmp_path)
    assert status == 0, terminal
    assert_one_bar_over_the_stage(bars(terminal), 150000, terminal)


def test_no_bar_off_a_terminal(binary: Path, tmp_path: Path) -> None:
    completed = subprocess.run([str(binary), "--output", str(tmp_path / "r.json")], capture_output=True, text=True,
                               timeout=300)
    assert completed.returncode == 0
    assert "\r" not in completed.stderr and "[#" not in completed.stderr


def test_neural_encoding_draws_one_bar_over_every_chunk(binary: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    if not list(binary.parent.glob("*limit_eval_neural*")):
        pytest.skip("this limit-eval has no neural plugin (built without libtorch)")
    from stand_in_models import StandInHidden, make_model  # noqa: PLC0415  (imports torch)
    from stand_ins import write_chunked_dataset, write_manifest  # noqa: PLC0415

    model = make_model(tmp_path / "model", module=StandInHidden())
    write_manifest(model, format_version=2, **{"document_encoder.output": "hidden_states"})
    documents = 3 * 2048 + 500  # four cache chunks
    data = write_chunked_dataset(tmp_path / "data", documents)
    status, terminal = on_a_terminal([str(binary), "--model", str(model), "--dataset", str(data), "--device", "cpu",
                                      "--threads", "1", "--batch-size", "8", "--no-cache", "--output",
                                      str(tmp_path / "r.json")], cwd=tmp_path)
    assert status == 0, terminal
    assert_one_bar_over_the_stage(bars(terminal), documents, terminal)
    # The per-chunk log lines would break the bar's line: on a terminal they are debug lines.
    assert "corpus chunk 1 of 4 encoded" not in terminal
