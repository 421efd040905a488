"""`limit-eval finetune` against sentence-transformers 5.1's SparseEncoderTrainer (the seed's
trainer), on tiny random BERT, DistilBERT and GTE (v3-gte's NewForMaskedLM) models with dropout 0 fed
the same samples: every loss part of every step within 1e-4 relative for the full 80 steps, for batch
1 (ranking loss 0) and for batches with in-batch negatives, with and without regularizer thresholds;
each architecture's trained model's LIMIT-small metrics within 1e-4 and its vectors within 1e-4 of
each vector's largest weight; a changed hyper-parameter must break the agreement.

The matrix (each run trained once by both trainers, shared by the tests below): BERT has batch 1 and
in-batch negatives, each with and without thresholds; DistilBERT and GTE have batch 1 without and
in-batch negatives with thresholds (the paths their architectures change are the module, not the
loss)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from st_trainer import train_reference  # noqa: E402
from test_neural_parity import compare, reference_pipeline, run_limit_eval  # noqa: E402
from tiny_models import arch_param, registry_loading, tiny_model  # noqa: E402

BIN = Path(os.environ["LIMIT_EVAL_BIN"])
LOSS_RTOL = 1e-4
# The ranking loss of a well separated batch is a difference of nearly equal float32 numbers
# (log-sum-exp minus the positive's score), exact to a few float32 ulps of the scores only: values
# like 1.2e-7 are 2 ulps of 1. Below this absolute difference it agrees too.
RANKING_ATOL = 1e-6
PARTS = ("ranking_loss", "document_regularizer_loss", "query_regularizer_loss")
# Both trainers on one thread: a tiny model's operations are too small to share between two, and on a
# loaded machine two threads wait for each other at every operation (the reference's 80 batch-1 steps
# took 63 s on two threads and 5 s on one, at a load of 5 on 2 cores).
THREADS = 1
torch.set_num_threads(THREADS)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def train_set(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("train") / "limit-train"
    # Documents listing 2 to 4 attributes (about 17 tokens, the seed's 5 to 15 make 44): the steps cost
    # less, and the document threshold below falls inside the tiny models' l0 range.
    completed = subprocess.run([str(BIN), "build-train-set", "--output", str(folder), "--documents", "300",
                                "--queries", "40", "--attributes-per-document", "2-4", "--log-level", "warn"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return folder


def finetune(model: Path, train: Path, output: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "finetune", "--model", str(model), "--train", str(train), "--output",
                           str(output), "--device", "cpu", "--threads", str(THREADS), "--log-level", "warn", *options],
                          capture_output=True, text=True, timeout=900)


def loss_mismatches(ours: list[dict], reference: list[dict]) -> list[str]:
    problems = [] if len(ours) == len(reference) else [f"{len(ours)} steps vs the reference's {len(reference)}"]
    for step, (a, b) in enumerate(zip(ours, reference), start=1):
        for part in PARTS:
            floor = RANKING_ATOL if part == "ranking_loss" else 1e-12
            if abs(a[part] - b[part]) > LOSS_RTOL * abs(b[part]) + floor:
                problems.append(f"step {step} {part}: ours {a[part]!r} vs reference {b[part]!r}")
    return problems


# make_tiny_model.py arguments per architecture (dropout 0 is added): the real models' pooling
# activations; GTE's MLM over the tokenizer's 30522 tokens, as the trainer's ranking loss multiplies
# query and document vectors and refuses two widths (make_tiny_model's GTE default has 30528 logits).
ARCHS = {
    "bert": ["relu"],
    "distilbert": ["log1p_relu"],
    "gte": ["log1p_relu", "--mlm-vocab-size", "30522"],
}
# The seed's 2-sample run: 40 epochs of batch 1 (80 steps), the ranking loss exactly 0.
BATCH1 = ["--samples", "2"]
# In-batch negatives: 16 samples, batch 2, 10 epochs (80 steps). Two samples share each query, and
# the NO_DUPLICATES sampler keeps them apart.
NEGATIVES = ["--samples", "16", "--batch-size", "2", "--epochs", "10"]
NEGATIVE_SAMPLES = 16
# The l0 mask of seeds 002/003 on both regularizers. The untrained tiny models give these documents
# 80 to 200 non-zeros and the queries 4 to 7, so each threshold masks some embeddings and not others
# (test_the_thresholds_mask_some_embeddings).
THRESHOLDS = (["--document-regularizer-threshold", "140", "--query-regularizer-threshold", "5"],
              {"document_regularizer_threshold": 140, "query_regularizer_threshold": 5})
# run -> (arch, finetune options, the same for the reference trainer)
RUNS = {
    "bert-batch1": ("bert", BATCH1, {}),
    "bert-batch1-threshold": ("bert", BATCH1 + THRESHOLDS[0], THRESHOLDS[1]),
    "bert-negatives": ("bert", NEGATIVES, {}),
    "bert-negatives-threshold": ("bert", NEGATIVES + THRESHOLDS[0], THRESHOLDS[1]),
    "distilbert-batch1": ("distilbert", BATCH1, {}),
    "distilbert-negatives-threshold": ("distilbert", NEGATIVES + THRESHOLDS[0], THRESHOLDS[1]),
    "gte-batch1": ("gte", BATCH1, {}),
    "gte-negatives-threshold": ("gte", NEGATIVES + THRESHOLDS[0], THRESHOLDS[1]),
}


def model_of(arch: str):
    activation, *extra = ARCHS[arch]
    return tiny_model(arch, activation, "--dropout", "0", *extra, trainable=True)


@dataclass
class Trained:
    model: object         # tiny_models.TinyModel
    output: Path          # limit-eval's trained folder
    ours: list[dict]      # its train_log.jsonl
    reference: list[dict]  # the trainer's loss parts per step
    st_model: object      # the trainer's trained SparseEncoder


_TRAINED: dict[str, Trained] = {}


@pytest.fixture(scope="module")
def trained(train_set, tmp_path_factory):
    """trained(run): the run trained by both trainers, once per module."""
    def get(run: str) -> Trained:
        if run not in _TRAINED:
            arch, options, reference_options = RUNS[run]
            model = model_of(arch)
            output = tmp_path_factory.mktemp(run) / "trained"
            completed = finetune(model.exported, train_set, output, *options)
            assert completed.returncode == 0, completed.stderr
            samples = read_jsonl(output / "train_samples.jsonl")
            training = json.loads((output / "manifest.json").read_text(encoding="utf-8"))["training"]
            reference, st_model = train_reference(model.source, registry_loading(arch), samples,
                                                  batch_size=training["batch_size"], epochs=training["epochs"],
                                                  **reference_options)
            _TRAINED[run] = Trained(model, output, read_jsonl(output / "train_log.jsonl"), reference, st_model)
        return _TRAINED[run]
    return get


@pytest.mark.parametrize("run", [arch_param(run, RUNS[run][0]) for run in RUNS])
def test_every_loss_part_matches_the_trainer(run, trained):
    result = trained(run)
    ours = result.ours
    problems = loss_mismatches(ours, result.reference)
    assert not problems, "\n".join(problems[:20])
    assert len(ours) == 80
    if "batch1" in run:
        assert all(step["ranking_loss"] == 0 for step in ours)
    else:
        assert any(step["ranking_loss"] > 0 for step in ours)
    # The regularizers are live (their weights warm up from 0), so agreement covers them too.
    for part in ("document_regularizer_loss", "query_regularizer_loss"):
        assert any(step[part] > 0 for step in ours), f"{part} is 0 at every step"


@pytest.mark.parametrize("runs", [("bert-batch1", "bert-batch1-threshold"),
                                  ("bert-negatives", "bert-negatives-threshold")])
def test_the_thresholds_mask_some_embeddings(runs, trained):
    """Else the runs with thresholds would not test the l0 mask."""
    without, masked = (trained(run).ours for run in runs)
    for part in ("document_regularizer_loss", "query_regularizer_loss"):
        assert any(a[part] != b[part] for a, b in zip(without, masked)), f"{part}: the threshold masked nothing"


@pytest.mark.parametrize("arch", [arch_param(arch, arch) for arch in ARCHS])
def test_trained_model_evaluates_like_the_trainers(arch, trained, tmp_path):
    """The written folder evaluates like the sentence-transformers model trained alongside it."""
    result = trained(f"{arch}-negatives-threshold")
    st_folder = tmp_path / "st-trained"
    result.st_model.save(str(st_folder))
    for code in result.model.source.rglob("*.py"):  # GTE's custom code, which save() leaves behind
        target = st_folder / code.relative_to(result.model.source)
        if target.parent.is_dir() and not target.exists():
            shutil.copy(code, target)
    expected = reference_pipeline(st_folder, registry_loading(arch))
    evaluated = run_limit_eval(result.output, tmp_path / "eval")
    problems = compare(evaluated, expected)
    assert not problems, "\n".join(problems[:20])
    description = evaluated["results"]["model"]["description"]
    assert description["training"]["samples"] == NEGATIVE_SAMPLES
    assert description["training"]["base_model"] == json.loads(
        (result.model.exported / "manifest.json").read_text())["name"]


def test_a_changed_hyper_parameter_breaks_the_agreement(trained, train_set, tmp_path):
    """The negative control: our trainer with another learning rate against the reference."""
    result = trained("bert-batch1")
    completed = finetune(result.model.exported, train_set, tmp_path / "control", *BATCH1, "--lr", "6e-5")
    assert completed.returncode == 0, completed.stderr
    assert loss_mismatches(read_jsonl(tmp_path / "control" / "train_log.jsonl"), result.reference), \
        "a changed learning rate went unnoticed: the comparison cannot fail"
