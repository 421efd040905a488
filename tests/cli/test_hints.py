"""Every command a message prints runs as printed (issue 14, items 1 and 16).

The hints are collected from the error paths of limit-eval and of the sweep, and each is run by
bash, as pasted, in a scratch folder. The Hugging Face hub is not reachable here, so a hint that
downloads must get as far as asking the hub (and say so), not stop at "permission denied", "not
found", a missing torch or a usage error. The registry of short names ships with the program: a
models root that only holds exported folders keeps the short names and the export hint."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
EXIT_USAGE = 2
SHORT_NAMES = ["v1", "v2-distill", "v3-distill", "v3-gte"]


def environment(**extra: str) -> dict[str, str]:
    """The user's environment after the README's set-up, offline: the project's venv is the one
    running this test."""
    env = dict(os.environ, LIMIT_EVAL_VENV=sys.prefix, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_ENDPOINT="http://127.0.0.1:9")
    env.update(extra)
    return env


def hints_of(stderr: str) -> list[str]:
    """Commands printed on their own line, indented by two spaces, after a line ending in ':'."""
    lines = stderr.splitlines()
    return [line.strip() for previous, line in zip(lines, lines[1:])
            if previous.rstrip().endswith(":") and line.startswith("  ") and line.strip()]


def run_hint(command: str, scratch: Path, **env: str) -> subprocess.CompletedProcess:
    scratch.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["bash", "-c", command], cwd=scratch, capture_output=True, text=True, timeout=600,
                          env=environment(**env))


def assert_reached_the_hub(completed: subprocess.CompletedProcess, command: str) -> None:
    assert completed.returncode not in (0, 2, 126, 127), f"{command}\nexit {completed.returncode}\n{completed.stderr}"
    text = completed.stderr.lower()
    assert "no module named" not in text and "permission denied" not in text, completed.stderr
    assert "hugging face hub" in text or "could not download" in text, completed.stderr


def test_export_script_runs_as_a_command(tmp_path: Path) -> None:
    """scripts/export_model.py is executable and its first line finds the project's Python."""
    for script in ("export_model.py", "export_model.sh"):
        path = SOURCE / "scripts" / script
        assert os.access(path, os.X_OK), f"{path} is not executable"
        completed = subprocess.run([str(path), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                                   env=environment())
        assert completed.returncode == 0, completed.stderr
        assert "--all" in completed.stdout and "--models-dir" in completed.stdout


def test_export_wrapper_names_a_missing_environment(tmp_path: Path) -> None:
    completed = subprocess.run([str(SOURCE / "scripts" / "export_model.sh"), "--help"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60,
                               env=environment(LIMIT_EVAL_VENV=str(tmp_path / "no-venv")))
    assert completed.returncode == EXIT_USAGE
    assert str(tmp_path / "no-venv") in completed.stderr and "setup.sh" in completed.stderr


@pytest.mark.parametrize("how", ["environment", "option"])
def test_short_names_survive_a_models_root_of_exported_folders(binary: Path, tmp_path: Path, how: str) -> None:
    models = tmp_path / "my-models"
    (models / "my-own-export").mkdir(parents=True)  # what a user keeps there: exported folders, no registry
    env = environment(LIMIT_EVAL_MODELS_ROOT=str(models)) if how == "environment" else environment()
    extra = ["--models-root", str(models)] if how == "option" else []
    unknown = subprocess.run([str(binary), "--model", "v9", *extra], cwd=tmp_path, capture_output=True, text=True,
                             timeout=60, env=env)
    assert unknown.returncode == EXIT_USAGE
    listed = re.search(r"registered short name \(([^)]*)\)", unknown.stderr)
    assert listed and listed.group(1).split(", ") == SHORT_NAMES, unknown.stderr
    for name in SHORT_NAMES:
        completed = subprocess.run([str(binary), "--model", name, *extra], cwd=tmp_path, capture_output=True,
                                   text=True, timeout=60, env=env)
        assert completed.returncode == EXIT_USAGE
        assert "not exported" in completed.stderr, completed.stderr
        hints = hints_of(completed.stderr)
        assert len(hints) == 1 and f"--only {name}" in hints[0] and str(models) in hints[0], completed.stderr


def test_the_export_hint_runs_as_printed(binary: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    completed = subprocess.run([str(binary), "--model", "v3-gte", "--models-root", str(models)], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60, env=environment())
    assert completed.returncode == EXIT_USAGE
    [hint] = hints_of(completed.stderr)
    result = run_hint(hint, tmp_path / "scratch")
    assert_reached_the_hub(result, hint)
    assert "opensearch-neural-sparse-encoding-doc-v3-gte" in result.stderr
    assert list(models.iterdir()) == [], "a failed export leaves nothing behind"


def test_the_download_hint_runs_as_printed(binary: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "limit").mkdir(parents=True)
    for name in ("queries.jsonl", "qrels.jsonl"):
        shutil.copy(SOURCE / "data" / "limit" / name, data / "limit" / name)
    completed = subprocess.run([str(binary), "--dataset", "limit", "--data-root", str(data)], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60, env=environment())
    assert completed.returncode == 4, completed.stderr
    [hint] = hints_of(completed.stderr)
    assert f"LIMIT_EVAL_DATA_ROOT={data}" in hint, hint
    result = run_hint(hint, tmp_path / "scratch")
    assert_reached_the_hub(result, hint)
    assert str(data / "limit") in result.stderr, "the download goes where limit-eval looks"


def test_the_sweep_skip_lines_carry_commands_that_run(binary: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SOURCE / "data" / "limit-small", data / "limit-small")
    (data / "limit").mkdir()
    for name in ("queries.jsonl", "qrels.jsonl"):
        shutil.copy(SOURCE / "data" / "limit" / name, data / "limit" / name)
    models = tmp_path / "models"
    models.mkdir()
    env = environment(LIMIT_EVAL_BIN=str(binary), LIMIT_EVAL_DATA_ROOT=str(data), LIMIT_EVAL_MODELS_ROOT=str(models))
    completed = subprocess.run(["bash", str(SOURCE / "scripts" / "run_experiments.sh"), "--models", "bm25 v1",
                                "--results-dir", str(tmp_path / "results"), "--logs-dir", str(tmp_path / "logs")],
                               cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    commands = re.findall(r"(?:export|download) it: (.*)\)$", completed.stdout, flags=re.MULTILINE)
    assert len(commands) == 2, completed.stdout
    for command in commands:
        result = run_hint(command, tmp_path / "scratch")
        assert_reached_the_hub(result, command)


def test_the_reexport_hint_of_an_old_model_folder_runs_as_printed(binary: Path, tmp_path: Path) -> None:
    from stand_ins import tokenizer_only_model  # noqa: PLC0415

    model = tokenizer_only_model(tmp_path / "old-model")
    manifest = json.loads((model / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 99
    manifest["source"] = {"id": str(tmp_path / "my-sentence-transformers-folder"), "revision": None}
    (model / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    completed = subprocess.run([str(binary), "tokenize", "--model", str(model)], input="who\n", cwd=tmp_path,
                               capture_output=True, text=True, timeout=60, env=environment())
    assert completed.returncode == 5, completed.stderr
    [hint] = hints_of(completed.stderr)
    assert f"--output {model}" in hint and "--force" in hint, hint
    result = run_hint(hint, tmp_path / "scratch")
    # The source folder is gone: the export says so (exit 3), after parsing the printed options.
    assert result.returncode == 3, result.stderr
    assert "my-sentence-transformers-folder" in result.stderr and "no such model folder" in result.stderr
