#!/usr/bin/env -S sh -c 'exec "${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}/bin/python" "$0" "$@"'
"""Seconds per training step: `limit-eval finetune` against sentence-transformers 5.1's
SparseEncoderTrainer, the same model, samples, batch and steps, in one run (a benchmark, not a test).

    bench/finetune_step.py [--binary build/limit-eval] [--layers 12 --hidden 768 --heads 12
                           --intermediate 3072] [--batch-size 8] [--steps 10] [--work DIR]

Builds a random BERT of the given size (base size by default, make_tiny_model.py), exports it with
--trainable, builds a 300-document training set, trains both for --steps steps of --batch-size on
the CPU and prints the median seconds per step of each (the first step, which warms up, excluded)
and their ratio as a markdown row, with the machine's 1-minute load average before and after each
side's run (other processes' load skews both sides; a ratio is only meaningful when the loads match).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "oracle"))


def run(*command: str) -> None:
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=ROOT / "build" / "limit-eval")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--intermediate", type=int, default=3072)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="finetune-bench-"))
    source, exported, train, output = work / "st", work / "exported", work / "train", work / "trained"
    python = sys.executable
    if not (exported / "manifest.json").exists():
        run(python, str(ROOT / "scripts" / "make_tiny_model.py"), "--arch", "bert", "--activation", "relu",
            "--layers", str(args.layers), "--hidden", str(args.hidden), "--heads", str(args.heads),
            "--intermediate", str(args.intermediate), "--initializer-range", "0.02", "--output", str(source),
            "--force")
        run(python, str(ROOT / "scripts" / "export_model.py"), str(source), "--output", str(exported), "--trainable",
            "--force")
    if not (train / "qrels.jsonl").exists():
        run(str(args.binary), "build-train-set", "--output", str(train), "--documents", "300", "--queries", "100",
            "--log-level", "warn")
    samples = args.batch_size * args.steps
    subprocess.run(["rm", "-rf", str(output)], check=True)
    loads = {"ours": [os.getloadavg()[0]]}
    run(str(args.binary), "finetune", "--model", str(exported), "--train", str(train), "--output", str(output),
        "--samples", str(samples), "--batch-size", str(args.batch_size), "--epochs", "1", "--device", "cpu",
        "--log-level", "warn")
    ours = [json.loads(line)["seconds"] for line in (output / "train_log.jsonl").read_text().splitlines()]
    loads["ours"].append(os.getloadavg()[0])

    from st_trainer import train_reference

    reference: list[float] = []
    train_samples = [json.loads(line) for line in (output / "train_samples.jsonl").read_text().splitlines()]
    loads["reference"] = [os.getloadavg()[0]]
    train_reference(source, {}, train_samples, batch_size=args.batch_size, epochs=1, step_seconds=reference)
    loads["reference"].append(os.getloadavg()[0])
    ours_median, reference_median = statistics.median(ours[1:]), statistics.median(reference[1:])
    print("| model | batch | steps | limit-eval finetune (s/step) | SparseEncoderTrainer (s/step) | ratio |")
    print("|---|---|---|---|---|---|")
    print(f"| BERT {args.layers}x{args.hidden} | {args.batch_size} | {args.steps} | {ours_median:.3f} | "
          f"{reference_median:.3f} | {reference_median / ours_median:.2f}x |")
    print(f"\n1-minute load average before/after: limit-eval {loads['ours'][0]:.1f}/{loads['ours'][1]:.1f}, "
          f"SparseEncoderTrainer {loads['reference'][0]:.1f}/{loads['reference'][1]:.1f} ({os.cpu_count()} CPUs)")
    print(f"seconds per step: limit-eval {[round(x, 3) for x in ours]}, trainer {[round(x, 3) for x in reference]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
