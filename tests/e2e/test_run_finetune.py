"""scripts/run_finetune.sh end to end on a tiny trainable BERT: it builds the training set where it is
missing, fine-tunes on 2 and on all samples, evaluates the zero-shot and both fine-tuned models on
LIMIT-small, and writes a results page whose (Finetune) table and figure show the three rows. Runs
against a private data root, models root and results folder, with a small training set (all = 20
samples: 80 steps of batch 1), so that it takes about a minute."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)
from tiny_models import tiny_model  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
SCRIPT = SOURCE / "scripts" / "run_finetune.sh"
MODEL = "tiny-bert"


def table_after(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first markdown table after the heading line."""
    lines = markdown.splitlines()
    at = lines.index(heading)
    rows = []
    for line in lines[at + 1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return [row for row in rows if not all(set(cell) <= set("-: ") for cell in row)]


def test_run_finetune_writes_the_finetune_table(binary, tmp_path):
    data, models, results = tmp_path / "data", tmp_path / "models", tmp_path / "results"
    shutil.copytree(SOURCE / "data" / "limit-small", data / "limit-small")
    models.mkdir()
    # The parity tests' model (one export for both); copied, as the shared folders are read-only.
    shutil.copytree(tiny_model("bert", "relu", "--dropout", "0", trainable=True).exported, models / MODEL)
    env = dict(os.environ, LIMIT_EVAL_BIN=str(binary), LIMIT_EVAL_DATA_ROOT=str(data),
               LIMIT_EVAL_MODELS_ROOT=str(models))
    completed = subprocess.run(
        ["bash", str(SCRIPT), "--model", MODEL, "--datasets", "limit-small", "--samples", "2 all",
         "--results-dir", str(results), "--train-set-options", "--documents 300 --queries 10", "--",
         "--device", "cpu", "--threads", "1", "--log-level", "warn"],
        capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr

    train_set = data / "limit-train"
    assert len((train_set / "queries.jsonl").read_text().splitlines()) == 10
    evaluated = {path.stem: json.loads(path.read_text()) for path in (results / "limit-small").glob("*.json")}
    assert set(evaluated) == {MODEL, f"{MODEL}-limit-2", f"{MODEL}-limit-all"}
    trainings = {name: result["model"]["description"].get("training") for name, result in evaluated.items()}
    assert trainings[MODEL] is None
    assert trainings[f"{MODEL}-limit-2"]["samples"] == 2
    assert trainings[f"{MODEL}-limit-all"]["samples"] == 20

    base = json.loads((models / MODEL / "manifest.json").read_text())["name"]  # the series' name
    page = (results / "README.md").read_text(encoding="utf-8")
    rows = table_after(page, f"## (Finetune) limit-small Dataset: {base}")
    assert rows[0][0] == "Training Samples"
    assert [row[0] for row in rows[1:]] == ["0 (Zero-shot)", "2", "20"]
    figure = f"figures/finetune_limit-small_{base}.svg"
    assert f"]({figure})" in page
    assert "<svg" in (results / figure).read_text(encoding="utf-8")
