"""scripts/run_experiments.sh on what exists here: BM25 on LIMIT-small runs; the neural models (not
exported) and LIMIT (corpus not downloaded) are skipped with a reason; the summary, the logs and
the generated results page say so. Runs against a private data root, models root, results and
logs folder so that the repository's own folders are neither read nor touched."""

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
SCRIPT = SOURCE / "scripts" / "run_experiments.sh"
NEURAL = ["v1", "v2-distill", "v3-distill", "v3-gte"]


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Path]:
    """LIMIT-small complete, LIMIT without its corpus, a registry without any exported model."""
    data = tmp_path / "data"
    shutil.copytree(SOURCE / "data" / "limit-small", data / "limit-small")
    (data / "limit").mkdir(parents=True)
    for name in ("queries.jsonl", "qrels.jsonl"):
        shutil.copy(SOURCE / "data" / "limit" / name, data / "limit" / name)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(SOURCE / "models" / "registry.json", models / "registry.json")
    return {"root": tmp_path, "data": data, "models": models, "results": tmp_path / "results",
            "logs": tmp_path / "logs"}


def sweep(binary: Path, world: dict[str, Path], *arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, LIMIT_EVAL_BIN=str(binary), LIMIT_EVAL_DATA_ROOT=str(world["data"]),
               LIMIT_EVAL_MODELS_ROOT=str(world["models"]))
    return subprocess.run(["bash", str(SCRIPT), "--results-dir", str(world["results"]), "--logs-dir",
                           str(world["logs"]), *arguments], capture_output=True, text=True, timeout=900, env=env,
                          cwd=world["root"])


def summary(stdout: str) -> dict[str, list[str]]:
    """The summary's sections: "ran (N):", "skipped (N):", "failed (N):" with their items, and "report"."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in stdout[stdout.index("Sweep summary"):].splitlines()[1:]:
        if line.startswith("  ") and current is not None:
            sections[current].append(line.strip())
        elif line.startswith("report:"):
            sections["report"] = [line]
            current = None
        else:
            current, count = line.rstrip(":").split(" (")
            sections[current] = []
            expected_count = int(count.rstrip(")"))
            sections.setdefault("_counts", []).append(f"{current}={expected_count}")
    for entry in sections.pop("_counts", []):
        name, count = entry.split("=")
        assert len(sections[name]) == int(count), f"{name}: the count does not match the items"
    return sections


def test_sweep_runs_what_exists_and_skips_the_rest(binary: Path, world: dict[str, Path]) -> None:
    completed = sweep(binary, world, "--", "--threads", "1")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    parts = summary(completed.stdout)
    assert len(parts["ran"]) == 1 and parts["ran"][0].startswith("bm25 on limit-small")
    assert parts["failed"] == []
    skipped = parts["skipped"]
    assert len(skipped) == 1 + len(NEURAL)
    limit_line = next(line for line in skipped if line.startswith("dataset limit:"))
    assert "corpus.jsonl missing" in limit_line and "scripts/download_data.sh limit" in limit_line
    for model in NEURAL:
        line = next(line for line in skipped if line.startswith(f"model {model}:"))
        assert "not exported" in line and f"{model}/manifest.json" in line
    assert parts["report"] == [f"report: {world['results'] / 'README.md'}"]

    # One log per run, holding the run's table; results where the report reads them.
    assert sorted(p.name for p in world["logs"].iterdir()) == ["bm25_limit-small.log", "report.log"]
    assert "| bm25 |" in (world["logs"] / "bm25_limit-small.log").read_text(encoding="utf-8")
    result = json.loads((world["results"] / "limit-small" / "bm25.json").read_text(encoding="utf-8"))
    assert result["model"]["name"] == "bm25"
    assert result["environment"]["threads"] == 1  # the options after -- reached limit-eval

    page = (world["results"] / "README.md").read_text(encoding="utf-8")
    metrics = result["metrics"]
    assert f"| bm25 | {metrics['NDCG@10']:.4f} | {metrics['Recall@2']:.4f} |" in page
    assert "No zero-shot result for limit yet." in page
    assert "No fine-tuned result yet: the figure is omitted." in page
    assert "](figures/recall_vs_dimensions_limit-small.svg)" in page
    assert (world["results"] / "figures" / "recall_vs_dimensions_limit-small.svg").is_file()
    assert "--model bm25 --dataset limit-small --top-k 100 --k 2,10,20,100 --relevance-level 1 --threads 1" in page


def test_a_failing_run_is_reported_and_fails_the_sweep(binary: Path, world: dict[str, Path]) -> None:
    broken = world["root"] / "broken-model"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    completed = sweep(binary, world, "--models", "bm25", "--datasets", "limit-small", "--model", str(broken))
    assert completed.returncode != 0
    parts = summary(completed.stdout)
    assert [line.split(" (")[0] for line in parts["ran"]] == ["bm25 on limit-small"]
    assert len(parts["failed"]) == 1
    assert parts["failed"][0].startswith("broken-model on limit-small: exit status")
    assert str(world["logs"] / "broken-model_limit-small.log") in parts["failed"][0]
    assert (world["logs"] / "broken-model_limit-small.log").stat().st_size > 0
    assert not (world["results"] / "limit-small" / "broken-model.json").exists()
    # The report still ran over what succeeded.
    assert (world["results"] / "README.md").is_file()


def test_models_and_datasets_can_be_chosen_and_bad_options_are_usage_errors(binary: Path,
                                                                            world: dict[str, Path]) -> None:
    completed = sweep(binary, world, "--models", "v1", "--datasets", "limit")
    assert completed.returncode == 0
    parts = summary(completed.stdout)
    assert parts["ran"] == [] and len(parts["skipped"]) == 2
    completed = sweep(binary, world, "--frobnicate")
    assert completed.returncode == 2
    assert "unknown option '--frobnicate'" in completed.stderr


def test_a_manifest_name_never_steers_a_log_or_result_out_of_its_folder(binary: Path, world: dict[str, Path]) -> None:
    shared = world["root"] / "deep" / "er" / "shared-model"
    shared.mkdir(parents=True)
    (shared / "manifest.json").write_text(json.dumps({"name": "../../../escaped"}), encoding="utf-8")
    before = {p for p in world["root"].rglob("*")}
    completed = sweep(binary, world, "--models", "", "--datasets", "limit-small", "--model", str(shared))
    assert completed.returncode != 0  # not a usable model: the run fails, and its log is kept
    written = {p for p in world["root"].rglob("*") if p.is_file()} - before
    assert world["logs"] / "_.._.._.._escaped_limit-small.log" in written, sorted(map(str, written))
    for path in written:
        assert path.resolve().is_relative_to(world["logs"].resolve()) or \
            path.resolve().is_relative_to(world["results"].resolve()), f"{path} written outside the chosen folders"
