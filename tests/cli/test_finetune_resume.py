"""`limit-eval finetune --checkpoint-every K` killed with SIGKILL at a random step and continued
with --resume ends with the same weights, bit for bit, and the same log, as a run never stopped; on
a model with dropout active (the seed's recipe trains in train mode), so the checkpoint must carry
the random generator's state as well as the parameters, AdamW's moments and the step."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)
from tiny_models import tiny_model  # noqa: E402

STEPS = 24  # 12 samples, batch 2, 4 epochs


@pytest.fixture(scope="module")
def model() -> Path:
    return tiny_model("bert", "relu", "--dropout", "0.1", trainable=True).exported


def test_the_trained_module_draws_dropout(model):
    """Else the bit-identical resumption below would not show that the random state is restored."""
    module = torch.jit.load(str(model / "document_train.pt"), map_location="cpu")
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102]])
    first, second = module(ids, torch.ones_like(ids)), module(ids, torch.ones_like(ids))
    assert not torch.equal(first, second)


@pytest.fixture(scope="module")
def train(tmp_path_factory, binary) -> Path:
    folder = tmp_path_factory.mktemp("train") / "set"
    completed = subprocess.run([str(binary), "build-train-set", "--output", str(folder), "--documents", "200",
                                "--queries", "20", "--log-level", "warn"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return folder


def command(binary: Path, model: Path, train: Path, output: Path, *extra: str) -> list[str]:
    return [str(binary), "finetune", "--model", str(model), "--train", str(train), "--output", str(output),
            "--samples", "12", "--batch-size", "2", "--epochs", "4", "--checkpoint-every", "3", "--device", "cpu",
            "--threads", "1", "--log-level", "warn", *extra]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    module = torch.jit.load(str(folder / "document_train.pt"), map_location="cpu")
    tensors = {name: value.detach().clone() for name, value in module.named_parameters()}
    tensors["query_weights"] = torch.from_numpy(
        __import__("numpy").fromfile(folder / "query_weights.f32", dtype="<f4"))
    return tensors


def losses(folder: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (folder / "train_log.jsonl").read_text().splitlines()]


def kill_after_steps(binary: Path, model: Path, train: Path, output: Path, steps: int) -> Path:
    """Starts a run into `output`, kills it with SIGKILL once its log has `steps` lines; returns the
    folder it left (".NAME.partial")."""
    partial = output.parent / f".{output.name}.partial"
    process = subprocess.Popen(command(binary, model, train, output), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and process.poll() is None:
        log = partial / "train_log.jsonl"
        if log.exists() and len(log.read_text().splitlines()) >= steps:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, f"the run was not killed (exit {process.returncode})"
    assert not output.exists() and (partial / "checkpoint.pt").exists()
    return partial


def test_killed_and_resumed_run_ends_bit_identical(binary, model, train, tmp_path):
    straight = tmp_path / "straight"
    completed = subprocess.run(command(binary, model, train, straight), capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr

    resumed = tmp_path / "resumed"
    kill_after = random.Random().randint(4, STEPS - 2)  # past the first checkpoint, before the end
    partial = kill_after_steps(binary, model, train, resumed, kill_after)

    again = subprocess.run(command(binary, model, train, resumed), capture_output=True, text=True, timeout=900)
    assert again.returncode == 2 and "--resume" in again.stderr, "an interrupted run must not be silently replaced"
    completed = subprocess.run(command(binary, model, train, resumed, "--resume"), capture_output=True, text=True,
                               timeout=900)
    assert completed.returncode == 0, completed.stderr
    assert not partial.exists()

    expected, got = weights(straight), weights(resumed)
    assert expected.keys() == got.keys()
    different = [name for name in expected if not torch.equal(expected[name], got[name])]
    assert not different, f"killed after {kill_after} steps: {len(different)} tensors differ, e.g. {different[:3]}"
    assert losses(resumed) == losses(straight)
    manifest = json.loads((resumed / "manifest.json").read_text())
    assert 0 < manifest["training"]["resumed_at_step"] < STEPS


def test_a_log_shorter_than_its_checkpoint_is_refused(binary, model, train, tmp_path):
    """What a crash of the machine could leave if the log were not on disk before the checkpoint:
    --resume must stop (exit 3, naming the log), not pad the log with zero bytes and go on."""
    output = tmp_path / "model"
    partial = kill_after_steps(binary, model, train, output, 5)
    log = partial / "train_log.jsonl"
    log.write_bytes(log.read_bytes()[:10])
    completed = subprocess.run(command(binary, model, train, output, "--resume"), capture_output=True, text=True,
                               timeout=900)
    assert completed.returncode == 3, completed.stderr
    assert str(log) in completed.stderr and "shorter than its checkpoint" in completed.stderr, completed.stderr
    assert not output.exists() and partial.exists(), "a refused resume must leave the interrupted run as it was"
