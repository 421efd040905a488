"""`limit-eval finetune` refuses bad input before training, with a clear message, a non-zero exit
status and no model folder: an output folder that exists, a training set without positive
judgements, --samples above what exists, a model folder without the trainable module (the message
gives the exact re-export command)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)
from tiny_models import tiny_model  # noqa: E402

EXIT_USAGE, EXIT_DATA, EXIT_MODEL = 2, 3, 5


@pytest.fixture(scope="module")
def model() -> Path:
    return tiny_model("bert", "relu", "--dropout", "0", trainable=True).exported


def write_train_set(folder: Path, score: int) -> Path:
    folder.mkdir()
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "Ann Lee likes Kiwis."}\n'
                                         '{"_id": "d2", "title": "", "text": "Bob Ray likes Figs."}\n')
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "Who likes Kiwis?"}\n')
    (folder / "qrels.jsonl").write_text(f'{{"query-id": "q1", "corpus-id": "d1", "score": {score}}}\n')
    return folder


def finetune(binary: Path, model: Path, train: Path, output: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), "finetune", "--model", str(model), "--train", str(train), "--output",
                           str(output), "--device", "cpu", *options], capture_output=True, text=True, timeout=600)


def test_refusals_write_nothing(binary, model, tmp_path):
    good = write_train_set(tmp_path / "good", 1)
    output = tmp_path / "out"

    completed = finetune(binary, model, write_train_set(tmp_path / "negative", 0), output)
    assert completed.returncode == EXIT_DATA and "no positive judgement" in completed.stderr, completed.stderr
    completed = finetune(binary, model, good, output, "--samples", "2")
    assert completed.returncode == EXIT_USAGE and "--samples 2" in completed.stderr and "1 (query" in completed.stderr
    assert not output.exists()

    output.mkdir()
    completed = finetune(binary, model, good, output)
    assert completed.returncode == EXIT_USAGE and "exists" in completed.stderr
    assert list(output.iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], "a staging folder was left behind"


def test_a_folder_without_the_trainable_module_gets_the_reexport_command(binary, model, tmp_path):
    untrainable = tmp_path / "untrainable"
    shutil.copytree(model, untrainable)
    manifest = json.loads((untrainable / "manifest.json").read_text())
    del manifest["trainable"]
    (untrainable / "manifest.json").write_text(json.dumps(manifest))
    completed = finetune(binary, untrainable, write_train_set(tmp_path / "train", 1), tmp_path / "out")
    assert completed.returncode == EXIT_MODEL
    assert "cannot be trained" in completed.stderr
    assert f"--output {untrainable} " in completed.stderr and "--trainable --force" in completed.stderr
    assert not (tmp_path / "out").exists()
