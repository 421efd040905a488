"""`cmake --install` into a temporary prefix gives a limit-eval that works without the source tree's
defaults: it finds the shipped datasets, the model registry and the published results under
<prefix>/share/limit-eval, and its neural plugin under <prefix>/lib/limit-eval. About 3 s (a few
more when the plugin is loaded)."""

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


@pytest.fixture(scope="module")
def prefix(binary, tmp_path_factory) -> Path:
    build = Path(os.environ.get("LIMIT_EVAL_BUILD_DIR", binary.parent))
    prefix = tmp_path_factory.mktemp("install") / "prefix"
    completed = subprocess.run([shutil.which("cmake") or "cmake", "--install", str(build), "--prefix", str(prefix)],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return prefix


def clean_environment() -> dict[str, str]:
    """No variable that points limit-eval at the source tree's folders."""
    return {name: value for name, value in os.environ.items()
            if name not in ("LIMIT_EVAL_DATA_ROOT", "LIMIT_EVAL_MODELS_ROOT")}


def installed(prefix: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(prefix / "bin" / "limit-eval"), *arguments], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**clean_environment(), "LIMIT_EVAL_CACHE_DIR": str(cwd / "cache")})


def test_the_install_holds_the_binary_registry_and_data(prefix):
    share = prefix / "share" / "limit-eval"
    for relative in ("models/registry.json", "reference/published-results.json", "data/limit-small/corpus.jsonl",
                     "data/limit/queries.jsonl", "data/limit-attributes.txt", "data/names.txt"):
        assert (share / relative).is_file(), relative
    assert os.access(prefix / "bin" / "limit-eval", os.X_OK)


def test_the_installed_binary_runs_bm25_on_limit_small_from_its_own_data(binary, prefix, tmp_path):
    completed = installed(prefix, "--dataset", "limit-small", "-o", "results.json", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert Path(results["dataset"]["path"]) == prefix / "share" / "limit-eval" / "data" / "limit-small"
    from_build = subprocess.run([str(binary), "--dataset", str(SOURCE / "data" / "limit-small"), "-o",
                                 str(tmp_path / "build.json")], capture_output=True, text=True, timeout=300)
    assert from_build.returncode == 0, from_build.stderr
    assert results["metrics"] == json.loads((tmp_path / "build.json").read_text(encoding="utf-8"))["metrics"]
    assert "| bm25 |" in completed.stdout


def test_the_installed_binary_reads_its_registry_and_lists(prefix, tmp_path):
    # An unexported registered model: the hint comes from the installed registry.
    completed = installed(prefix, "--model", "v3-gte", cwd=tmp_path)
    assert completed.returncode != 0
    assert str(prefix / "share" / "limit-eval" / "models") in completed.stderr, completed.stderr
    # generate reads the installed attribute and name lists.
    generated = installed(prefix, "generate", "-o", "gen", "--documents", "10", "--queries", "2", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr


def test_the_installed_binary_loads_its_neural_plugin(binary, prefix, tmp_path):
    plugins = list((prefix / "lib" / "limit-eval").glob("*")) if (prefix / "lib" / "limit-eval").is_dir() else []
    if not any(binary.parent.glob("*limit_eval_neural*")):
        pytest.skip("this limit-eval was built without libtorch: there is no plugin to install")
    assert plugins, "the plugin was not installed"
    # A folder without a manifest: the plugin loads (with libtorch) and its manifest loader refuses it.
    (tmp_path / "not-a-model").mkdir()
    completed = installed(prefix, "--model", str(tmp_path / "not-a-model"), cwd=tmp_path)
    assert completed.returncode == 5, completed.stderr
    assert "cannot load the neural encoder plugin" not in completed.stderr, completed.stderr
    assert "manifest.json" in completed.stderr, completed.stderr
