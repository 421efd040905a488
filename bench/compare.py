#!/usr/bin/env python3
"""Whole-run speed comparison of limit-eval against the reference Python pipeline.

Called by bench/run.sh (see bench/README.md); run directly with --help for the options.

Every figure of the printed table is measured in this one run on this machine:

  1. document encoding: limit-eval (fp32, bf16) against sentence-transformers
     ``SparseEncoder.encode_document`` (fp32) on random-weight models of the v1 (BERT-base) and
     v2/v3-distill (DistilBERT-base) architectures, on LIMIT-small and a synthetic LIMIT-style
     corpus; docs/s, tokens/s, achieved GFLOP/s (analytic count, bench/README.md) and its share of
     the GEMM peak measured in the same run (torch.mm, same dtype, same threads);
  2. query encoding of LIMIT's 1,000 queries: limit-eval's timings_s.query_encoding against
     ``encode_query``;
  3. retrieval + metrics, 1,000 queries over a 50,000-document LIMIT-style corpus of BM25 vectors:
     limit-eval (timings_s.retrieval + timings_s.evaluation) against the Python path (torch sparse x
     dense product, topk 100, BEIR ``EvaluateRetrieval.evaluate``) on the same vectors;
  4. peak memory (max RSS of each process, /usr/bin/time -v);
  plus the Google Benchmark micro-benchmarks of bench/*_bench.cpp.

The parent process imports neither torch nor transformers: every measured step is a child process
(so its RSS is its own), started with the same thread count. Internal child commands start with
an underscore (_env, _gemm, _st, _pyretrieval, _breakdown, _vectors).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VOCAB_SIZE = 30522
MAX_SEQ = 512
K_VALUES = [2, 10, 20, 100]
METRICS = ["NDCG@10", "Recall@2", "Recall@10", "Recall@20", "Recall@100"]

# The two architectures of the OpenSearch document encoders (random weights, real shapes).
ARCHS = {
    "v1": {"arch": "bert", "layers": 12, "hidden": 768, "heads": 12, "intermediate": 3072,
           "activation": "relu", "label": "v1 arch (BERT-base, 12x768)"},
    "v3-distill": {"arch": "distilbert", "layers": 6, "hidden": 768, "heads": 12, "intermediate": 3072,
                   "activation": "log1p_relu", "label": "v2/v3-distill arch (DistilBERT-base, 6x768)"},
}

GENERATOR_VERSION = "limit-like-1"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def cpu_times() -> list[int] | None:
    """The aggregate "cpu" line of /proc/stat (user nice system idle iowait irq softirq steal ...)."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def sha256_files(*paths: Path, extra: str = "") -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    digest.update(extra.encode())
    return digest.hexdigest()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ----------------------------------------------------------------------------------------------
# Child processes: run with /usr/bin/time -v to get their max RSS.


class ChildFailed(RuntimeError):
    pass


def busy_seconds() -> float | None:
    """CPU seconds spent busy (all cores) since boot, from /proc/stat (everything but idle and iowait)."""
    times = cpu_times()
    if not times:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(times[:8]) - times[3] - times[4]) / hz


def others_share(seconds: float = 2.0) -> float:
    """Share of the machine's CPU that other processes use right now (we sleep while sampling)."""
    before = busy_seconds()
    time.sleep(seconds)
    after = busy_seconds()
    if before is None or after is None:
        return 0.0
    return max(0.0, (after - before) / ((os.cpu_count() or 1) * seconds))


class QuietGate:
    """Before each measurement, waits until other processes use less than `max_share` of the CPUs
    (sampled over 2 s), within a total waiting budget for the whole run."""

    def __init__(self, max_share: float, budget_s: float):
        self.max_share, self.budget = max_share, budget_s
        self.waited = 0.0

    def wait(self, what: str, step_max: float = 45.0) -> float:
        share = others_share()
        waited_here = 0.0
        while (self.max_share > 0 and share >= self.max_share and self.waited < self.budget
               and waited_here < step_max):
            log(f"other processes use {100 * share:.0f}% of the CPUs: waiting before {what} "
                f"({self.budget - self.waited:.0f} s of waiting left)")
            time.sleep(8)
            self.waited += 10
            waited_here += 10
            share = others_share()
        return share


GATE = QuietGate(0.0, 0.0)


def run_child(cmd: list[str], *, log_file: Path, env: dict[str, str] | None = None,
              timeout: float | None = None) -> dict[str, Any]:
    """Runs cmd under /usr/bin/time -v. Returns wall seconds, max RSS (MiB), the child's CPU seconds,
    the other processes' share of the CPUs just before, and their share during the run (busy CPU
    time of the machine minus the child's, over cores x wall)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    rss_file = log_file.with_suffix(".time")
    time_bin = shutil.which("time", path="/usr/bin:/bin")
    full = [time_bin, "-v", "-o", str(rss_file)] + cmd if time_bin else cmd
    others_before = GATE.wait(log_file.stem)
    busy_before = busy_seconds()
    start = time.perf_counter()
    with open(log_file, "w") as out:
        proc = subprocess.run(full, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    wall = time.perf_counter() - start
    busy_after = busy_seconds()
    rss_mib, child_cpu = float("nan"), None
    if time_bin and rss_file.exists():
        text = rss_file.read_text()
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        if match:
            rss_mib = int(match.group(1)) / 1024.0
        user = re.search(r"User time \(seconds\): ([0-9.]+)", text)
        system = re.search(r"System time \(seconds\): ([0-9.]+)", text)
        if user and system:
            child_cpu = float(user.group(1)) + float(system.group(1))
    if proc.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise ChildFailed(f"{' '.join(cmd[:6])} ... exited {proc.returncode}; log {log_file}:\n{tail}")
    others_during = None
    if child_cpu is not None and busy_before is not None and busy_after is not None and wall > 0:
        others_during = max(0.0, (busy_after - busy_before - child_cpu) / ((os.cpu_count() or 1) * wall))
    return {"wall_s": wall, "max_rss_mib": rss_mib, "child_cpu_s": child_cpu, "others_before": others_before,
            "others_during": others_during}


def python_child(args: list[str], *, log_file: Path, python: str) -> dict[str, Any]:
    return run_child([python, str(Path(__file__).resolve())] + args, log_file=log_file)


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# Models (cached by the sha256 of the two scripts and the arguments).


def ensure_model(name: str, spec: dict[str, Any], cache: Path, python: str, logs: Path,
                 tolerance: float | None) -> dict[str, Path]:
    """The sentence-transformers folder (make_tiny_model.py) and its export (export_model.py), each
    cached under a key of the sha256 of the scripts that built it and their arguments."""
    make = ROOT / "scripts" / "make_tiny_model.py"
    export = ROOT / "scripts" / "export_model.py"
    make_args = ["--arch", spec["arch"], "--layers", str(spec["layers"]), "--hidden", str(spec["hidden"]),
                 "--heads", str(spec["heads"]), "--intermediate", str(spec["intermediate"]),
                 "--activation", spec["activation"], "--seed", "0"]
    export_args = ["--name", name] + (["--check-tolerance", repr(tolerance)] if tolerance is not None else [])
    make_key = sha256_files(make, extra=json.dumps(make_args))[:16]
    export_key = sha256_files(make, export, extra=json.dumps([make_args, export_args]))[:16]
    st_dir = cache / f"{name}-st-{make_key}"
    export_dir = cache / f"{name}-export-{export_key}"
    if not (st_dir / "modules.json").is_file():
        if st_dir.exists():
            shutil.rmtree(st_dir)
        log(f"building random-weight model {name} ({spec['label']}) into {st_dir} (cached for later runs)")
        run_child([python, str(make)] + make_args + ["--output", str(st_dir)], log_file=logs / f"make_{name}.log")
    if not (export_dir / "manifest.json").is_file():
        if export_dir.exists():
            shutil.rmtree(export_dir)
        log(f"exporting {name} into {export_dir} (cached for later runs)")
        run_child([python, str(export), str(st_dir), "--output", str(export_dir)] + export_args,
                  log_file=logs / f"export_{name}.log")
    return {"st": st_dir, "export": export_dir, "key": f"{make_key}/{export_key}"}


def matmul_params(spec: dict[str, Any]) -> dict[str, int]:
    h, i, layers = spec["hidden"], spec["intermediate"], spec["layers"]
    return {"encoder": layers * (4 * h * h + 2 * h * i), "head_transform": h * h, "decoder": h * VOCAB_SIZE}


def forward_flops(spec: dict[str, Any], lengths: list[int]) -> dict[str, float]:
    """Analytic FLOPs of the forward pass over documents of these token counts (bench/README.md)."""
    p = matmul_params(spec)
    tokens = sum(lengths)
    attention = sum(4 * spec["layers"] * n * n * spec["hidden"] for n in lengths)
    encoder = 2 * p["encoder"] * tokens + attention
    head = 2 * (p["head_transform"] + p["decoder"]) * tokens
    return {"encoder": float(encoder), "head": float(head), "total": float(encoder + head),
            "attention": float(attention)}


# ----------------------------------------------------------------------------------------------
# Datasets.


def syllable_name(rng: random.Random, syllables: int) -> str:
    onsets = ["b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pr", "r",
              "s", "sh", "st", "t", "th", "tr", "v", "w", "y", "z"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ie", "ou", "y"]
    codas = ["", "", "", "n", "r", "l", "s", "th", "ck", "m", "t", "nd"]
    word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syllables))
    return word.capitalize()


def limit_like_text(name: str, attributes: list[str]) -> str:
    if len(attributes) == 1:
        return f"{name} likes {attributes[0]}."
    return f"{name} likes {', '.join(attributes[:-1])} and {attributes[-1]}."


def generate_limit_like(out: Path, documents: int, seed: int) -> dict[str, Any]:
    """A LIMIT-shaped corpus (python fallback of `limit-eval generate`).

    LIMIT's 1,000 queries and 2,000 qrels (data/limit) are kept; the 46 documents they judge
    relevant are rebuilt from the qrels (each person likes the attributes of the queries that
    judge them, padded to 45 attributes as in LIMIT-small); the other documents are people with
    seeded syllable names who like 45 attributes drawn from limit-attributes.txt minus the query
    attributes (so the qrels stay complete).
    """
    if documents < 46:
        raise SystemExit("the synthetic corpus needs at least the 46 documents LIMIT's qrels judge")
    rng = random.Random(seed)
    attributes = [line.strip() for line in (ROOT / "data" / "limit-attributes.txt").read_text().splitlines()
                  if line.strip()]
    queries = [json.loads(line) for line in (ROOT / "data" / "limit" / "queries.jsonl").read_text().splitlines()
               if line.strip()]
    qrels = [json.loads(line) for line in (ROOT / "data" / "limit" / "qrels.jsonl").read_text().splitlines()
             if line.strip()]
    query_attribute = {}
    for q in queries:
        match = re.fullmatch(r"Who likes (.*)\?", q["text"])
        query_attribute[q["_id"]] = match.group(1) if match else q["text"]
    used = set(query_attribute.values())
    free = [a for a in attributes if a not in used]
    per_doc = 45
    relevant: dict[str, list[str]] = {}
    for r in qrels:
        relevant.setdefault(r["corpus-id"], []).append(query_attribute[r["query-id"]])
    corpus = []
    names = set(relevant)
    for name in sorted(relevant):
        attrs = relevant[name] + rng.sample(free, max(0, per_doc - len(relevant[name])))
        rng.shuffle(attrs)
        corpus.append({"_id": name, "title": "", "text": limit_like_text(name, attrs)})
    while len(corpus) < documents:
        name = f"{syllable_name(rng, rng.choice([1, 2, 2, 3]))} {syllable_name(rng, rng.choice([2, 2, 3]))}"
        if name in names:
            continue
        names.add(name)
        corpus.append({"_id": name, "title": "", "text": limit_like_text(name, rng.sample(free, per_doc))})
    rng.shuffle(corpus)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w") as f:
        for doc in corpus:
            f.write(json.dumps(doc) + "\n")
    shutil.copyfile(ROOT / "data" / "limit" / "queries.jsonl", out / "queries.jsonl")
    shutil.copyfile(ROOT / "data" / "limit" / "qrels.jsonl", out / "qrels.jsonl")
    return {"generator": f"bench/compare.py {GENERATOR_VERSION}", "documents": documents, "seed": seed}


def ensure_synthetic(cache: Path, documents: int, seed: int) -> Path:
    import inspect

    code = "".join(inspect.getsource(f) for f in (generate_limit_like, syllable_name, limit_like_text))
    key = sha256_files(ROOT / "data" / "limit" / "queries.jsonl", ROOT / "data" / "limit" / "qrels.jsonl",
                       ROOT / "data" / "limit-attributes.txt", extra=f"{code}/{documents}/{seed}")[:12]
    folder = cache / f"limit-like-{documents}-{key}"
    if (folder / "generator.json").is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=cache))
    info = generate_limit_like(tmp, documents, seed)
    write_json(tmp / "generator.json", info)
    os.replace(tmp, folder)
    return folder


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def dataset_texts(dataset: Path) -> tuple[list[str], list[str]]:
    docs = load_jsonl(dataset / "corpus.jsonl")
    queries = load_jsonl(dataset / "queries.jsonl")
    texts = [((d.get("title") or "") + " " + d["text"]).strip() for d in docs]
    return texts, [q["text"] for q in queries]


# ----------------------------------------------------------------------------------------------
# Child commands (each runs in its own process).


def child_env(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    info = {
        "torch": torch.__version__,
        "config": torch.__config__.show(),
        "parallel_info": torch.__config__.parallel_info(),
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_bf16_supported": bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()),
        "mkl_available": torch.backends.mkl.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }
    try:
        import sentence_transformers
        import transformers

        info["transformers"] = transformers.__version__
        info["sentence_transformers"] = sentence_transformers.__version__
    except ImportError:
        pass
    write_json(Path(args.out), info)


def child_gemm(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    n = args.size
    out: dict[str, Any] = {"size": n, "threads": torch.get_num_threads(), "repeats": args.repeats}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=generator).to(dtype)
        b = torch.randn(n, n, generator=generator).to(dtype)
        torch.mm(a, b)  # warm-up (oneDNN/MKL kernel selection)
        rates = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            rates.append(2.0 * n ** 3 / (time.perf_counter() - start) / 1e9)
        out[name] = {"best_gflops": max(rates), "median_gflops": median(rates), "all": rates}
    write_json(Path(args.out), out)


def token_lengths(tokenizer_dir: Path, texts: list[str], special: bool) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    encoded = tokenizer(texts, add_special_tokens=special, truncation=True, max_length=MAX_SEQ)["input_ids"]
    return [len(ids) for ids in encoded]


def child_st(args: argparse.Namespace) -> None:
    """sentence-transformers' encode_document / encode_query, the reference pipeline."""
    import resource

    import torch

    torch.set_num_threads(args.threads)
    from sentence_transformers import SparseEncoder

    texts, queries = dataset_texts(Path(args.dataset))
    out: dict[str, Any] = {"threads": torch.get_num_threads(), "documents": len(texts), "queries": len(queries)}
    out["doc_lengths"] = token_lengths(Path(args.export) / "tokenizer", texts, True)
    out["query_tokens"] = sum(token_lengths(Path(args.export) / "tokenizer", queries, False))
    start = time.perf_counter()
    model = SparseEncoder(args.st, device="cpu")
    out["model_load_s"] = time.perf_counter() - start
    # Warm-up, as limit-eval's probe batch at model load: first-call kernel selection is not timed.
    model.encode_document(texts[:2], batch_size=args.batch_size, show_progress_bar=False)
    model.encode_query(queries[:2], batch_size=args.batch_size, show_progress_bar=False)
    doc_times, nnz = [], 0
    for _ in range(args.doc_repeats):
        start = time.perf_counter()
        embeddings = model.encode_document(texts, batch_size=args.batch_size, show_progress_bar=False)
        doc_times.append(time.perf_counter() - start)
        nnz = int(embeddings.coalesce()._nnz()) if embeddings.is_sparse else int((embeddings != 0).sum())
        del embeddings
    out["corpus_encoding_s"] = doc_times
    out["document_nnz"] = nnz
    query_times = []
    for _ in range(args.query_repeats):
        start = time.perf_counter()
        q = model.encode_query(queries, batch_size=args.batch_size, show_progress_bar=False)
        query_times.append(time.perf_counter() - start)
        del q
    out["query_encoding_s"] = query_times
    out["self_max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    write_json(Path(args.out), out)


def child_breakdown(args: argparse.Namespace) -> None:
    """Where the forward time goes, on the longest `max_docs` documents, batch by batch:
    HF tokenization, the eager encoder alone, the eager encoder + MLM head, SPLADE pooling, and the
    exported TorchScript module (what limit-eval runs) in fp32 and bf16."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    texts, _ = dataset_texts(Path(args.dataset))
    tokenizer = AutoTokenizer.from_pretrained(str(Path(args.export) / "tokenizer"))
    start = time.perf_counter()
    encoded = tokenizer(texts, add_special_tokens=True, truncation=True, max_length=MAX_SEQ)["input_ids"]
    tokenize_all_s = time.perf_counter() - start
    order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))[: args.max_docs]
    batches = []
    for s in range(0, len(order), args.batch_size):
        rows = [encoded[i] for i in order[s:s + args.batch_size]]
        length = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), length, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, row in enumerate(rows):
            ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        batches.append((ids, mask))
    mlm_dir = Path(args.st) / "document_0_MLMTransformer"
    if not mlm_dir.is_dir():
        candidates = [p.parent for p in Path(args.st).rglob("config.json") if (p.parent / "model.safetensors").exists()]
        mlm_dir = candidates[0]
    mlm = AutoModelForMaskedLM.from_pretrained(str(mlm_dir)).eval()
    base = getattr(mlm, mlm.base_model_prefix)
    torch._C._set_graph_executor_optimize(False)  # as limit-eval does (setGraphExecutorOptimize)
    traced = torch.jit.load(str(Path(args.export) / "document_encoder.pt"), map_location="cpu").eval()

    def timed(fn, profile: str | None = None) -> float:
        fn(batches[0][0][:2, :16], batches[0][1][:2, :16])  # warm-up on a small slice
        if profile:
            # torch.profiler around the timed pass: per-op self CPU time (the ops are large, the
            # profiler's own cost is negligible next to them).
            from torch.profiler import ProfilerActivity, profile as torch_profile

            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                start = time.perf_counter()
                for ids, mask in batches:
                    fn(ids, mask)
                seconds = time.perf_counter() - start
            ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
            total = sum(e.self_cpu_time_total for e in ops) or 1
            out[f"profile_{profile}"] = [{"op": e.key, "self_s": e.self_cpu_time_total / 1e6,
                                          "share": e.self_cpu_time_total / total, "calls": e.count}
                                         for e in ops[:10]]
            return seconds
        start = time.perf_counter()
        for ids, mask in batches:
            fn(ids, mask)
        return time.perf_counter() - start

    out: dict[str, Any] = {"documents": len(order), "tokens": sum(len(encoded[i]) for i in order),
                           "padded_tokens": sum(int(i.numel()) for i, _ in batches),
                           "tokenize_all_docs_s": tokenize_all_s, "all_docs": len(texts)}
    with torch.inference_mode():
        out["eager_encoder_fp32_s"] = timed(lambda i, m: base(input_ids=i, attention_mask=m))
        pooling = [0.0]

        def mlm_and_pool(i, m):
            logits = mlm(input_ids=i, attention_mask=m).logits
            t0 = time.perf_counter()
            # sentence-transformers' SpladePooling (max): relu(log1p) of logits * mask, max over tokens
            values, _ = torch.max(torch.log1p(torch.relu(logits * m.unsqueeze(-1).to(logits.dtype))), dim=1)
            pooling[0] += time.perf_counter() - t0
            return values

        total = timed(mlm_and_pool)
        pooling_s = pooling[0] - 0.0
        # the warm-up's pooling is on a 2x16 slice: negligible, but subtract nothing else
        out["pooling_reference_s"] = pooling_s
        out["eager_mlm_fp32_s"] = total - pooling_s
        def exported_forward(i, m):
            # What limit-eval runs per batch: the module, then (hidden_states exports) the decoder on
            # the valid positions only.
            result = traced(i, m)
            if hasattr(traced, "decoder_weight"):
                result = torch.mm(result[m.bool()], traced.decoder_weight.t())
            return result

        out["torchscript_fp32_s"] = timed(exported_forward, "torchscript_fp32")
        for p in traced.parameters():
            if p.is_floating_point():
                p.data = p.data.to(torch.bfloat16)
        for b in traced.buffers():
            if b.is_floating_point():
                b.data = b.data.to(torch.bfloat16)
        out["torchscript_bf16_s"] = timed(exported_forward, "torchscript_bf16")
    write_json(Path(args.out), out)


def child_vectors(args: argparse.Namespace) -> None:
    """limit-eval --save-vectors output (jsonl of {term: weight}) -> npz CSR arrays."""
    import numpy as np

    folder = Path(args.vectors)
    terms: dict[str, int] = {}
    out: dict[str, Any] = {}
    for side in ("corpus", "queries"):
        indptr, indices, values, ids = [0], [], [], []
        with open(folder / f"{side}.jsonl") as f:
            for line in f:
                record = json.loads(line)
                ids.append(record["_id"])
                for term, weight in record["vector"].items():
                    indices.append(terms.setdefault(term, len(terms)))
                    values.append(weight)
                indptr.append(len(indices))
        out[f"{side}_indptr"] = np.asarray(indptr, dtype=np.int64)
        out[f"{side}_indices"] = np.asarray(indices, dtype=np.int64)
        out[f"{side}_values"] = np.asarray(values, dtype=np.float32)
        out[f"{side}_ids"] = np.asarray(ids, dtype=object)
    out["cols"] = np.asarray([len(terms)])
    np.savez(args.out, **out)


def child_pyretrieval(args: argparse.Namespace) -> None:
    """The seed's Python retrieval path on limit-eval's own vectors: scores = docs x query (torch
    sparse CSR times dense query block), topk 100 per query, BEIR EvaluateRetrieval.evaluate."""
    import resource

    import numpy as np
    import torch
    from beir.retrieval.evaluation import EvaluateRetrieval

    torch.set_num_threads(args.threads)
    data = np.load(args.npz, allow_pickle=True)
    cols = int(data["cols"][0])
    doc_ids = [str(x) for x in data["corpus_ids"]]
    query_ids = [str(x) for x in data["queries_ids"]]
    qrels: dict[str, dict[str, int]] = {}
    for r in load_jsonl(Path(args.dataset) / "qrels.jsonl"):
        qrels.setdefault(r["query-id"], {})[r["corpus-id"]] = int(r["score"])
    logging_off()
    out: dict[str, Any] = {"documents": len(doc_ids), "queries": len(query_ids), "cols": cols,
                           "threads": torch.get_num_threads(), "runs": []}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        docs = torch.sparse_csr_tensor(torch.from_numpy(data["corpus_indptr"]),
                                       torch.from_numpy(data["corpus_indices"]),
                                       torch.from_numpy(data["corpus_values"]), size=(len(doc_ids), cols))
        queries = torch.sparse_csr_tensor(torch.from_numpy(data["queries_indptr"]),
                                          torch.from_numpy(data["queries_indices"]),
                                          torch.from_numpy(data["queries_values"]),
                                          size=(len(query_ids), cols)).to_dense()
        t1 = time.perf_counter()
        results: dict[str, dict[str, float]] = {}
        score_s = 0.0
        for s in range(0, len(query_ids), args.chunk):
            block = queries[s:s + args.chunk]
            c0 = time.perf_counter()
            scores = (docs @ block.T).T.contiguous()  # [chunk, docs]
            top = torch.topk(scores, k=min(args.top_k, len(doc_ids)), dim=1)
            score_s += time.perf_counter() - c0
            values, rows = top.values.tolist(), top.indices.tolist()
            for j, (vals, idx) in enumerate(zip(values, rows)):
                results[query_ids[s + j]] = {doc_ids[d]: v for d, v in zip(idx, vals)}
        t2 = time.perf_counter()
        ndcg, _map, recall, precision = EvaluateRetrieval.evaluate(qrels, results, K_VALUES)
        t3 = time.perf_counter()
        out["runs"].append({"prepare_s": t1 - t0, "score_topk_s": score_s, "retrieval_s": t2 - t0,
                            "evaluation_s": t3 - t2, "total_s": t3 - t0})
    out["metrics"] = {**ndcg, **recall}
    out["self_max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    write_json(Path(args.out), out)


def logging_off() -> None:
    import logging

    logging.disable(logging.WARNING)


# ----------------------------------------------------------------------------------------------
# The parent: plan, run, tabulate.


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.work = Path(args.work).resolve()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.logs = self.work / "logs" / stamp
        self.cache = self.work / "cache"
        self.runs = self.work / "runs" / stamp
        for d in (self.logs, self.cache, self.runs):
            d.mkdir(parents=True, exist_ok=True)
        self.python = args.python
        self.binary = Path(args.binary).resolve()
        self.threads = args.threads or os.cpu_count() or 1
        help_text = subprocess.run([str(self.binary), "--help"], capture_output=True, text=True).stdout
        self.no_cache = ["--no-cache"] if "--no-cache" in help_text else []
        self.has_generate = subprocess.run([str(self.binary), "generate", "--help"], capture_output=True,
                                           text=True).returncode == 0
        self.counter = 0
        self.last_stat = cpu_times()
        self.result: dict[str, Any] = {"loadavg": {}, "encoding": [], "query_encoding": [], "retrieval": {},
                                       "breakdown": {}, "micro": [], "parity": []}

    def note_load(self, label: str) -> None:
        """Load average now, and the CPU time stolen by the hypervisor since the previous note."""
        self.result["loadavg"][label] = loadavg()
        stat = cpu_times()
        if stat and self.last_stat:
            delta = [a - b for a, b in zip(stat, self.last_stat)]
            total = sum(delta[:8]) or 1
            self.result.setdefault("steal_pct", {})[label] = round(100.0 * delta[7] / total, 1)
        self.last_stat = stat

    def child(self, command: str, options: list[str], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        self.counter += 1
        out = self.runs / f"{self.counter:03d}_{name}.json"
        usage = python_child([command] + options + ["--out", str(out)], log_file=self.logs / f"{self.counter:03d}_{name}.log",
                             python=self.python)
        return read_json(out), usage

    def limit_eval(self, options: list[str], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        self.counter += 1
        out = self.runs / f"{self.counter:03d}_{name}.json"
        usage = run_child([str(self.binary)] + options + ["--threads", str(self.threads), "--output", str(out),
                                                          "--log-level", "warn"] + self.no_cache,
                          log_file=self.logs / f"{self.counter:03d}_{name}.log")
        return read_json(out), usage

    # -- datasets ------------------------------------------------------------------------------

    def synthetic(self, documents: int, *, limit_queries: bool) -> Path:
        """A LIMIT-style corpus of `documents` documents: `limit-eval generate` when the binary has it,
        else this script's generator. limit_queries: use LIMIT's 1,000 queries and qrels."""
        seed = self.args.seed
        if self.has_generate:
            # Deterministic ("the same options and seed give the same bytes"): generated afresh
            # (cheap), kept under the hash of its files so that reruns reuse the same folder.
            tmp = Path(tempfile.mkdtemp(prefix=f".generate-{documents}-", dir=self.cache))
            shutil.rmtree(tmp)
            run_child([str(self.binary), "generate", "--output", str(tmp), "--documents", str(documents),
                       "--queries", "1000", "--seed", str(seed)], log_file=self.logs / f"generate_{documents}.log")
            if limit_queries:
                shutil.copyfile(ROOT / "data" / "limit" / "queries.jsonl", tmp / "queries.jsonl")
                shutil.copyfile(ROOT / "data" / "limit" / "qrels.jsonl", tmp / "qrels.jsonl")
            key = sha256_files(tmp / "corpus.jsonl", tmp / "queries.jsonl", tmp / "qrels.jsonl")[:12]
            folder = self.cache / f"generated-{documents}-{key}"
            if (folder / "generator.json").is_file():
                shutil.rmtree(tmp)
                return folder
            if folder.exists():
                shutil.rmtree(folder)
            write_json(tmp / "generator.json", {
                "generator": "limit-eval generate" + (" (LIMIT's queries and qrels)" if limit_queries else ""),
                "documents": documents, "seed": seed})
            os.replace(tmp, folder)
            return folder
        return ensure_synthetic(self.cache, documents, seed)

    # -- steps ---------------------------------------------------------------------------------

    def environment(self) -> None:
        flags = set()
        cpu = "?"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                if line.startswith("model name") and cpu == "?":
                    cpu = line.split(":", 1)[1].strip()
        except OSError:
            pass
        env, _ = self.child("_env", ["--threads", str(self.threads)], "env")
        config = env["config"]
        blas = [l.strip() for l in config.splitlines()
                if re.search(r"Math Kernel|MKL-DNN|oneDNN|OpenBLAS|BLAS_INFO", l)]
        self.result["environment"] = {
            "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "host": platform.node(),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "threads": self.threads,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1),
            "cpu_flags": {f: (f in flags) for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16",
                                                    "amx_tile", "amx_int8")},
            "blas_env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS", "MKL_", "OMP_", "KMP_",
                                                                             "DNNL", "ONEDNN"))},
            "torch": env["torch"], "transformers": env.get("transformers"),
            "sentence_transformers": env.get("sentence_transformers"),
            "torch_blas": blas, "torch_cpu_capability": env["cpu_capability"],
            "mkldnn_bf16_supported": env["mkldnn_bf16_supported"],
            "torch_parallel": [l for l in env["parallel_info"].splitlines() if "threads" in l.lower()
                               or "backend" in l.lower()],
            "binary": str(self.binary),
            "limit_eval_cache_disabled": bool(self.no_cache),
        }

    def gemm(self, label: str, repeats: int | None = None) -> None:
        g, _ = self.child("_gemm", ["--threads", str(self.threads), "--size", str(self.args.gemm_size),
                                    "--repeats", str(repeats or self.args.gemm_repeats)],
                          "gemm_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", label))
        self.result.setdefault("gemm", {})[label] = g

    def gemm_peak(self, dtype: str) -> float:
        return max(g[dtype]["best_gflops"] for g in self.result["gemm"].values())

    def encoding(self, name: str, model: dict[str, Path], dataset: Path, label: str) -> None:
        spec = ARCHS[name]
        b = str(self.args.batch_size)
        entry: dict[str, Any] = {"model": name, "arch": spec["label"], "dataset": label, "dataset_path": str(dataset),
                                 "st": [], "fp32": [], "bf16": [], "auto": []}
        # A short GEMM probe just before: the machine's speed drifts (shared host), this shows by how much.
        self.gemm(f"before {name}/{label}", repeats=3)
        entry["gemm_probe"] = {d: self.result["gemm"][f"before {name}/{label}"][d]["best_gflops"] for d in ("fp32", "bf16")}
        # sentence-transformers: one process, `repeats` timed encode_document calls after the warm-up.
        self.note_load(f"{name}/{label}/st")
        st, usage = self.child("_st", ["--st", str(model["st"]), "--export", str(model["export"]), "--dataset",
                                       str(dataset), "--threads", str(self.threads), "--batch-size", b,
                                       "--doc-repeats", str(self.args.repeats),
                                       "--query-repeats", str(self.args.query_repeats)], f"st_{name}_{label}")
        st["max_rss_mib"] = usage["max_rss_mib"]
        st["others_during"] = usage["others_during"]
        entry["st"].append(st)
        entry["doc_lengths"] = st["doc_lengths"]
        entry["query_tokens"] = st["query_tokens"]
        log(f"  {name} {label}: sentence-transformers fp32 "
            + ", ".join(f"{t:.2f}" for t in st["corpus_encoding_s"]) + " s")
        # limit-eval: one process per run (model load not timed: timings_s.corpus_encoding).
        for dtype in self.args.dtypes:
            runs = self.args.bf16_repeats if dtype == "bf16" else self.args.repeats
            for rep in range(runs):
                self.note_load(f"{name}/{label}/{dtype}/{rep}")
                res, usage = self.limit_eval(["--model", str(model["export"]), "--dataset", str(dataset), "--device",
                                              "cpu", "--dtype", dtype, "--batch-size", b], f"le_{name}_{label}_{dtype}")
                self.result.setdefault("limit_eval_environment", res["environment"])
                if dtype == "auto":
                    # What --dtype auto chose on this machine (the results JSON's environment.dtype).
                    entry["auto_resolved"] = res["environment"]["dtype"]
                entry[dtype].append({"timings_s": res["timings_s"], "metrics": res["metrics"],
                                     "threads": res["environment"].get("threads"),
                                     "documents": res["dataset"]["documents"], "queries": res["dataset"]["queries"],
                                     "max_rss_mib": usage["max_rss_mib"], "wall_s": usage["wall_s"],
                                     "others_during": usage["others_during"], "others_before": usage["others_before"]})
                log(f"  {name} {label}: limit-eval {dtype} {res['timings_s']['corpus_encoding']:.2f} s")
        entry["flops"] = forward_flops(spec, entry["doc_lengths"])
        self.result["encoding"].append(entry)

    def breakdown(self, name: str, model: dict[str, Path], dataset: Path) -> None:
        b, _ = self.child("_breakdown", ["--st", str(model["st"]), "--export", str(model["export"]), "--dataset",
                                         str(dataset), "--threads", str(self.threads), "--batch-size",
                                         str(self.args.batch_size), "--max-docs", str(self.args.breakdown_docs)],
                          f"breakdown_{name}")
        self.result["breakdown"][name] = b

    def retrieval(self) -> None:
        n = self.args.retrieval_docs
        dataset = self.synthetic(n, limit_queries=False)
        vectors = self.work / "vectors" / dataset.name
        if vectors.exists():
            shutil.rmtree(vectors)
        npz = vectors.with_suffix(".npz")
        npz.unlink(missing_ok=True)
        # An unmeasured run writes the vectors the Python path reads; the measured runs write none.
        self.limit_eval(["--model", "bm25", "--dataset", str(dataset), "--save-vectors", str(vectors)],
                        f"le_bm25_{n}_save_vectors")
        python_child(["_vectors", "--vectors", str(vectors), "--out", str(npz)], log_file=self.logs / "vectors.log",
                     python=self.python)
        runs = []
        for rep in range(self.args.retrieval_repeats):
            res, usage = self.limit_eval(["--model", "bm25", "--dataset", str(dataset)], f"le_bm25_{n}")
            runs.append({"timings_s": res["timings_s"], "metrics": res["metrics"], "max_rss_mib": usage["max_rss_mib"],
                         "others_during": usage["others_during"],
                         "documents": res["dataset"]["documents"], "queries": res["dataset"]["queries"],
                         "nnz": res.get("vectors", {})})
            t = res["timings_s"]
            log(f"  limit-eval bm25 {n} docs: retrieval {t['retrieval'] * 1e3:.1f} ms + evaluation "
                f"{t['evaluation'] * 1e3:.1f} ms")
        py, usage = self.child("_pyretrieval", ["--npz", str(npz), "--dataset", str(dataset), "--threads",
                                                str(self.threads), "--repeats", str(self.args.retrieval_repeats)],
                               f"py_retrieval_{n}")
        py["max_rss_mib"] = usage["max_rss_mib"]
        py["others_during"] = usage["others_during"]
        self.result["retrieval"] = {"dataset": str(dataset), "documents": n, "limit_eval": runs, "python": py,
                                    "generator": read_json(dataset / "generator.json")}
        log(f"  python path: {median([r['total_s'] for r in py['runs']]) * 1e3:.0f} ms")

    def micro(self) -> None:
        bench_dir = Path(self.args.bench_dir)
        for exe in sorted(bench_dir.glob("*_bench")):
            if not os.access(exe, os.X_OK):
                continue
            out = self.runs / f"micro_{exe.name}.json"
            run_child([str(exe), f"--benchmark_repetitions={self.args.micro_repetitions}",
                       "--benchmark_report_aggregates_only=true", f"--benchmark_out={out}",
                       "--benchmark_out_format=json", f"--benchmark_min_time={self.args.micro_min_time}"],
                      log_file=self.logs / f"micro_{exe.name}.log")
            data = read_json(out)
            for b in data["benchmarks"]:
                if b.get("aggregate_name", "median" if self.args.micro_repetitions <= 1 else "") != "median":
                    continue
                self.result["micro"].append({"executable": exe.name, "name": b["run_name"],
                                             "real_time": b["real_time"], "time_unit": b["time_unit"],
                                             "items_per_second": b.get("items_per_second"),
                                             "tokens_per_s": b.get("tokens_per_s"),
                                             "bytes_per_second": b.get("bytes_per_second")})


# ----------------------------------------------------------------------------------------------
# Tables.


def fmt_num(x: float, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:,.{digits}f}"


def share_cell(values: list[float | None]) -> str:
    """Median share of the CPUs that other processes used while the measured processes ran."""
    known = [v for v in values if v is not None]
    return f"{100 * median(known):.0f}%" if known else "n/a"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render(result: dict[str, Any]) -> str:
    env = result["environment"]
    gemm = result["gemm"]
    peak = {d: max(g[d]["best_gflops"] for g in gemm.values()) for d in ("fp32", "bf16")}
    typical = {d: median([x for g in gemm.values() for x in g[d]["all"]]) for d in ("fp32", "bf16")}
    out = []
    flags = env["cpu_flags"]
    out.append(f"Date {env['date_utc']}; host {env['host']}; CPU {env['cpu']} ({env['cores']} cores, "
               f"{env['memory_gib']} GiB); threads {env['threads']} (limit-eval --threads and torch.set_num_threads).")
    out.append("CPU flags: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()) + ".")
    out.append(f"torch {env['torch']} (transformers {env['transformers']}, sentence-transformers "
               f"{env['sentence_transformers']}); CPU capability {env['torch_cpu_capability']}; "
               f"oneDNN bf16 usable: {env['mkldnn_bf16_supported']}. BLAS: "
               + "; ".join(l.lstrip('- ') for l in env["torch_blas"] if "BLAS_INFO" not in l) +
               " (limit-eval links the same libtorch).")
    le_env = result.get("limit_eval_environment")
    if le_env:
        out.append(f"limit-eval {le_env.get('limit_eval_version')} (commit {le_env.get('git_commit')}), "
                   f"binary {env['binary']}.")
    if env["blas_env"]:
        out.append("BLAS environment: " + ", ".join(f"{k}={v}" for k, v in sorted(env["blas_env"].items())) + ".")
    loads = list(result["loadavg"].values())
    out.append(f"Load average (1/5/15 min) at start {loads[0]}, at end {loads[-1]}; "
               f"max 1-min load seen {max(float(l.split()[0]) for l in loads):.2f} "
               "(other processes share the machine: see the per-step loads in the JSON).")
    probes = {k: g for k, g in gemm.items() if k.startswith("before ")}
    out.append(f"GEMM peak = best torch.mm {gemm['start']['size']}^3 of the run (best of {gemm['start']['repeats']} at "
               f"start and end, of 3 before each encoding group): **fp32 {peak['fp32']:.1f} GFLOP/s, bf16 "
               f"{peak['bf16']:.1f} GFLOP/s**; median of all {sum(len(g['fp32']['all']) for g in gemm.values())} "
               f"samples (\"typical\"): fp32 {typical['fp32']:.1f}, bf16 {typical['bf16']:.1f}. At start: fp32 {gemm['start']['fp32']['best_gflops']:.1f}, bf16 "
               f"{gemm['start']['bf16']['best_gflops']:.1f}; at end: fp32 {gemm['end']['fp32']['best_gflops']:.1f}, bf16 "
               f"{gemm['end']['bf16']['best_gflops']:.1f}"
               + (f"; probes: fp32 {min(g['fp32']['best_gflops'] for g in probes.values()):.1f}-"
                  f"{max(g['fp32']['best_gflops'] for g in probes.values()):.1f}, bf16 "
                  f"{min(g['bf16']['best_gflops'] for g in probes.values()):.1f}-"
                  f"{max(g['bf16']['best_gflops'] for g in probes.values()):.1f}" if probes else "") + ".")
    steal = result.get("steal_pct", {})
    if steal:
        out.append(f"CPU time stolen by the hypervisor between steps: max {max(steal.values()):.1f}% "
                   f"(median {median(list(steal.values())):.1f}%).")
    out.append("")

    # 1. document encoding
    rows = []
    ratios = []
    for e in result["encoding"]:
        lengths = e["doc_lengths"]
        docs, tokens, flops = len(lengths), sum(lengths), e["flops"]["total"]
        corpus = f"{e['dataset']} ({docs:,} docs, {tokens:,} tok)"
        st_times = [t for s in e["st"] for t in s["corpus_encoding_s"]]
        st_t = median(st_times)
        engines = [("sentence-transformers", "fp32", st_times, [s["max_rss_mib"] for s in e["st"]],
                    [s.get("others_during") for s in e["st"]])]
        for dtype in ("fp32", "bf16", "auto"):
            if e.get(dtype):
                engines.append(("limit-eval", dtype, [r["timings_s"]["corpus_encoding"] for r in e[dtype]],
                                [r["max_rss_mib"] for r in e[dtype]], [r.get("others_during") for r in e[dtype]]))
        for engine, dtype, times, rss, others in engines:
            t = median(times)
            gflops = flops / t / 1e9
            ratio = st_t / t
            precision = e.get("auto_resolved", "fp32") if dtype == "auto" else dtype
            label = f"auto ({precision})" if dtype == "auto" else dtype
            if engine == "limit-eval":
                ratios.append((e["model"], e["dataset"], label, ratio, gflops / peak["fp32"]))
            rows.append([e["arch"], corpus, engine, label, f"{t:.2f} (n={len(times)})", fmt_num(docs / t, 1),
                         fmt_num(tokens / t), fmt_num(gflops, 1),
                         f"{100 * gflops / peak[precision]:.0f}% ({100 * gflops / typical[precision]:.0f}%)",
                         f"{ratio:.2f}x", fmt_num(median(rss)), share_cell(others)])
    out.append("### 1. Document encoding (corpus encoding incl. tokenization; median wall seconds)")
    out.append("")
    out.append(md_table(["model", "corpus", "engine", "dtype", "time (s)", "docs/s", "tokens/s", "GFLOP/s",
                         "% of GEMM peak, same dtype (of typical GEMM)", "vs ST fp32", "peak RSS (MiB)",
                         "others' CPU use"], rows))
    out.append("")

    mismatched = [f"{e['model']}/{e['dataset']}" for e in result["encoding"]
                  if {r.get("threads") for d in ("fp32", "bf16", "auto") for r in e.get(d, [])} | {x["threads"] for x in e["st"]}
                  != {env["threads"]}]
    if mismatched:
        out.append(f"WARNING: thread counts differ from {env['threads']} in: {', '.join(mismatched)}")
        out.append("")

    # 2. query encoding
    rows = []
    q_ratios = []
    for e in result["encoding"]:
        if not e.get("query_row"):
            continue
        st_q = [t for s in e["st"] for t in s["query_encoding_s"]]
        le_q = [r["timings_s"]["query_encoding"] for d in ("fp32", "bf16") for r in e.get(d, [])]
        n = e["st"][0]["queries"]
        for engine, times in (("sentence-transformers encode_query", st_q), ("limit-eval", le_q)):
            t = median(times)
            rows.append([e["arch"], f"{e['dataset']} queries ({n:,}, {e['query_tokens']:,} tok)", engine,
                         f"{t * 1e3:.2f} (n={len(times)})", fmt_num(n / t), f"{median(st_q) / t:.2f}x",
                         "yes" if engine == "limit-eval" and t < 0.005 else ("no" if engine == "limit-eval" else "")])
        q_ratios.append((e["model"], median(le_q)))
    out.append("### 2. Query encoding (LIMIT's 1,000 queries; median ms)")
    out.append("")
    out.append(md_table(["model", "queries", "engine", "time (ms)", "queries/s", "vs ST", "< 5 ms"], rows))
    out.append("")

    # 3. retrieval
    r = result.get("retrieval")
    if r:
        le = r["limit_eval"]
        le_ret = median([x["timings_s"]["retrieval"] for x in le])
        le_eval = median([x["timings_s"]["evaluation"] for x in le])
        le_tot = median([x["timings_s"]["retrieval"] + x["timings_s"]["evaluation"] for x in le])
        py = r["python"]
        py_ret = median([x["retrieval_s"] for x in py["runs"]])
        py_eval = median([x["evaluation_s"] for x in py["runs"]])
        py_tot = median([x["total_s"] for x in py["runs"]])
        deltas = [abs(le[0]["metrics"][m] - py["metrics"][m]) for m in METRICS if m in py["metrics"]]
        corpus = f"{r['documents']:,} docs x {py['queries']:,} queries, BM25 vectors ({py['cols']:,} terms)"
        out.append("### 3. Retrieval (top 100) + metrics (median ms)")
        out.append("")
        out.append(md_table(
            ["engine", "corpus", "retrieval (ms)", "evaluation (ms)", "total (ms)", "vs Python", "peak RSS (MiB)",
             "others' CPU use", "< 100 ms"],
            [["limit-eval (index build + search; run + metrics)", corpus, f"{le_ret * 1e3:.1f}", f"{le_eval * 1e3:.1f}",
              f"{le_tot * 1e3:.1f} (n={len(le)})", f"{py_tot / le_tot:.1f}x", fmt_num(median([x['max_rss_mib'] for x in le])),
              share_cell([x.get("others_during") for x in le]), "yes" if le_tot < 0.1 else "no"],
             ["Python (torch sparse @ dense, topk, BEIR evaluate)", corpus, f"{py_ret * 1e3:.1f}",
              f"{py_eval * 1e3:.1f}", f"{py_tot * 1e3:.1f} (n={len(py['runs'])})", "1.0x", fmt_num(py["max_rss_mib"]),
              share_cell([py.get("others_during")]), ""]]))
        out.append("")
        out.append(f"Metrics of the two paths on the same vectors: max |difference| over {', '.join(METRICS)} = "
                   f"{max(deltas) if deltas else float('nan'):.2e} (limit-eval NDCG@10 "
                   f"{le[0]['metrics']['NDCG@10']:.4f}). limit-eval's peak RSS is the whole run (loading and BM25-encoding "
                   f"the corpus included); Python's is the retrieval process (vectors loaded from .npz). Corpus from "
                   f"{r['generator']['generator']}. A difference in Recall@100 comes from ties at the cut-off: "
                   f"LIMIT's BM25 scores tie often (every document holds \"like\"; equal lengths give equal "
                   f"scores), limit-eval keeps trec_eval's order (doc id descending) while torch.topk keeps any.")
        out.append("")

    # 4. targets (issue 11 item 4: >= 1.4x sentence-transformers fp32 and >= 75% of the fp32 GEMM peak,
    # bf16 where the CPU has it natively, chosen by --dtype auto)
    rows = []
    for model, dataset, dtype, ratio, share in ratios:
        rows.append([f"{dtype} encoding >= 1.4x ST fp32", f"{model} / {dataset}", f"{ratio:.2f}x",
                     "yes" if ratio >= 1.4 else "no"])
    for model, dataset, dtype, ratio, share in ratios:
        rows.append([f"{dtype} encoding >= 75% of the fp32 GEMM peak", f"{model} / {dataset}", f"{100 * share:.0f}%",
                     "yes" if share >= 0.75 else "no"])
    for model, t in q_ratios:
        rows.append(["query encoding (1,000) < 5 ms", model, f"{t * 1e3:.2f} ms", "yes" if t < 0.005 else "no"])
    if r:
        rows.append([f"retrieval + metrics {r['documents']:,} x {py['queries']:,} < 100 ms", "bm25 vectors",
                     f"{le_tot * 1e3:.1f} ms",
                     "yes" if le_tot < 0.1 else "no"])
    out.append("### 4. Targets")
    out.append("")
    out.append(md_table(["target", "where", "measured", "met"], rows))
    out.append("")

    # 5. bf16 vs fp32 metrics
    rows = []
    for e in result["encoding"]:
        if not e.get("fp32") or not e.get("bf16") or not e.get("parity"):
            continue
        a, b = e["fp32"][0]["metrics"], e["bf16"][0]["metrics"]
        rows.append([e["arch"], e["dataset"]] + [f"{a[m]:.4f} / {b[m]:.4f} / {b[m] - a[m]:+.4f}" for m in METRICS])
    if rows:
        out.append("### 5. Metrics bf16 vs fp32 (limit-eval, same model and data: fp32 / bf16 / delta)")
        out.append("")
        out.append(md_table(["model", "dataset"] + METRICS, rows))
        out.append("")

    # 6. breakdown
    rows = []
    for name, b in result["breakdown"].items():
        spec = ARCHS[name]
        p = matmul_params(spec)
        head_share = (p["head_transform"] + p["decoder"]) / (p["encoder"] + p["head_transform"] + p["decoder"])
        head_s = b["eager_mlm_fp32_s"] - b["eager_encoder_fp32_s"]
        tok = b["tokens"]
        rate = lambda seconds: fmt_num(tok / seconds) if seconds > 0 else "n/a"  # noqa: E731
        small = next((e for e in result["encoding"] if e["model"] == name and e["dataset"] == "limit-small"), None)
        end_to_end = {}
        if small:
            small_tokens = sum(small["doc_lengths"])
            end_to_end["st"] = small_tokens / median([t for s_ in small["st"] for t in s_["corpus_encoding_s"]])
            for dtype in ("fp32", "bf16"):
                if small.get(dtype):
                    end_to_end[dtype] = small_tokens / median([r["timings_s"]["corpus_encoding"] for r in small[dtype]])
        rows.append([spec["label"], f"{b['documents']} longest of LIMIT-small ({tok:,} tok, {b['padded_tokens']:,} padded)",
                     f"{b['tokenize_all_docs_s'] * 1e3:.1f} ms",
                     rate(b["eager_encoder_fp32_s"]),
                     f"{rate(head_s)} ({100 * head_s / b['eager_mlm_fp32_s']:.0f}% of MLM time; {100 * head_share:.0f}% of FLOPs)",
                     rate(b["eager_mlm_fp32_s"]),
                     f"{rate(b['pooling_reference_s'])} ({100 * b['pooling_reference_s'] / (b['eager_mlm_fp32_s'] + b['pooling_reference_s']):.0f}%)",
                     fmt_num(end_to_end.get("st", float("nan"))),
                     rate(b["torchscript_fp32_s"]), fmt_num(end_to_end.get("fp32", float("nan"))),
                     rate(b["torchscript_bf16_s"]), fmt_num(end_to_end.get("bf16", float("nan")))])
    if rows:
        out.append("### 6. Where the time goes (tokens/s of each stage on the same weights; higher is faster)")
        out.append("")
        out.append("Stages measured in a Python process on one batch-sorted pass; \"end to end\" = the LIMIT-small "
                   "rows of table 1. limit-eval's cost outside the forward pass = TorchScript rate vs its end-to-end rate.")
        out.append("")
        out.append(md_table(["model", "documents", "HF tokenization of LIMIT-small", "eager encoder fp32",
                             "MLM head alone fp32", "eager MLM fp32 (encoder + head)", "SPLADE pooling on [B,L,V] (share)",
                             "ST encode_document end to end", "TorchScript fp32 forward", "limit-eval fp32 end to end",
                             "TorchScript bf16 forward", "limit-eval bf16 end to end"], rows))
        out.append("")
        for name, b in result["breakdown"].items():
            for key in ("torchscript_fp32", "torchscript_bf16"):
                ops = b.get(f"profile_{key}")
                if ops:
                    out.append(f"- {name} {key.replace('torchscript_', 'TorchScript ')} top ops by self CPU time "
                               "(torch.profiler): " + ", ".join(f"{o['op']} {100 * o['share']:.0f}%" for o in ops[:8]))
        out.append("")

    # 7. micro
    if result["micro"]:
        rows = []
        for m in result["micro"]:
            extra = []
            if m.get("items_per_second"):
                extra.append(f"{fmt_num(m['items_per_second'])} items/s")
            if m.get("tokens_per_s"):
                extra.append(f"{fmt_num(m['tokens_per_s'])} tokens/s")
            if m.get("bytes_per_second"):
                extra.append(f"{m['bytes_per_second'] / 2 ** 20:.1f} MiB/s")
            rows.append([m["executable"], m["name"].split("_median")[0], f"{m['real_time']:.3f} {m['time_unit']}",
                         ", ".join(extra)])
        out.append("### 7. Micro-benchmarks (Google Benchmark, median of repetitions, wall time)")
        out.append("")
        out.append(md_table(["executable", "benchmark", "time", "throughput"], rows))
        out.append("")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# Main.


def run_all(args: argparse.Namespace) -> int:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    global GATE
    GATE = QuietGate(args.quiet_share, args.wait_budget)
    bench = Bench(args)
    started = time.perf_counter()
    bench.note_load("start")
    log(f"limit-eval {bench.binary} (cache {'off' if bench.no_cache else 'n/a'}; generate "
        f"{'built in' if bench.has_generate else 'python fallback'}); threads {bench.threads}; load {loadavg()}")
    bench.environment()
    log("GEMM peak (torch.mm)")
    bench.gemm("start")
    if args.skip_encoding:
        args.models = []
    models = {name: ensure_model(name, ARCHS[name], bench.cache / "models", bench.python, bench.logs,
                                 args.export_tolerance) for name in args.models}
    synthetic_docs = {"v1": args.synthetic_docs_v1, "v3-distill": args.synthetic_docs_distill}
    for name, model in models.items():
        datasets = [("limit-small", ROOT / "data" / "limit-small", True)]
        if synthetic_docs.get(name, 0) > 0:
            n = synthetic_docs[name]
            datasets.append((f"LIMIT-like {n}", bench.synthetic(n, limit_queries=True), False))
        for label, path, parity in datasets:
            log(f"document encoding: {name} on {label}")
            bench.encoding(name, model, path, label)
            bench.result["encoding"][-1]["parity"] = parity
            bench.result["encoding"][-1]["query_row"] = not parity  # LIMIT's queries
        if not any(e["model"] == name and e["query_row"] for e in bench.result["encoding"]):
            bench.result["encoding"][-1]["query_row"] = True  # only limit-small ran: its 1,000 queries
    if not args.skip_retrieval:
        log(f"retrieval + metrics: {args.retrieval_docs} documents x 1,000 queries")
        bench.note_load("retrieval")
        bench.retrieval()
    if not args.skip_breakdown:
        for name in args.breakdown_models:
            if name in models:
                log(f"forward-time breakdown: {name}")
                bench.note_load(f"breakdown/{name}")
                bench.breakdown(name, models[name], ROOT / "data" / "limit-small")
    if not args.skip_micro:
        log("micro-benchmarks")
        bench.note_load("micro")
        bench.micro()
    log("GEMM peak again (torch.mm)")
    bench.gemm("end")
    bench.note_load("end")
    bench.result["elapsed_s"] = time.perf_counter() - started
    bench.result["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    text = render(bench.result)
    text += f"\nTotal bench time {bench.result['elapsed_s'] / 60:.1f} min. Raw data: {args.out_json}\n"
    write_json(Path(args.out_json), bench.result)
    Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out_md).write_text(text)
    print(text)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    main = sub.add_parser("run", help="run the whole comparison (what bench/run.sh does)",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    main.add_argument("--binary", required=True, help="the limit-eval executable")
    main.add_argument("--bench-dir", required=True, help="folder of the *_bench executables")
    main.add_argument("--work", required=True, help="cache, logs and raw results (models are cached here)")
    main.add_argument("--python", default=sys.executable, help="Python of the reference pipeline")
    main.add_argument("--threads", type=int, default=0, help="threads for everything (0: all cores)")
    main.add_argument("--batch-size", type=int, default=32)
    main.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    main.add_argument("--dtypes", nargs="+", default=["fp32", "bf16", "auto"], choices=["fp32", "bf16", "auto"],
                      help="limit-eval --dtype values measured (auto: what limit-eval picks on this CPU)")
    main.add_argument("--synthetic-docs-v1", type=int, default=64,
                      help="documents of the synthetic LIMIT-style corpus for the BERT-base model (0: none)")
    main.add_argument("--synthetic-docs-distill", type=int, default=96,
                      help="documents of the synthetic LIMIT-style corpus for the DistilBERT model (0: none)")
    main.add_argument("--retrieval-docs", type=int, default=50000)
    main.add_argument("--seed", type=int, default=42)
    main.add_argument("--repeats", type=int, default=3,
                      help="document-encoding runs of sentence-transformers and limit-eval fp32 (medians reported)")
    main.add_argument("--bf16-repeats", type=int, default=1,
                      help="limit-eval bf16 runs (emulated bf16 costs 3-4x fp32 on CPUs without avx512_bf16)")
    main.add_argument("--query-repeats", type=int, default=5, help="encode_query timings per ST process")
    main.add_argument("--retrieval-repeats", type=int, default=3)
    main.add_argument("--gemm-size", type=int, default=2048)
    main.add_argument("--gemm-repeats", type=int, default=5)
    main.add_argument("--export-tolerance", type=float, default=None,
                      help="export_model.py --check-tolerance (default: the script's own)")
    main.add_argument("--breakdown-models", nargs="+", default=["v1"], choices=list(ARCHS))
    main.add_argument("--breakdown-docs", type=int, default=32, help="longest LIMIT-small documents probed")
    main.add_argument("--micro-repetitions", type=int, default=3)
    main.add_argument("--micro-min-time", type=float, default=0.3)
    main.add_argument("--skip-encoding", action="store_true", help="no document/query encoding (sections 1, 2, 5, 6)")
    main.add_argument("--skip-retrieval", action="store_true")
    main.add_argument("--skip-breakdown", action="store_true")
    main.add_argument("--skip-micro", action="store_true")
    main.add_argument("--quiet-share", type=float, default=0.25,
                      help="before each measured process, wait until other processes use less than this share of "
                           "the CPUs (0: never wait)")
    main.add_argument("--wait-budget", type=float, default=240,
                      help="seconds of such waiting in the whole run, at most (45 s at most before one process)")
    main.add_argument("--out-md", required=True)
    main.add_argument("--out-json", required=True)

    c = sub.add_parser("_env")
    c.add_argument("--threads", type=int, required=True)
    c.add_argument("--out", required=True)
    c = sub.add_parser("_gemm")
    c.add_argument("--threads", type=int, required=True)
    c.add_argument("--size", type=int, default=2048)
    c.add_argument("--repeats", type=int, default=5)
    c.add_argument("--out", required=True)
    for name in ("_st", "_breakdown"):
        c = sub.add_parser(name)
        c.add_argument("--st", required=True)
        c.add_argument("--export", required=True)
        c.add_argument("--dataset", required=True)
        c.add_argument("--threads", type=int, required=True)
        c.add_argument("--batch-size", type=int, default=32)
        c.add_argument("--doc-repeats", type=int, default=1)
        c.add_argument("--query-repeats", type=int, default=5)
        c.add_argument("--max-docs", type=int, default=32)
        c.add_argument("--out", required=True)
    c = sub.add_parser("_vectors")
    c.add_argument("--vectors", required=True)
    c.add_argument("--out", required=True)
    c = sub.add_parser("_pyretrieval")
    c.add_argument("--npz", required=True)
    c.add_argument("--dataset", required=True)
    c.add_argument("--threads", type=int, required=True)
    c.add_argument("--repeats", type=int, default=3)
    c.add_argument("--chunk", type=int, default=100)
    c.add_argument("--top-k", type=int, default=100)
    c.add_argument("--out", required=True)
    c = sub.add_parser("render", help="print the tables of a saved raw-results JSON")
    c.add_argument("json")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is required (run, render)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "run":
        return run_all(args)
    if args.command == "render":
        print(render(read_json(Path(args.json))))
        return 0
    {"_env": child_env, "_gemm": child_gemm, "_st": child_st, "_breakdown": child_breakdown,
     "_vectors": child_vectors, "_pyretrieval": child_pyretrieval}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
