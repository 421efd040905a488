#!/usr/bin/env python3
"""Driver of bench/gpu/run.sh: the GPU path of limit-eval checked and timed in one run.

Stages, each recorded in gpu_bench.json as it ends (a failed stage is recorded with its error and
the run goes on; stages that would start after --deadline are recorded as skipped):

1. environment: Python, torch, CUDA, the GPU, transformers/sentence-transformers; the bundle's torch
   version against this machine's;
2. binary: the bundled limit-eval runs with this machine's libtorch (LD_LIBRARY_PATH);
3. gemm: torch.mm peak of the same device, bf16 and fp32 (TF32 off), the yardstick of "% of GEMM";
4. correctness: the bundle's tiny BERT on LIMIT-small: CUDA fp32 against CPU fp32 (document vectors
   within 1e-4 of each row's largest weight, metrics within 1e-4), and the bf16/fp16 metric deltas;
5. speed, per geometry (v1 = BERT-base, v3-gte = GTE-base, random weights built here by
   scripts/make_tiny_model.py and exported by scripts/export_model.py) on a generated LIMIT-style
   corpus (limit-eval generate, 50,000 documents): limit-eval fp32/bf16/fp16 and sentence-transformers
   encode_document (fp32, bf16) in separate processes: documents/s, tokens/s, TFLOP/s and its share
   of the bf16 GEMM peak, peak GPU memory (nvidia-smi, sampled every 100 ms, whole device), query
   encoding, retrieval, evaluation and the whole run's wall time; NDCG@10 of bf16/fp16 against fp32.

--dry-run does all of it on the CPU with tiny models and corpus (the CUDA rows become CPU rows).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

SPEED_GEOMETRIES = {
    # name: make_tiny_model.py arguments (full size), activation
    "v1": ["--arch", "bert", "--activation", "relu"],
    "v3-gte": ["--arch", "gte", "--activation", "log1p_relu", "--mlm-vocab-size", "30522"],
}
# 0.02 as the real models: random wide deep models at make_tiny_model's default 0.1 are so ill-conditioned
# that float noise changes a 12-layer GTE-base's logits by half their scale (the export check refuses it).
BASE_SIZE = ["--layers", "12", "--hidden", "768", "--heads", "12", "--intermediate", "3072",
             "--initializer-range", "0.02"]
TINY_SIZE = ["--layers", "2", "--hidden", "64", "--heads", "2", "--intermediate", "128"]
# v3-gte's loading options, from the registry export_model.py --all reads.
_GTE_ENTRY = json.loads((Path(__file__).resolve().parents[2] / "models" / "registry.json").read_text(
    encoding="utf-8"))["models"]["v3-gte"]
GTE_LOAD = {"trust_remote_code": True, "model_kwargs": _GTE_ENTRY["model_kwargs"],
            "config_kwargs": _GTE_ENTRY["config_kwargs"]}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def log(message: str) -> None:
    print(f"[gpu-bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class GpuMemorySampler:
    """Largest device memory in use (MiB, nvidia-smi, whole GPU) while the block runs."""

    def __init__(self, enabled: bool):
        self.enabled = enabled and shutil.which("nvidia-smi") is not None
        self.peak_mib: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout
                value = float(out.split()[0])
                self.peak_mib = value if self.peak_mib is None else max(self.peak_mib, value)
            except (ValueError, IndexError, subprocess.SubprocessError, OSError):
                pass
            self._stop.wait(0.1)

    def __enter__(self):
        if self.enabled:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread:
            self._stop.set()
            self._thread.join()


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.started = time.monotonic()
        self.root = args.root.resolve()
        self.bundle = args.bundle.resolve()
        self.output = args.output.resolve()
        self.work = Path(tempfile.mkdtemp(prefix="limit-eval-gpu-bench-"))
        self.python = sys.executable
        self.env = dict(os.environ)
        self.cuda = False
        self.record: dict = {"format": "limit-eval-gpu-bench/1", "dry_run": args.dry_run, "started_at": now(),
                             "command": " ".join(sys.argv), "stages": []}

    # ---------------------------------------------------------------- bookkeeping
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def save(self) -> None:
        self.record["elapsed_s"] = round(self.elapsed(), 2)
        path = self.output / "gpu_bench.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.record, indent=2) + "\n")
        tmp.replace(path)

    def stage(self, name: str, function, *args, budget: float = 0.0):
        """Runs one stage; returns its result or None. budget: seconds the stage needs at least."""
        entry = {"stage": name}
        if self.elapsed() + budget > self.args.deadline:
            entry.update(status="skipped", reason=f"deadline {self.args.deadline:.0f} s "
                                                  f"(elapsed {self.elapsed():.0f} s, needs ~{budget:.0f} s)")
            log(f"{name}: skipped ({entry['reason']})")
            self.record["stages"].append(entry)
            self.save()
            return None
        log(f"{name}: start")
        mark = time.monotonic()
        try:
            result = function(*args)
            entry["status"] = "ok"
            return result
        except Exception as error:  # noqa: BLE001 - every failure is recorded and the run goes on
            entry.update(status="failed", error=f"{type(error).__name__}: {error}",
                         traceback=traceback.format_exc()[-3000:])
            log(f"{name}: FAILED: {type(error).__name__}: {error}")
            return None
        finally:
            entry["seconds"] = round(time.monotonic() - mark, 2)
            self.record["stages"].append(entry)
            log(f"{name}: {entry['status']} in {entry['seconds']:.1f} s")
            self.save()

    def run(self, command: list[str], timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        log("$ " + " ".join(str(c) for c in command))
        completed = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout,
                                   env=env or self.env)
        if completed.returncode != 0:
            tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-25:])
            raise RuntimeError(f"{Path(str(command[0])).name} exited {completed.returncode}:\n{tail}")
        return completed

    # ---------------------------------------------------------------- stages
    def environment(self) -> None:
        import torch

        info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
                "torch_cuda": torch.version.cuda}
        for module in ("transformers", "sentence_transformers", "tokenizers", "numpy"):
            try:
                info[module] = __import__(module).__version__
            except Exception as error:  # noqa: BLE001
                info[module] = f"unavailable: {error}"
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                        compute_capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count)
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm",
                                  "--format=csv,noheader"], capture_output=True, text=True)
            info["nvidia_smi"] = smi.stdout.strip()
        bundle = json.loads((self.bundle / "bundle.json").read_text())
        info["bundle_torch"] = bundle.get("torch_version")
        info["bundle_built_at"] = bundle.get("built_at")
        info["torch_matches_bundle"] = torch.__version__.split("+")[0] == str(bundle.get("torch_version")).split("+")[0]
        self.record["environment"] = info
        self.cuda = torch.cuda.is_available() and not self.args.dry_run
        self.record["device"] = "cuda" if self.cuda else "cpu"
        log(f"torch {info['torch']}, GPU: {info.get('gpu', 'none')}, bundle torch {info['bundle_torch']}")

    def binary(self) -> None:
        import torch

        torch_lib = Path(torch.__file__).parent / "lib"
        self.binary_path = self.bundle / "bin" / "limit-eval"
        paths = [str(self.bundle / "lib"), str(torch_lib)]
        self.env["LD_LIBRARY_PATH"] = ":".join(paths + [p for p in [os.environ.get("LD_LIBRARY_PATH")] if p])
        check = subprocess.run([str(self.binary_path), "--version"], capture_output=True, text=True, env=self.env)
        used_fallback = False
        if check.returncode != 0:
            log(f"limit-eval --version failed ({check.stderr.strip()[:300]}); trying the bundled C++ runtime")
            paths.insert(1, str(self.bundle / "lib" / "fallback"))
            self.env["LD_LIBRARY_PATH"] = ":".join(paths)
            check = self.run([self.binary_path, "--version"])
            used_fallback = True
        self.record["binary"] = {"version": check.stdout.strip(), "ld_library_path": self.env["LD_LIBRARY_PATH"],
                                 "fallback_cxx_runtime": used_fallback}
        help_text = subprocess.run([str(self.binary_path), "--help"], capture_output=True, text=True,
                                   env=self.env).stdout
        self.has_max_batch_tokens = "--max-batch-tokens" in help_text
        log(self.record["binary"]["version"])

    def gemm(self) -> None:
        import torch

        device = "cuda" if self.cuda else "cpu"
        size = 8192 if self.cuda else 1024
        torch.backends.cuda.matmul.allow_tf32 = False
        result = {"device": device, "size": size}
        for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
            a = torch.randn(size, size, device=device, dtype=dtype)
            b = torch.randn(size, size, device=device, dtype=dtype)
            repeats = 10 if self.cuda else 3
            for _ in range(3):
                torch.mm(a, b)
            if self.cuda:
                torch.cuda.synchronize()
            samples = []
            for _ in range(repeats):
                mark = time.perf_counter()
                torch.mm(a, b)
                if self.cuda:
                    torch.cuda.synchronize()
                samples.append(time.perf_counter() - mark)
            flops = 2.0 * size ** 3
            result[f"{name}_tflops"] = round(flops / statistics.median(samples) / 1e12, 2)
            result[f"{name}_tflops_best"] = round(flops / min(samples) / 1e12, 2)
            del a, b
        if self.cuda:
            torch.cuda.empty_cache()
        self.record["gemm"] = result
        log(f"GEMM: bf16 {result['bf16_tflops']} TFLOP/s, fp32 {result['fp32_tflops']} TFLOP/s ({device})")

    def limit_eval(self, model: Path, dataset: Path, device: str, dtype: str, tag: str,
                   save_vectors: bool = False, extra: list[str] | None = None) -> dict:
        out = self.work / "runs" / tag
        out.mkdir(parents=True, exist_ok=True)
        command = [self.binary_path, "--model", model, "--dataset", dataset, "--device", device, "--dtype", dtype,
                   "--no-cache", "--output", out / "results.json", "--log-level", "warn", *(extra or [])]
        if save_vectors:
            command += ["--save-vectors", out / "vectors"]
        with GpuMemorySampler(self.cuda) as sampler:
            mark = time.perf_counter()
            completed = self.run(command, timeout=max(60.0, self.args.deadline - self.elapsed() + 60))
            wall = time.perf_counter() - mark
        results = json.loads((out / "results.json").read_text())
        results["_wall_s"] = wall
        results["_gpu_peak_mib"] = sampler.peak_mib
        results["_folder"] = str(out)
        results["_stdout"] = completed.stdout
        return results

    def correctness(self) -> None:
        model = self.bundle / "models" / "tiny-bert"
        dataset = self.root / "data" / "limit-small"
        runs = {"cpu-fp32": self.limit_eval(model, dataset, "cpu", "fp32", "tiny-cpu-fp32", save_vectors=True)}
        variants = [("cuda", "fp32"), ("cuda", "bf16"), ("cuda", "fp16")] if self.cuda else [("cpu", "bf16")]
        errors = {}
        for device, dtype in variants:
            try:
                runs[f"{device}-{dtype}"] = self.limit_eval(model, dataset, device, dtype, f"tiny-{device}-{dtype}",
                                                            save_vectors=(dtype == "fp32"))
            except Exception as error:  # noqa: BLE001
                errors[f"{device}-{dtype}"] = str(error)
                log(f"tiny {device} {dtype}: FAILED {error}")
        base = runs["cpu-fp32"]
        out = {"model": "tiny-bert (2 layers, hidden 64, relu)", "dataset": "limit-small", "errors": errors,
               "runs": {}}
        for name, result in runs.items():
            deltas = {k: result["metrics"][k] - base["metrics"][k] for k in base["metrics"]}
            out["runs"][name] = {"metrics": result["metrics"], "max_abs_metric_delta_vs_cpu_fp32":
                                 max(abs(v) for v in deltas.values()),
                                 "ndcg10_delta_vs_cpu_fp32": deltas.get("NDCG@10"),
                                 "corpus_encoding_s": result["timings_s"]["corpus_encoding"],
                                 "device_name": result["environment"].get("device_name")}
        if "cuda-fp32" in runs:
            out["cuda_fp32_vectors"] = compare_vectors(Path(base["_folder"]) / "vectors" / "corpus.jsonl",
                                                       Path(runs["cuda-fp32"]["_folder"]) / "vectors" / "corpus.jsonl")
            metric_ok = out["runs"]["cuda-fp32"]["max_abs_metric_delta_vs_cpu_fp32"] <= 1e-4
            out["pass"] = bool(out["cuda_fp32_vectors"]["pass"] and metric_ok)
        self.record["correctness"] = out
        if errors:
            raise RuntimeError(f"runs failed: {errors}")

    def python_env(self, name: str) -> dict:
        """GTE's code needs transformers < 5: with --compat-site, the GTE geometry's Python processes
        see the carried transformers 4.56 + sentence-transformers 5.1 first."""
        env = dict(self.env)
        env.pop("LD_LIBRARY_PATH", None)
        if name == "v3-gte" and self.args.compat_site:
            env["PYTHONPATH"] = ":".join([str(self.args.compat_site)] + [p for p in [env.get("PYTHONPATH")] if p])
        return env

    def start_builds(self, names: list[str]) -> None:
        """Builds and exports the speed models in the background (CPU work, 8 threads each) while the
        GPU runs the other stages; build_speed_model waits for one."""
        self.builds = {}
        size = TINY_SIZE if self.args.dry_run else BASE_SIZE
        threads = "1" if self.args.dry_run else str(max(1, (os.cpu_count() or 2) // max(1, len(names))))
        for name in names:
            arguments = SPEED_GEOMETRIES[name]
            source = self.work / "models" / f"{name}-st"
            exported = self.work / "models" / name
            gte_code = self.bundle / "third_party" / "gte-new-impl"
            make = [self.python, self.root / "scripts" / "make_tiny_model.py", *arguments, *size, "--idf", "random",
                    "--output", source]
            export = [self.python, self.root / "scripts" / "export_model.py", source, "--output", exported,
                      "--name", f"random-{name}"]
            if "gte" in arguments:
                make += ["--gte-code", gte_code]
                export += ["--trust-remote-code", "--model-kwargs", json.dumps(GTE_LOAD["model_kwargs"]),
                           "--config-kwargs", json.dumps(GTE_LOAD["config_kwargs"])]
            script = " && ".join(" ".join(shlex.quote(str(part)) for part in command) for command in (make, export))
            log_file = open(self.work / f"build-{name}.log", "w")
            env = {**self.python_env(name), "OMP_NUM_THREADS": threads}
            log(f"building {name} in the background: {script}")
            process = subprocess.Popen(["bash", "-c", script], stdout=log_file, stderr=subprocess.STDOUT, env=env)
            self.builds[name] = {"process": process, "log": self.work / f"build-{name}.log", "source": source,
                                 "exported": exported, "arguments": [*arguments, *size], "started": time.monotonic()}

    def build_speed_model(self, name: str) -> dict:
        build = self.builds[name]
        try:
            rc = build["process"].wait(timeout=max(30.0, self.args.deadline - self.elapsed()))
        except subprocess.TimeoutExpired:
            build["process"].kill()
            raise RuntimeError("the model build did not finish before the deadline")
        if rc != 0:
            tail = "\n".join(build["log"].read_text(errors="replace").strip().splitlines()[-25:])
            raise RuntimeError(f"make_tiny_model/export_model exited {rc}:\n{tail}")
        manifest = json.loads((build["exported"] / "manifest.json").read_text())
        return {"source": build["source"], "exported": build["exported"],
                "seconds": time.monotonic() - build["started"], "arguments": build["arguments"],
                "versions": manifest.get("versions"),
                "export_check_max_abs_diff": manifest["export_check"]["max_abs_diff"]}

    def corpus(self) -> Path:
        documents = 300 if self.args.dry_run else self.args.documents
        folder = self.work / f"limit-like-{documents}"
        self.run([self.binary_path, "generate", "--output", folder, "--documents", documents, "--queries", 1000,
                  "--seed", 42, "--attributes", self.root / "data" / "limit-attributes.txt",
                  "--names", self.root / "data" / "names.txt"])
        texts = []
        with open(folder / "corpus.jsonl", encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                texts.append((record.get("title", "") + " " + record["text"]).strip())
        from transformers import BertTokenizerFast

        tokenizer = BertTokenizerFast.from_pretrained(str(self.bundle / "models" / "tiny-bert" / "tokenizer"))
        lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=512)["input_ids"]]
        self.corpus_lengths = lengths
        (self.work / "texts.json").write_text(json.dumps(texts))
        self.record["corpus"] = {"documents": len(texts), "queries": 1000, "tokens": sum(lengths),
                                 "mean_tokens": round(sum(lengths) / len(lengths), 1), "max_tokens": max(lengths),
                                 "generator": "limit-eval generate --seed 42"}
        log(f"corpus: {len(texts)} documents, {sum(lengths)} tokens")
        return folder

    def flops(self, geometry: list[str]) -> float:
        """Analytic forward FLOPs of the whole corpus (valid tokens only; the MLM head on every token)."""
        value = {geometry[i].lstrip("-"): geometry[i + 1] for i in range(0, len(geometry) - 1, 2)}
        layers, hidden, inter = int(value["layers"]), int(value["hidden"]), int(value["intermediate"])
        vocab = int(value.get("mlm-vocab-size", 30522))
        total = 0.0
        for n in self.corpus_lengths:
            per_token = layers * (8 * hidden * hidden + 4 * hidden * inter + 4 * n * hidden)
            per_token += 2 * hidden * hidden + 2 * hidden * vocab
            total += n * per_token
        return total

    def speed(self, name: str, corpus: Path) -> None:
        built = self.stage(f"{name}: build + export random-weight model", self.build_speed_model, name)
        if built is None:
            return
        entry = {"build_seconds": round(built["seconds"], 1), "geometry": built["arguments"],
                 "python_path": self.python_env(name).get("PYTHONPATH"),
                 "export_versions": built["versions"], "export_check_max_abs_diff": built["export_check_max_abs_diff"],
                 "rows": {}}
        self.record.setdefault("speed", {})[name] = entry
        flops = self.flops(built["arguments"])
        entry["corpus_tflop"] = round(flops / 1e12, 2)
        device = "cuda" if self.cuda else "cpu"
        dtypes = ["bf16", "fp16", "fp32"] if self.cuda else ["fp32", "bf16"]
        batching = ["--batch-size", str(self.args.batch_size)]
        if getattr(self, "has_max_batch_tokens", False):
            batching += ["--max-batch-tokens", str(self.args.max_batch_tokens)]
        for dtype in dtypes:
            def one(dtype=dtype):
                result = self.limit_eval(built["exported"], corpus, device, dtype, f"{name}-{device}-{dtype}",
                                         extra=batching)
                entry["rows"][f"limit-eval {dtype}"] = self.row(result["timings_s"]["corpus_encoding"], flops, {
                    "query_encoding_s": result["timings_s"]["query_encoding"],
                    "retrieval_s": result["timings_s"]["retrieval"], "evaluation_s": result["timings_s"]["evaluation"],
                    "total_s": result["timings_s"]["total"], "process_wall_s": round(result["_wall_s"], 3),
                    "gpu_peak_mib": result["_gpu_peak_mib"],
                    "gpu_peak_allocated_mib": result["model"]["description"]["document_encoder"].get(
                        "peak_memory_mib"),
                    "ndcg10": result["metrics"].get("NDCG@10"), "options": batching})
            self.stage(f"{name}: limit-eval {device} {dtype}", one, budget=15 if dtype != "fp32" else 40)
        fp32 = entry["rows"].get("limit-eval fp32")
        for dtype in dtypes:
            row = entry["rows"].get(f"limit-eval {dtype}")
            if row and fp32 and row.get("ndcg10") is not None and fp32.get("ndcg10") is not None:
                row["ndcg10_delta_vs_fp32"] = row["ndcg10"] - fp32["ndcg10"]
        self.stage(f"{name}: sentence-transformers", self.sentence_transformers, name, built, flops, entry,
                   budget=60)

    def sentence_transformers(self, name: str, built: dict, flops: float, entry: dict) -> None:
        script = self.root / "bench" / "gpu" / "st_encode.py"
        load = GTE_LOAD if "gte" in built["arguments"] else {}
        out = self.work / f"st-{name}.json"
        device = "cuda" if self.cuda else "cpu"
        command = [self.python, script, "--model", built["source"], "--texts", self.work / "texts.json",
                   "--queries", self.work / f"limit-like-{len(self.corpus_lengths)}" / "queries.jsonl",
                   "--device", device, "--batch-size", "32", "--load", json.dumps(load), "--output", out,
                   "--dtypes", self.args.st_dtypes if self.cuda else "fp32"]
        with GpuMemorySampler(self.cuda) as sampler:
            self.run(command, timeout=max(60.0, self.args.deadline - self.elapsed() + 60), env=self.python_env(name))
        result = json.loads(out.read_text())
        for dtype, timing in result["documents"].items():
            entry["rows"][f"sentence-transformers {dtype}"] = self.row(timing["seconds"], flops, {
                "gpu_peak_allocated_mib": timing.get("peak_allocated_mib"), "gpu_peak_mib": sampler.peak_mib,
                "batch_size": 32})
        entry["st_query_encoding_s"] = result.get("query_seconds")
        st32 = entry["rows"].get("sentence-transformers fp32", {}).get("seconds")
        for row in entry["rows"].values():
            if st32:
                row["speedup_vs_st_fp32"] = round(st32 / row["seconds"], 2)

    def row(self, seconds: float, flops: float, extra: dict) -> dict:
        documents = len(self.corpus_lengths)
        tflops = flops / seconds / 1e12
        peak = self.record.get("gemm", {}).get("bf16_tflops")
        return {"seconds": round(seconds, 3), "docs_per_s": round(documents / seconds, 1),
                "tokens_per_s": round(sum(self.corpus_lengths) / seconds, 1), "tflops": round(tflops, 2),
                "share_of_bf16_gemm": round(tflops / peak, 4) if peak else None, **extra}


def compare_vectors(a_path: Path, b_path: Path) -> dict:
    """Per document, the largest |a - b| over the union of its terms, relative to a's largest weight."""
    def read(path: Path) -> dict:
        with open(path, encoding="utf-8") as stream:
            return {r["_id"]: r["vector"] for r in map(json.loads, stream)}

    a, b = read(a_path), read(b_path)
    worst = 0.0
    worst_id = None
    for doc_id, va in a.items():
        vb = b.get(doc_id, {})
        scale = max([abs(v) for v in va.values()] + [1e-30])
        diff = max([abs(va.get(t, 0.0) - vb.get(t, 0.0)) for t in set(va) | set(vb)] + [0.0]) / scale
        if diff > worst:
            worst, worst_id = diff, doc_id
    return {"documents": len(a), "same_ids": set(a) == set(b), "max_relative_diff": worst, "worst_document": worst_id,
            "pass": set(a) == set(b) and worst <= 1e-4}


def markdown(record: dict) -> str:
    env = record.get("environment", {})
    lines = [f"# limit-eval GPU check ({'dry run, CPU' if record.get('dry_run') else record.get('device')})", "",
             f"{record.get('started_at')}; {env.get('gpu', 'no GPU')}; torch {env.get('torch')}; transformers "
             f"{env.get('transformers')}; sentence-transformers {env.get('sentence_transformers')}; "
             f"elapsed {record.get('elapsed_s')} s", ""]
    gemm = record.get("gemm")
    if gemm:
        lines += [f"GEMM ({gemm['size']}^3, {gemm['device']}): bf16 {gemm['bf16_tflops']} TFLOP/s, fp32 (no TF32) "
                  f"{gemm['fp32_tflops']} TFLOP/s", ""]
    corr = record.get("correctness")
    if corr:
        lines += ["## Correctness (tiny BERT, LIMIT-small)", "", "| run | max metric delta vs CPU fp32 | "
                  "NDCG@10 delta |", "| --- | --- | --- |"]
        for name, run in corr["runs"].items():
            lines.append(f"| {name} | {run['max_abs_metric_delta_vs_cpu_fp32']:.3g} | "
                         f"{run['ndcg10_delta_vs_cpu_fp32']:.3g} |")
        if "cuda_fp32_vectors" in corr:
            v = corr["cuda_fp32_vectors"]
            lines += ["", f"CUDA fp32 vs CPU fp32 document vectors: max relative difference "
                      f"{v['max_relative_diff']:.3g} over {v['documents']} documents; pass: {corr.get('pass')}"]
        lines.append("")
    corpus = record.get("corpus")
    for name, entry in record.get("speed", {}).items():
        lines += [f"## Speed: {name} geometry ({' '.join(entry['geometry'])})", "",
                  f"{corpus['documents']} documents, {corpus['tokens']} tokens, {entry['corpus_tflop']} TFLOP "
                  f"(analytic)", "",
                  "| run | seconds | docs/s | tokens/s | TFLOP/s | share of bf16 GEMM | vs ST fp32 | peak GPU MiB "
                  "(device) | NDCG@10 Δ vs fp32 |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for run, row in entry["rows"].items():
            delta = row.get("ndcg10_delta_vs_fp32")
            lines.append(f"| {run} | {row['seconds']} | {row['docs_per_s']} | {row['tokens_per_s']} | {row['tflops']} | "
                         f"{row['share_of_bf16_gemm']} | {row.get('speedup_vs_st_fp32')} | {row.get('gpu_peak_mib')} | "
                         f"{'' if delta is None else f'{delta:.2g}'} |")
        for run, row in entry["rows"].items():
            if "total_s" in row:
                lines.append(f"- {run}: query encoding {row['query_encoding_s']:.3f} s, retrieval "
                             f"{row['retrieval_s']:.3f} s, evaluation {row['evaluation_s']:.3f} s, whole run "
                             f"{row['total_s']:.2f} s ({row['process_wall_s']:.2f} s process wall)")
        if entry.get("st_query_encoding_s") is not None:
            lines.append(f"- sentence-transformers encode_query (1,000 queries): {entry['st_query_encoding_s']:.3f} s")
        lines.append("")
    lines += ["## Stages", "", "| stage | status | seconds | note |", "| --- | --- | --- | --- |"]
    for stage in record["stages"]:
        note = stage.get("error") or stage.get("reason") or ""
        lines.append(f"| {stage['stage']} | {stage['status']} | {stage.get('seconds', '')} | "
                     f"{note.splitlines()[0][:160] if note else ''} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--deadline", type=float, default=420.0)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--documents", type=int, default=50000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--max-batch-tokens", type=int, default=65536)
    parser.add_argument("--models", default="v1,v3-gte")
    parser.add_argument("--st-dtypes", default="fp32,bf16", help="sentence-transformers dtypes timed on a GPU")
    parser.add_argument("--skip-correctness", action="store_true", help="leave out the tiny-model correctness stage")
    parser.add_argument("--compat-site", type=Path, default=None,
                        help="folder of transformers 4.56 + sentence-transformers 5.1 for the GTE geometry")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    try:
        bench.stage("environment", bench.environment)
        if bench.stage("binary", bench.binary) is None and "binary" not in bench.record:
            return 1
        models = [m for m in args.models.split(",") if m]
        bench.stage("start model builds", bench.start_builds, models)
        bench.stage("gemm", bench.gemm)
        if not args.skip_correctness:
            bench.stage("correctness", bench.correctness, budget=20)
        corpus = bench.stage("corpus", bench.corpus, budget=20)
        if corpus is not None:
            for name in models:
                if name in getattr(bench, "builds", {}):
                    bench.speed(name, corpus)
    finally:
        bench.save()
        (args.output / "gpu_bench.md").write_text(markdown(bench.record))
        print(markdown(bench.record))
        for build in getattr(bench, "builds", {}).values():
            if build["process"].poll() is None:
                build["process"].kill()
        shutil.rmtree(bench.work, ignore_errors=True)
    failed = [s["stage"] for s in bench.record["stages"] if s["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
