"""The results page and the sweep, as a new user reads them (issue 14): the reproduction commands
run as printed (item 6), a model has one name everywhere (item 7), and the page uses one unit,
fractions, in its tables and figures and says so (item 14)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))


def limit_eval(binary: Path, *arguments: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *arguments], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def reproduction_commands(page: str) -> dict[str, str]:
    """Result file -> the command printed under it in the page's "Reproducing" section."""
    section = page[page.index("## Reproducing"):]
    block = section[section.index("```bash\n") + len("```bash\n"):]
    block = block[:block.index("```")]
    commands, current = {}, None
    for line in block.splitlines():
        if line.startswith("# "):
            current = line[2:].split(":")[0]
        elif line.strip() and current is not None:
            commands[current] = line
    return commands


def test_reproduction_command_of_a_dataset_given_as_a_path_runs_as_printed(binary: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "my data" / "people"
    shutil.copytree(SOURCE / "data" / "limit-small", dataset)
    results = tmp_path / "results"
    completed = limit_eval(binary, "--dataset", str(dataset), "--threads", "1", "--output",
                           str(results / "people" / "bm25.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert limit_eval(binary, "report", "--results", str(results), cwd=tmp_path).returncode == 0
    command = reproduction_commands((results / "README.md").read_text(encoding="utf-8"))["people/bm25.json"]
    words = shlex.split(command)
    assert words[words.index("--dataset") + 1] == str(dataset), command

    # As printed, from a folder where build/limit-eval is the binary.
    scratch = tmp_path / "scratch"
    (scratch / "build").mkdir(parents=True)
    (scratch / "build" / "limit-eval").symlink_to(binary)
    rerun = subprocess.run(["bash", "-c", command], cwd=scratch, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    again = json.loads((scratch / "results" / "people" / "bm25.json").read_text(encoding="utf-8"))
    first = json.loads((results / "people" / "bm25.json").read_text(encoding="utf-8"))
    assert again["metrics"] == first["metrics"]


def test_a_dataset_under_the_data_root_is_reproduced_by_name(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert limit_eval(binary, "--output", str(results / "limit-small" / "bm25.json"), cwd=tmp_path).returncode == 0
    assert limit_eval(binary, "report", "--results", str(results), cwd=tmp_path).returncode == 0
    command = reproduction_commands((results / "README.md").read_text(encoding="utf-8"))["limit-small/bm25.json"]
    assert " --dataset limit-small " in command, command


def test_a_local_model_folder_gets_no_hub_link(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert limit_eval(binary, "--output", str(results / "limit-small" / "bm25.json"), cwd=tmp_path).returncode == 0
    result = json.loads((results / "limit-small" / "bm25.json").read_text(encoding="utf-8"))
    folder = tmp_path / "exports" / "tiny"
    folder.mkdir(parents=True)
    result["model"] = {"name": "tiny", "description": {"kind": "neural_sparse", "folder": str(folder),
                                                       "source": {"id": str(tmp_path / "tiny-st")},
                                                       "vocab_size": 30522}}
    (results / "limit-small" / "tiny.json").write_text(json.dumps(result), encoding="utf-8")
    hub = json.loads((results / "limit-small" / "bm25.json").read_text(encoding="utf-8"))
    hub["model"] = {"name": "v1", "description": {"kind": "neural_sparse", "vocab_size": 30522, "source": {
        "id": "opensearch-project/opensearch-neural-sparse-encoding-doc-v1"}}}
    (results / "limit-small" / "v1.json").write_text(json.dumps(hub), encoding="utf-8")
    assert limit_eval(binary, "report", "--results", str(results), cwd=tmp_path).returncode == 0
    page = (results / "README.md").read_text(encoding="utf-8")
    assert "huggingface.co//" not in page and f"huggingface.co/{tmp_path}" not in page
    assert "[v1](https://huggingface.co/opensearch-project/opensearch-neural-sparse-encoding-doc-v1)" in page
    command = reproduction_commands(page)["limit-small/tiny.json"]
    assert shlex.split(command)[shlex.split(command).index("--model") + 1] == str(folder), command


def test_the_page_uses_fractions_in_tables_and_figures(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(SOURCE / "tests" / "fixtures" / "report" / "results", results)
    assert limit_eval(binary, "report", "--results", str(results), cwd=tmp_path).returncode == 0
    page = (results / "README.md").read_text(encoding="utf-8")
    assert "fraction from 0 to 1" in page
    for svg in (results / "figures").glob("*.svg"):
        text = svg.read_text(encoding="utf-8")
        assert "(%)" not in text and "in percent" not in text, svg.name
        ticks = [float(t) for t in re.findall(r'text-anchor="end">([0-9.]+)</text>', text)]
        assert ticks and max(ticks) <= 1.0, (svg.name, ticks)


def test_a_model_folder_is_named_by_its_manifest_in_the_sweep(binary: Path, tmp_path: Path) -> None:
    """--model .../v3-distill whose manifest says "stand-in": the log, the result file, the summary
    and the JSON all say stand-in (the run itself needs the neural plugin; the names do not)."""
    folder = tmp_path / "exports" / "v3-distill"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"format": "limit-eval-model", "name": "stand-in"}),
                                          encoding="utf-8")
    models = tmp_path / "models"
    models.mkdir()
    env = dict(os.environ, LIMIT_EVAL_BIN=str(binary), LIMIT_EVAL_MODELS_ROOT=str(models))
    completed = subprocess.run(["bash", str(SOURCE / "scripts" / "run_experiments.sh"), "--models", "",
                                "--datasets", "limit-small", "--model", str(folder), "--results-dir",
                                str(tmp_path / "results"), "--logs-dir", str(tmp_path / "logs")],
                               cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    summary = completed.stdout[completed.stdout.index("Sweep summary"):]
    entries = [line.strip() for line in summary.splitlines() if line.startswith("  ")]
    assert entries and all(entry.startswith("stand-in on limit-small") for entry in entries), summary
    assert (tmp_path / "logs" / "stand-in_limit-small.log").is_file()
    assert not (tmp_path / "logs" / "v3-distill_limit-small.log").exists()
    assert not (tmp_path / "results" / "limit-small" / "v3-distill.json").exists()
    readme = (SOURCE / "README.md").read_text(encoding="utf-8")
    assert "manifest's `name`" in readme


def test_names_in_result_files_never_steer_a_write_out_of_the_page_folder(binary: Path, tmp_path: Path) -> None:
    """Result files made by others: their dataset and model names become figure names, made safe."""
    results = tmp_path / "results"
    shutil.copytree(SOURCE / "tests" / "fixtures" / "report" / "results", results)
    renames = {"v1.json": "../../../escaped-model", "v3-gte.json": "/tmp/absolute-model", "acme-sparse.json": ".."}
    for path in results.rglob("*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        record["dataset"]["name"] = "../../escaped-" + record["dataset"]["name"]
        record["model"]["name"] = renames.get(path.name, record["model"]["name"])
        path.write_text(json.dumps(record), encoding="utf-8")
    before = {p for p in tmp_path.rglob("*")}
    page = tmp_path / "site" / "page"
    completed = limit_eval(binary, "report", "--results", str(results), "-o", str(page / "README.md"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    figures = [p for p in written if p.suffix == ".svg"]
    assert figures, "no figure written: the test would prove nothing"
    for path in written:
        assert path.resolve().is_relative_to(page.resolve()), f"{path} written outside {page}"
    assert not Path("/tmp/absolute-model").exists()
