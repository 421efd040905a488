#!/usr/bin/env python3
"""sentence-transformers' side of bench/gpu/run.sh: times SparseEncoder.encode_document over a corpus
(one process, after a warm-up) in each requested dtype, and encode_query over the queries.

Writes {"documents": {dtype: {"seconds", "peak_allocated_mib"}}, "query_seconds": s} to --output.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts", type=Path, required=True, help="JSON list of document texts")
    parser.add_argument("--queries", type=Path, required=True, help="queries.jsonl")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--load", default="{}", help="JSON: trust_remote_code, model_kwargs, config_kwargs")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SparseEncoder

    torch.backends.cuda.matmul.allow_tf32 = False
    cuda = args.device.startswith("cuda")
    load = json.loads(args.load)
    model = SparseEncoder(args.model, device=args.device, **load)
    texts = json.loads(args.texts.read_text())
    queries = [json.loads(line)["text"] for line in args.queries.read_text(encoding="utf-8").splitlines() if line]

    def sync():
        if cuda:
            torch.cuda.synchronize()

    result = {"documents": {}, "device": args.device, "batch_size": args.batch_size}
    for dtype in [d for d in args.dtypes.split(",") if d]:
        model.to({"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype])
        model.encode_document(texts[:64], batch_size=args.batch_size, show_progress_bar=False)
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        mark = time.perf_counter()
        vectors = model.encode_document(texts, batch_size=args.batch_size, show_progress_bar=False)
        sync()
        seconds = time.perf_counter() - mark
        entry = {"seconds": seconds, "documents": len(texts)}
        if cuda:
            entry["peak_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        result["documents"][dtype] = entry
        del vectors
        print(f"[st] {dtype}: {len(texts)} documents in {seconds:.2f} s", flush=True)
    model.to(torch.float32)
    model.encode_query(queries[:8], batch_size=args.batch_size, show_progress_bar=False)
    sync()
    mark = time.perf_counter()
    model.encode_query(queries, batch_size=args.batch_size, show_progress_bar=False)
    sync()
    result["query_seconds"] = time.perf_counter() - mark
    args.output.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
