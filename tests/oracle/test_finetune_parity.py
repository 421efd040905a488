"""`limit-eval finetune` against sentence-transformers 5.1's SparseEncoderTrainer (the seed's
trainer), on a tiny random BERT with dropout 0 fed the same samples: every loss part of every step
within 1e-4 relative, for batch 1 (ranking loss 0) and for batches with in-batch negatives, with and
without regularizer thresholds; the trained model's LIMIT-small metrics within 1e-4 and its vectors
within 1e-4 of each vector's largest weight; a changed hyper-parameter must break the agreement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from st_trainer import train_reference  # noqa: E402
from test_neural_parity import compare, reference_pipeline, run_limit_eval  # noqa: E402
from tiny_models import registry_loading, tiny_model  # noqa: E402

BIN = Path(os.environ["LIMIT_EVAL_BIN"])
LOSS_RTOL = 1e-4
# The ranking loss of a well separated batch is a difference of nearly equal float32 numbers
# (log-sum-exp minus the positive's score), exact to a few float32 ulps of the scores only: values
# like 1.2e-7 are 2 ulps of 1. Below this absolute difference it agrees too.
RANKING_ATOL = 1e-6
PARTS = ("ranking_loss", "document_regularizer_loss", "query_regularizer_loss")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def train_set(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("train") / "limit-train"
    completed = subprocess.run([str(BIN), "build-train-set", "--output", str(folder), "--documents", "300",
                                "--queries", "40", "--log-level", "warn"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return folder


def finetune(model: Path, train: Path, output: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "finetune", "--model", str(model), "--train", str(train), "--output",
                           str(output), "--device", "cpu", "--log-level", "warn", *options],
                          capture_output=True, text=True, timeout=900)


def loss_mismatches(ours: list[dict], reference: list[dict]) -> list[str]:
    problems = [] if len(ours) == len(reference) else [f"{len(ours)} steps vs the reference's {len(reference)}"]
    for step, (a, b) in enumerate(zip(ours, reference), start=1):
        for part in PARTS:
            floor = RANKING_ATOL if part == "ranking_loss" else 1e-12
            if abs(a[part] - b[part]) > LOSS_RTOL * abs(b[part]) + floor:
                problems.append(f"step {step} {part}: ours {a[part]!r} vs reference {b[part]!r}")
    return problems


def train_both(arch: str, activation: str, train: Path, work: Path, options: list[str], reference_options: dict):
    model = tiny_model(arch, activation, "--dropout", "0", trainable=True)
    output = work / f"{arch}-trained"
    completed = finetune(model.exported, train, output, *options)
    assert completed.returncode == 0, completed.stderr
    ours = read_jsonl(output / "train_log.jsonl")
    samples = read_jsonl(output / "train_samples.jsonl")
    training = json.loads((output / "manifest.json").read_text(encoding="utf-8"))["training"]
    reference, st_model = train_reference(model.source, registry_loading(arch), samples,
                                          batch_size=training["batch_size"], epochs=training["epochs"],
                                          **reference_options)
    return model, output, ours, reference, st_model


# (arch, activation, finetune options, the same for the reference trainer)
RUNS = {
    # The seed's 2-sample run: 40 epochs of batch 1 (80 steps), the ranking loss exactly 0.
    "bert-batch1": ("bert", "relu", ["--samples", "2"], {}),
    # In-batch negatives, with the l0 mask of seeds 002/003 on both regularizers.
    "bert-batch4-threshold": ("bert", "relu",
                              ["--samples", "40", "--batch-size", "4", "--epochs", "8",
                               "--document-regularizer-threshold", "60", "--query-regularizer-threshold", "4"],
                              {"document_regularizer_threshold": 60, "query_regularizer_threshold": 4}),
}


@pytest.mark.parametrize("run", sorted(RUNS))
def test_every_loss_part_matches_the_trainer(run, train_set, tmp_path):
    arch, activation, options, reference_options = RUNS[run]
    _, output, ours, reference, _ = train_both(arch, activation, train_set, tmp_path, options, reference_options)
    problems = loss_mismatches(ours, reference)
    assert not problems, "\n".join(problems[:20])
    if run == "bert-batch1":
        assert len(ours) == 80 and all(step["ranking_loss"] == 0 for step in ours)
    else:
        assert any(step["ranking_loss"] > 0 for step in ours)
    # The regularizers are live (their weights warm up from 0), so agreement covers them too.
    assert ours[-1]["document_regularizer_loss"] > 0 and ours[-1]["query_regularizer_loss"] > 0


def test_trained_model_evaluates_like_the_trainers(train_set, tmp_path):
    """The written folder evaluates like the sentence-transformers model trained alongside it, and a
    changed learning rate (the negative control) breaks the loss agreement."""
    arch, activation, options, reference_options = RUNS["bert-batch4-threshold"]
    model, output, ours, reference, st_model = train_both(arch, activation, train_set, tmp_path, options,
                                                          reference_options)
    st_folder = tmp_path / "st-trained"
    st_model.save(str(st_folder))
    expected = reference_pipeline(st_folder, {})
    evaluated = run_limit_eval(output, tmp_path / "eval")
    problems = compare(evaluated, expected)
    assert not problems, "\n".join(problems[:20])
    description = evaluated["results"]["model"]["description"]
    assert description["training"]["samples"] == 40
    assert description["training"]["base_model"] == json.loads(
        (model.exported / "manifest.json").read_text())["name"]

    control, _ = train_reference(model.source, {}, read_jsonl(output / "train_samples.jsonl"),
                                 batch_size=4, epochs=8, lr=6e-5, **reference_options)
    assert loss_mismatches(ours, control), "a changed learning rate went unnoticed: the comparison cannot fail"
