"""What a new user meets in the first hour (issue 14): options and subcommands (item 9), ignored or
impossible options (item 12), the wording of the common errors (item 13) and help texts that agree
with the README and the behaviour (item 5). Every test runs the binary or the script as a user does."""

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
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)
from stand_ins import tokenizer_only_model  # noqa: E402

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
LIMIT_SMALL = SOURCE / "data" / "limit-small"
EXIT_USAGE, EXIT_DATA, EXIT_IO = 2, 3, 4


def run(binary: Path, *arguments: str, cwd: Path, stdin: str | None = None, env: dict | None = None
        ) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *arguments], cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture()
def run_file(tmp_path: Path) -> Path:
    """A TREC run of three LIMIT-small queries."""
    path = tmp_path / "run.trec"
    path.write_text("query_0 Q0 Geneva_Durben 1 2.0 t\nquery_0 Q0 Olinda_Posso 2 1.0 t\n"
                    "query_1 Q0 Geneva_Durben 1 1.0 t\nquery_2 Q0 Leslie_Laughton 1 1.0 t\n", encoding="utf-8")
    return path


# --- item 9: global options before or after the subcommand --------------------------------------

def test_log_level_after_the_subcommand_is_honoured(binary: Path, run_file: Path, tmp_path: Path) -> None:
    qrels = str(LIMIT_SMALL / "qrels.jsonl")
    for arguments in (["evaluate", "--run", str(run_file), "--qrels", qrels, "--log-level", "warn"],
                      ["--log-level", "warn", "evaluate", "--run", str(run_file), "--qrels", qrels],
                      ["evaluate", "--run", str(run_file), "--qrels", qrels, "--threads", "1", "--log-level", "error"],
                      ["--threads", "1", "evaluate", "--run", str(run_file), "--qrels", qrels, "--log-level", "warn"]):
        completed = run(binary, *arguments, cwd=tmp_path)
        assert completed.returncode == 0, (arguments, completed.stderr)
        assert "[info]" not in completed.stderr, (arguments, completed.stderr)
        assert json.loads(completed.stdout)["evaluated_queries"] == 3
    # Without it, the info lines are there: the option above changed something.
    completed = run(binary, "evaluate", "--run", str(run_file), "--qrels", qrels, cwd=tmp_path)
    assert "[info]" in completed.stderr


@pytest.mark.parametrize("command", ["evaluate", "tokenize", "report", "generate"])
def test_subcommand_help_lists_the_global_options(binary: Path, tmp_path: Path, command: str) -> None:
    completed = run(binary, command, "--help", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "--log-level" in completed.stdout and "--threads" in completed.stdout, completed.stdout


def test_unexpected_arguments_are_named_in_the_order_given(binary: Path, run_file: Path, tmp_path: Path) -> None:
    completed = run(binary, "evaluate", "--run", str(run_file), "--qrels", str(LIMIT_SMALL / "qrels.jsonl"),
                    "first", "second", cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert "first second" in completed.stderr and "second first" not in completed.stderr, completed.stderr


def test_global_options_work_with_report_and_generate(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "generate", "--output", str(tmp_path / "gen"), "--documents", "50", "--queries", "5",
                    "--threads", "1", "--log-level", "warn", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "[info]" not in completed.stderr


# --- item 12: options that are ignored or impossible ----------------------------------------------

def test_bm25_warns_about_the_neural_options_it_ignores(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "--model", "bm25", "--device", "cuda", "--dtype", "fp16", "--batch-size", "8",
                    "--output", str(tmp_path / "r.json"), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    warning = next((line for line in completed.stderr.splitlines() if "[warning]" in line and "ignored" in line), "")
    for option in ("--device cuda", "--dtype fp16", "--batch-size 8"):
        assert option in warning, completed.stderr
    # Not given, nothing to warn about.
    completed = run(binary, "--model", "bm25", "--output", str(tmp_path / "r2.json"), cwd=tmp_path)
    assert "ignored" not in completed.stderr


@pytest.mark.parametrize("value, message", [("-1", "out of range"), ("99999999999999999999", "out of range"),
                                            ("abc", "not a number")])
def test_tokenize_refuses_an_impossible_max_length(binary: Path, tmp_path: Path, value: str, message: str) -> None:
    model = tokenizer_only_model(tmp_path / "model")
    completed = run(binary, "tokenize", "--model", str(model), "--max-length", value, cwd=tmp_path, stdin="a b\n")
    assert completed.returncode == EXIT_USAGE, completed.stderr
    assert "--max-length" in completed.stderr and message in completed.stderr, completed.stderr
    assert completed.stdout == ""


def test_tokenize_document_max_length_below_the_special_tokens_is_refused(binary: Path, tmp_path: Path) -> None:
    model = tokenizer_only_model(tmp_path / "model")
    completed = run(binary, "tokenize", "--model", str(model), "--as", "document", "--max-length", "1",
                    cwd=tmp_path, stdin="who likes quokkas\n")
    assert completed.returncode == EXIT_USAGE, completed.stderr
    assert "--max-length 1" in completed.stderr and "special tokens" in completed.stderr, completed.stderr
    # Two is [CLS] [SEP], and it is honoured.
    completed = run(binary, "tokenize", "--model", str(model), "--as", "document", "--max-length", "2",
                    cwd=tmp_path, stdin="who likes quokkas\n")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["101", "102"]


def test_report_refuses_a_missing_models_root(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(SOURCE / "tests" / "fixtures" / "report" / "results", results)
    completed = run(binary, "report", "--results", str(results), "--models-root", str(tmp_path / "nonexistent"),
                    cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE, completed.stderr
    assert "--models-root" in completed.stderr
    assert not (results / "README.md").exists()


def test_report_on_an_empty_results_folder_fails(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    completed = run(binary, "report", "--results", str(results), cwd=tmp_path)
    assert completed.returncode == EXIT_IO, completed.stderr
    assert "no result file" in completed.stderr
    assert list(results.iterdir()) == []


# --- item 13: wording --------------------------------------------------------------------------------

def test_unknown_model_lists_each_name_once_and_suggests(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "--model", "v3-gt", cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    message = next(line for line in completed.stderr.splitlines() if "unknown model" in line)
    assert message.count("bm25") == 1, message
    assert "did you mean 'v3-gte'" in message, message
    assert "[info] dataset" not in completed.stderr, "the model is checked before the corpus is loaded"


def test_missing_model_folder_is_not_found_not_unknown(binary: Path, tmp_path: Path) -> None:
    missing = tmp_path / "exports" / "my-model"
    completed = run(binary, "--model", str(missing), cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert f"not found: {missing}" in completed.stderr and "unknown model" not in completed.stderr, completed.stderr


def test_missing_dataset_path_is_named_once(binary: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dataset"
    completed = run(binary, "--dataset", str(missing), cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert f"dataset folder not found: {missing}" in completed.stderr, completed.stderr
    assert "neither" not in completed.stderr and completed.stderr.count(str(missing)) == 1, completed.stderr


def test_mistyped_dataset_name_gets_a_suggestion(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "--dataset", "limit-smal", cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert "did you mean 'limit-small'" in completed.stderr, completed.stderr


def test_mistyped_subcommand_gets_a_suggestion(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "evalute", "--run", "x", cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert "did you mean the command 'evaluate'" in completed.stderr, completed.stderr


@pytest.mark.parametrize("option", ["--batch-size", "--top-k", "--threads", "--relevance-level"])
def test_a_word_for_a_number_is_not_a_number(binary: Path, tmp_path: Path, option: str) -> None:
    completed = run(binary, option, "abc", cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert "not a number: 'abc'" in completed.stderr and "range" not in completed.stderr.split("'abc'")[0], \
        completed.stderr


def test_a_blank_inside_a_run_file_id_names_the_underscore_rule(binary: Path, tmp_path: Path) -> None:
    run_file = tmp_path / "run.trec"
    run_file.write_text("query_0 Q0 Geneva Durben 1 2.0 t\n", encoding="utf-8")
    completed = run(binary, "evaluate", "--run", str(run_file), "--qrels", str(LIMIT_SMALL / "qrels.jsonl"),
                    cwd=tmp_path)
    assert completed.returncode == EXIT_DATA
    assert "run.trec:1" in completed.stderr and "found 7" in completed.stderr
    assert "'_'" in completed.stderr and "whitespace" in completed.stderr, completed.stderr


def test_the_report_names_the_reference_study(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(SOURCE / "tests" / "fixtures" / "report" / "results", results)
    completed = run(binary, "report", "--results", str(results), cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    page = (results / "README.md").read_text(encoding="utf-8")
    sources = page[page.index("## Sources of the published values"):]
    assert "000_26effcc4daab95f9" not in page
    assert "LIMIT-Inference-free Sparse Embedding Experiments" in sources and "repository" in sources


# --- item 5: help texts that agree with the README and the behaviour -----------------------------

def test_tokenize_help_gives_the_real_models_root_default(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "tokenize", "--help", cwd=tmp_path)
    line = next(line for line in completed.stdout.splitlines() if "--models-root" in line)
    assert "default: models/)" not in line
    assert "LIMIT_EVAL_MODELS_ROOT" in completed.stdout


def test_no_cache_with_cache_dir_is_refused_as_the_readme_says(binary: Path, tmp_path: Path) -> None:
    completed = run(binary, "--no-cache", "--cache-dir", str(tmp_path / "c"), cwd=tmp_path)
    assert completed.returncode == EXIT_USAGE
    assert "--cache-dir" in completed.stderr and "--no-cache" in completed.stderr
    readme = (SOURCE / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `--no-cache`"))
    assert "--cache-dir" in row and "refused" in row, row


SHELL_CODE = re.compile(r"^\s*(set -|[a-z_]+=|if |fi$|done$|esac$|\w+\(\) \{)")


@pytest.mark.parametrize("script", ["run_experiments.sh", "download_data.sh", "setup.sh", "render_figures.sh",
                                    "export_model.sh"])
def test_script_help_is_usage_not_code(script: str, tmp_path: Path) -> None:
    env = dict(os.environ, LIMIT_EVAL_VENV=sys.prefix)
    completed = subprocess.run(["bash", str(SOURCE / "scripts" / script), "--help"], capture_output=True, text=True,
                               timeout=120, cwd=tmp_path, env=env)
    assert completed.returncode == 0, completed.stderr
    text = completed.stdout
    assert "usage" in text.lower(), text
    code = [line for line in text.splitlines() if SHELL_CODE.match(line) or line.startswith("#")]
    assert code == [], f"shell code in the help of {script}: {code}"
