#!/usr/bin/env python3
"""CPU encoding variants measured in CPU seconds, interleaved in one process (bench/README.md,
"CPU encoding: what was tried").

On a shared machine wall times drift with others' load; the CPU time of a single-threaded process
moves much less, and alternating the variants (A, B, C, A, B, C, ...) in one process puts them in the
same time window. Every variant runs LIMIT-small's documents (title + " " + text, stripped), sorted
longest first, in batches of --batch-size:

  forward mode (default), variants:
    st            sentence-transformers SparseEncoder(--st).encode_document (the reference)
    base          what limit-eval runs: the exported TorchScript module (graph executor optimisation
                  off), then the decoder GEMM on the valid positions only and the max per document
    freeze        the same after torch.jit.freeze
    ofi           the same after torch.jit.optimize_for_inference (freeze + MKLDNN passes)
    llga          oneDNN Graph fusion (profiling executor on): alone in its process, it changes
                  process-wide state
    *-bf16        the module's floating-point weights cast to bf16 first
    gemm, gemm-bf16  torch.mm 2048^3: the same process's GEMM rate, to divide by
  decoder mode (--decoder-rows 2048,1024,...): the decoder GEMM [rows, H] x [H, V] plus the max over
    160-row documents, on --decoder-positions (6,144) random hidden states, one call per block of rows (limit-eval's
    kDecoderRowsCpu).

Prints, per variant, the median and best CPU seconds and wall seconds; with gemm, GFLOP per
CPU-second.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_batches(export: Path, batch_size: int):
    import torch
    from transformers import AutoTokenizer

    texts = []
    with open(ROOT / "data" / "limit-small" / "corpus.jsonl", encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            texts.append((record.get("title", "") + " " + record["text"]).strip())
    tokenizer = AutoTokenizer.from_pretrained(str(export / "tokenizer"))
    encoded = sorted(tokenizer(texts, truncation=True, max_length=512)["input_ids"], key=lambda r: -len(r))
    batches = []
    for start in range(0, len(encoded), batch_size):
        rows = encoded[start:start + batch_size]
        ids = torch.zeros(len(rows), len(rows[0]), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, row in enumerate(rows):
            ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        batches.append((ids, mask))
    return texts, batches, sum(len(r) for r in encoded)


def forward_variant(name: str, export: Path, st_dir: str | None, texts, batches, batch_size: int):
    """A zero-argument callable running the variant once over every batch."""
    import torch

    if name.startswith("gemm"):
        dtype = torch.bfloat16 if name.endswith("bf16") else torch.float32
        a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
        return lambda: torch.mm(a, b)
    if name == "st":
        from sentence_transformers import SparseEncoder

        if not st_dir:
            sys.exit("variant st needs --st")
        model = SparseEncoder(st_dir, device="cpu")
        return lambda: model.encode_document(texts, batch_size=batch_size, show_progress_bar=False)
    base = name.removesuffix("-bf16")
    if base not in ("base", "freeze", "ofi", "llga"):
        sys.exit(f"unknown variant {name}")
    torch._C._set_graph_executor_optimize(base == "llga")
    torch.jit.enable_onednn_fusion(base == "llga")
    module = torch.jit.load(str(export / "document_encoder.pt"), map_location="cpu").eval()
    if name.endswith("-bf16"):
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.data = tensor.data.to(torch.bfloat16)
    decoder = module.decoder_weight
    if base in ("freeze", "llga"):
        module = torch.jit.freeze(module)
    elif base == "ofi":
        module = torch.jit.optimize_for_inference(torch.jit.freeze(module))

    def run():
        with torch.inference_mode():
            for ids, mask in batches:
                hidden = module(ids, mask)
                logits = torch.mm(hidden[mask.bool()], decoder.t())
                start = 0
                for length in mask.sum(1).tolist():
                    logits[start:start + length].amax(0)
                    start += length
    return run


def decoder_variant(rows: int, dtype_name: str, positions: int):
    import torch

    dtype = torch.bfloat16 if dtype_name == "bf16" else torch.float32
    weight = torch.randn(30522, 768).to(dtype)
    hidden = torch.randn(positions, 768).to(dtype)
    pooled = torch.empty(positions // 160, 30522, dtype=dtype)
    buffer = torch.empty(max(rows, 160), 30522, dtype=dtype)

    def run():
        with torch.inference_mode():
            for first in range(0, positions, rows):
                block = hidden[first:first + rows]
                logits = buffer[:block.shape[0]]
                torch.mm(block, weight.t(), out=logits)
                for offset in range(0, block.shape[0] - 159, 160):
                    torch.amax(logits[offset:offset + 160], 0, out=pooled[(first + offset) // 160])
    return run, 2 * positions * 768 * 30522


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export", type=Path, help="exported model folder (forward mode)")
    parser.add_argument("--st", help="its sentence-transformers folder (variant st)")
    parser.add_argument("--variants", default="gemm,st,base,freeze", help="comma-separated, see above")
    parser.add_argument("--decoder-rows", help="decoder mode: comma-separated row blocks, e.g. 2048,1024,640,512")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="decoder mode's dtype")
    parser.add_argument("--decoder-positions", type=int, default=6144, help="decoder mode: hidden states (x 160)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    runs, flops = {}, {}
    if args.decoder_rows:
        for rows in [int(r) for r in args.decoder_rows.split(",")]:
            name = f"decoder rows {rows}"
            runs[name], flops[name] = decoder_variant(rows, args.dtype, args.decoder_positions)
    else:
        if not args.export:
            parser.error("--export is needed (or --decoder-rows)")
        texts, batches, tokens = load_batches(args.export, args.batch_size)
        print(f"LIMIT-small: {len(texts)} documents, {tokens} tokens, {len(batches)} batches", file=sys.stderr)
        for name in args.variants.split(","):
            runs[name] = forward_variant(name, args.export, args.st, texts, batches, args.batch_size)
            if name.startswith("gemm"):
                runs[name] = (lambda mm: lambda: [mm() for _ in range(10)])(runs[name])
                flops[name] = 10 * 2 * 2048 ** 3
    for run in runs.values():  # warm-up (and, for llga, the profiling runs)
        run()
        run()
    cpu = {name: [] for name in runs}
    wall = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            run()
            cpu[name].append(time.process_time() - start_cpu)
            wall[name].append(time.perf_counter() - start_wall)
        print(f"load {os.getloadavg()[0]:.2f}: " + ", ".join(f"{n} {cpu[n][-1]:.3f}" for n in runs), file=sys.stderr)
    for name in runs:
        line = (f"{name}: CPU s median {statistics.median(cpu[name]):.3f} best {min(cpu[name]):.3f}; "
                f"wall s median {statistics.median(wall[name]):.3f}")
        if name in flops:
            line += f"; {flops[name] / statistics.median(cpu[name]) / 1e9:.1f} GFLOP per CPU-second (median)"
        print(line)


if __name__ == "__main__":
    main()
