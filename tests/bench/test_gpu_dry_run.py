"""bench/gpu/run.sh, the prepared GPU check, run as a CPU dry run: the bundle that
scripts/package_gpu_bundle.sh packs from this build, then every stage of the GPU script on the CPU
with tiny models and a small generated corpus. What runs on a lent GPU is therefore known to work
before a GPU is ever lent (only the device and the sizes differ)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD = os.environ.get("LIMIT_EVAL_BUILD_DIR")
GTE_CODE = SOURCE.parent / "shared" / "third_party" / "gte-new-impl" / "modeling.py"

pytestmark = pytest.mark.skipif(not BUILD or not (Path(BUILD) / "liblimit_eval_neural.so").is_file(),
                                reason="needs a libtorch build (LIMIT_EVAL_BUILD_DIR with the neural plugin)")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("gpu")
    bundle, out = work / "bundle", work / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    packed = subprocess.run([str(SOURCE / "scripts" / "package_gpu_bundle.sh"), "--no-build", "--no-wheels",
                             "--build-dir", BUILD, "--output", str(bundle)],
                            capture_output=True, text=True, timeout=900, env=env)
    assert packed.returncode == 0, packed.stderr[-3000:]
    completed = subprocess.run([str(SOURCE / "bench" / "gpu" / "run.sh"), "--dry-run", "--bundle", str(bundle),
                                "--deadline", "1500", str(out)], capture_output=True, text=True, timeout=1800, env=env)
    record = json.loads((out / "gpu_bench.json").read_text())
    return {"rc": completed.returncode, "output": completed.stdout + completed.stderr, "record": record,
            "bundle": bundle, "out": out}


def test_bundle_is_self_contained(dry_run):
    manifest = json.loads((dry_run["bundle"] / "bundle.json").read_text())
    files = manifest["files"]
    assert "bin/limit-eval" in files and "bin/liblimit_eval_neural.so" in files
    assert "models/tiny-bert/manifest.json" in files
    assert any(name.startswith("lib/libfmt") for name in files), files
    assert not any("libtorch" in name or "libc10" in name for name in files), "libtorch must come from the GPU machine"
    assert manifest["bytes"] < 60 * 2**20


def test_every_stage_passes(dry_run):
    record = dry_run["record"]
    failed = [(s["stage"], s.get("error")) for s in record["stages"] if s["status"] != "ok"]
    assert dry_run["rc"] == 0 and not failed, f"{failed}\n{dry_run['output'][-4000:]}"
    assert record["dry_run"] is True and record["device"] == "cpu"
    assert record["environment"]["torch_matches_bundle"] is True
    assert {"gpu_bench.json", "gpu_bench.md", "gpu_bench.log"} <= {p.name for p in dry_run["out"].iterdir()}


def test_correctness_stage_compares_precisions(dry_run):
    runs = dry_run["record"]["correctness"]["runs"]
    assert set(runs) == {"cpu-fp32", "cpu-bf16"}
    assert runs["cpu-fp32"]["max_abs_metric_delta_vs_cpu_fp32"] == 0
    # bf16 changes the numbers a little, not the ranking's quality.
    assert 0 < runs["cpu-bf16"]["max_abs_metric_delta_vs_cpu_fp32"] < 0.02


def test_speed_rows_for_both_geometries(dry_run):
    speed = dry_run["record"]["speed"]
    geometries = ["v1", "v3-gte"] if GTE_CODE.is_file() else ["v1"]
    for name in geometries:
        rows = speed[name]["rows"]
        assert {"limit-eval fp32", "limit-eval bf16", "sentence-transformers fp32"} <= set(rows), rows
        for row in rows.values():
            assert row["seconds"] > 0 and row["tokens_per_s"] > 0 and row["tflops"] >= 0
            assert row["speedup_vs_st_fp32"] > 0
        assert abs(rows["limit-eval bf16"]["ndcg10_delta_vs_fp32"]) < 0.05
        assert rows["limit-eval fp32"]["query_encoding_s"] >= 0
    assert dry_run["record"]["corpus"]["documents"] == 300
