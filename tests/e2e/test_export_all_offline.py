"""`export_model.py --all` and `run_experiments.sh` exactly as a user runs them, short of the download.

A local Hugging Face hub cache (tests/tiny_models.py `tiny_hub()`: HF_HUB_CACHE laid out as
huggingface_hub lays it out, blobs + snapshots/<commit>/ symlinks + refs/main) holds the four models
of models/registry.json as their hub repositories are laid out (sentence-transformers SparseEncoder
Router folders) with tiny weights, and v3-gte's custom code repository Alibaba-NLP/new-impl at the
registry's pinned code revision only. With HF_HUB_OFFLINE=1:

1. `scripts/export_model.py --all --models-dir DIR` (the registry's ids, revisions and loading
   options, nothing else) exports every model;
2. `scripts/run_experiments.sh --datasets limit-small --run-files` (its default models: bm25 and the
   four) evaluates them with limit-eval and writes the report;
3. sentence-transformers + BEIR load the same cached repositories (the same ids, revisions and
   loading options) and evaluate LIMIT-small (tests/oracle/test_neural_parity.py's reference);
   every metric of every results JSON must agree within 1e-4, and every top-10 list of the sweep's
   run files must equal the reference's up to ties of the reference scores.

Under transformers 5 (the second test environment), v3-gte's custom code cannot run (it calls
get_extended_attention_mask, which transformers 5 removed): `--all` must then export the three
others and refuse v3-gte with a message that says so, the sweep skips v3-gte as not exported, and
v3-gte's comparison is skipped with that reason.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "oracle"))
from tiny_models import GTE_CODE_REPO, HUB_ARCH, TinyHub, skip_reason, tiny_hub  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
REGISTRY = json.loads((SOURCE / "models" / "registry.json").read_text(encoding="utf-8"))["models"]
TIMEOUT_S = 1500


def registry_arch(short: str) -> str:
    return HUB_ARCH[REGISTRY[short]["architecture"]]


def runs_here(short: str) -> bool:
    """Whether this environment's transformers runs the model's architecture (not GTE under 5.x)."""
    return skip_reason(registry_arch(short)) is None


MODEL_PARAMS = [pytest.param(short, marks=() if runs_here(short) else pytest.mark.skip(
    reason=skip_reason(registry_arch(short)))) for short in REGISTRY]


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)


@pytest.fixture(scope="module")
def hub() -> TinyHub:
    return tiny_hub()


@pytest.fixture(scope="module")
def sweep(hub: TinyHub, tmp_path_factory) -> dict:
    """export_model.py --all, then run_experiments.sh, as a user runs them (offline, from the hub cache)."""
    work = tmp_path_factory.mktemp("export-all")
    env = {**os.environ, "HF_HUB_CACHE": str(hub.cache), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_MODULES_CACHE": str(work / "hf-modules"),  # where transformers copies the custom code it loads
           "LIMIT_EVAL_VENV": sys.prefix,  # export_model.py's first line runs this Python environment's
           "LIMIT_EVAL_MODELS_ROOT": str(work / "models")}
    env.pop("HF_HOME", None)
    export = run([str(SOURCE / "scripts" / "export_model.py"), "--all", "--models-dir", str(work / "models")], env)
    experiments = run([str(SOURCE / "scripts" / "run_experiments.sh"), "--datasets", "limit-small", "--run-files",
                       "--results-dir", str(work / "results"), "--logs-dir", str(work / "logs"),
                       "--", "--device", "cpu", "--no-cache"], env)
    return {"work": work, "models": work / "models", "results": work / "results" / "limit-small",
            "export": export, "experiments": experiments}


def test_export_all_exports_every_registry_model_from_the_hub_cache(sweep: dict, hub: TinyHub) -> None:
    export = sweep["export"]
    refused = [short for short in REGISTRY if not runs_here(short)]
    if refused:
        assert export.returncode != 0, export.stderr
        for short in refused:
            assert re.search(rf"{short}: error: .*transformers 4", export.stderr), export.stderr
            assert not (sweep["models"] / short).exists(), f"a refused export left {short} behind"
        assert f"{len(refused)} of {len(REGISTRY)} exports failed" in export.stderr
    else:
        assert export.returncode == 0, f"export_model.py --all failed:\n{export.stderr[-6000:]}"
    for short, entry in REGISTRY.items():
        if not runs_here(short):
            continue
        manifest = json.loads((sweep["models"] / short / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["name"] == short
        source = manifest["source"]
        assert (source["id"], source["revision"]) == (entry["hf_id"], entry["revision"])
        # The commit the hub cache holds for that revision (refs/main when the registry says null).
        assert source["resolved_revision"] == hub.commits[entry["hf_id"]]
        assert (source["trust_remote_code"], source["code_revision"]) == (bool(entry["trust_remote_code"]),
                                                                          entry["code_revision"])
        assert (source["model_kwargs"], source["config_kwargs"]) == (entry["model_kwargs"], entry["config_kwargs"])
        assert manifest["document_encoder"]["architecture"] == entry["architecture"]
        assert manifest["document_encoder"]["activation"] == entry["activation"]
        if entry["trust_remote_code"]:
            # The custom code came from the code repository at the pinned revision.
            loaded = sweep["work"] / "hf-modules" / "transformers_modules" / Path(*GTE_CODE_REPO.split("/"))
            assert (loaded / entry["code_revision"] / "modeling.py").is_file(), sorted(loaded.rglob("*.py"))


def test_run_experiments_runs_every_exported_model_and_reports(sweep: dict) -> None:
    experiments = sweep["experiments"]
    assert experiments.returncode == 0, f"{experiments.stdout}\n{experiments.stderr[-4000:]}"
    ran = [short for short in REGISTRY if runs_here(short)]
    assert f"ran ({len(ran) + 1}):" in experiments.stdout, experiments.stdout  # + bm25
    for short in ["bm25", *ran]:
        assert (sweep["results"] / f"{short}.json").is_file(), experiments.stdout
        assert (sweep["results"] / f"{short}.trec").is_file(), experiments.stdout
    for short in REGISTRY:
        if not runs_here(short):
            assert re.search(rf"model {short}: not exported .*export_model.sh --all --only {short}",
                             experiments.stdout), experiments.stdout
    assert "report: " in experiments.stdout and (sweep["work"] / "results" / "README.md").is_file()


def reference_loading(hub: TinyHub, entry: dict) -> dict:
    """SparseEncoder options that load the registry model from the hub cache as export_model.py --all
    does: its revision, trust_remote_code, model_kwargs and config_kwargs, the custom code pinned at
    the registry's code revision."""
    pinned = {"code_revision": entry["code_revision"]} if entry.get("code_revision") else {}
    return {"cache_folder": str(hub.cache), "revision": entry.get("revision"),
            "trust_remote_code": bool(entry.get("trust_remote_code")),
            "model_kwargs": {**entry.get("model_kwargs", {}), **pinned} or None,
            "config_kwargs": {**entry.get("config_kwargs", {}), **pinned} or None}


def read_run_file(path: Path) -> dict[str, list[str]]:
    ranked: dict[str, list[tuple[int, str]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        query_id, _, doc_id, rank, _score, _tag = line.split()
        ranked.setdefault(query_id, []).append((int(rank), doc_id))
    return {query_id: [doc for _, doc in sorted(rows)] for query_id, rows in ranked.items()}


def run_file_id(record_id: str) -> str:
    return re.sub(r"\s", "_", record_id)  # --run-file writes each whitespace character of an id as _


def top10_mismatches(run: dict[str, list[str]], reference: dict, parity) -> list[str]:
    """The sweep's top-10 lists against the reference scores: a different document at a rank is
    allowed only where the two documents' reference scores tie."""
    problems = []
    corpus_ids = reference["corpus_ids"]
    column = {run_file_id(doc_id): index for index, doc_id in enumerate(corpus_ids)}
    for qi, query_id in enumerate(reference["query_ids"]):
        scores = reference["scores"][qi]
        expected = sorted(range(len(corpus_ids)), key=lambda d: (-float(scores[d]), parity._desc(corpus_ids[d])))[:10]
        ours = [column[doc] for doc in run.get(run_file_id(query_id), [])[:10]]
        if len(ours) != len(expected):
            problems.append(f"{query_id}: {len(ours)} documents ranked, expected {len(expected)}")
            continue
        for rank, (a, b) in enumerate(zip(ours, expected)):
            tie = parity.TIE_RTOL * max(1.0, abs(float(scores[b])))
            if a != b and abs(float(scores[a]) - float(scores[b])) > tie:
                problems.append(f"{query_id} rank {rank + 1}: ours {corpus_ids[a]} vs reference {corpus_ids[b]}")
                break
    return problems


@pytest.mark.parametrize("short", MODEL_PARAMS)
def test_sweep_matches_sentence_transformers_and_beir(short: str, sweep: dict, hub: TinyHub) -> None:
    import test_neural_parity as parity  # the reference pipeline: sentence-transformers encode + BEIR evaluate

    entry = REGISTRY[short]
    results_file = sweep["results"] / f"{short}.json"
    assert results_file.is_file(), f"the sweep wrote no {results_file}:\n{sweep['experiments'].stdout}"
    ours = json.loads(results_file.read_text(encoding="utf-8"))
    reference = parity.reference_pipeline(entry["hf_id"], reference_loading(hub, entry))
    problems = parity.metric_mismatches(ours["metrics"], reference["metrics"])
    problems += top10_mismatches(read_run_file(sweep["results"] / f"{short}.trec"), reference, parity)
    assert not problems, "\n".join(problems[:30])
    assert 0.05 < reference["metrics"]["NDCG@10"] < 0.999  # far from trivial, so agreement means something
    assert ours["model"]["name"] == short
