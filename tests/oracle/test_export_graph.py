"""What tracing on a CPU in float32 can bake into an exported document encoder, checked on every
exported architecture (tiny BERT, DistilBERT and GTE models, GTE with v3-gte's loading options).

A traced graph records ``x.device`` and ``x.dtype`` as constants. On a GPU a tensor made on the
constant device "cpu" meets CUDA tensors and the run fails; in bf16/fp16 a constant float32 cast
turns the activations back to float32 (GTE then fails with "expected scalar type Float but found
BFloat16"). export_model.py makes such constants follow the input's device and the model's dtype;
this test walks each saved graph and fails on any tensor factory or ``aten::to`` that still takes
a constant device or a constant floating dtype, or on a mask constant equal to float32's lowest
value (it rounds to -inf in bf16/fp16, and CUDA's attention then gives NaN on padded batches:
v3-gte's bf16 run on an H200 did), and runs limit-eval in bf16 on each model as the
behavioural half of the same check.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_models import arch_param, tiny_model  # noqa: E402

BIN = os.environ.get("LIMIT_EVAL_BIN")
SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
ARCHITECTURES = [("bert", "relu"), ("distilbert", "log1p_relu"), ("gte", "log1p_relu", "--mlm-vocab-size", "30522")]
FLOATING = {5, 6, 7, 15}  # half, float, double, bfloat16 as c10::ScalarType numbers
FACTORIES = {"aten::to", "aten::zeros", "aten::ones", "aten::empty", "aten::full", "aten::arange", "aten::tensor",
             "aten::zeros_like", "aten::ones_like", "aten::full_like", "aten::empty_like", "aten::rand",
             "aten::randn", "aten::linspace", "aten::eye", "aten::scalar_tensor", "aten::new_zeros",
             "aten::new_ones", "aten::new_full", "aten::new_empty", "aten::as_tensor"}


def nodes(block):
    for node in block.nodes():
        yield node
        for sub_block in node.blocks():
            yield from nodes(sub_block)


def pinned_constants(graph) -> list[str]:
    problems = []
    for node in nodes(graph):
        if node.kind() not in FACTORIES:
            continue
        for value in node.inputs():
            producer = value.node()
            if producer.kind() != "prim::Constant" or not producer.hasAttribute("value"):
                continue
            where = node.sourceRange().splitlines()[0] if node.sourceRange() else "?"
            if value.type().kind() == "DeviceObjType":
                problems.append(f"{node.kind()} on constant device {producer.s('value')!r} ({where})")
            elif value.type().kind() == "IntType" and producer.i("value") in FLOATING and \
                    is_dtype_argument(node, value):
                problems.append(f"{node.kind()} to constant floating dtype {producer.i('value')} ({where})")
    return problems


def overflowing_minimums(graph) -> list[str]:
    """Constants holding float32's most negative value (a trace's ``torch.finfo(torch.float32).min``,
    as a float or a 0-dim tensor): masks built with it hold -inf once the model runs in bf16 or fp16,
    which CUDA's attention kernels turn into NaN on padded batches."""
    lowest = float(torch.finfo(torch.float32).min)
    problems = []
    for node in nodes(graph):
        if node.kind() != "prim::Constant" or not node.hasAttribute("value"):
            continue
        kind = node.output().type().kind()
        value = node.f("value") if kind == "FloatType" else None
        if kind == "TensorType" and node.t("value").dim() == 0 and node.t("value").is_floating_point():
            value = float(node.t("value"))
        if value == lowest:
            uses = ", ".join(f"{use.user.kind()} ({use.user.sourceRange().splitlines()[0] if use.user.sourceRange() else '?'})"
                             for use in node.output().uses())
            problems.append(f"float32's lowest value {value} used by {uses}")
    return problems


def is_dtype_argument(node, value) -> bool:
    schema = node.schema() if hasattr(node, "schema") else ""
    try:
        arguments = torch._C.parse_schema(schema).arguments if schema and schema != "(no schema)" else []
    except RuntimeError:
        return False
    inputs = list(node.inputs())
    return any(arg.name == "dtype" and index < len(inputs) and inputs[index] is value
               for index, arg in enumerate(arguments))


@pytest.fixture(scope="module", params=[arch_param(a, a[0], id=a[0]) for a in ARCHITECTURES])
def model(request):
    return tiny_model(*request.param)


def test_no_constant_device_or_floating_dtype(model):
    module = torch.jit.load(str(model.exported / "document_encoder.pt"), map_location="cpu")
    problems = pinned_constants(module.inlined_graph) + overflowing_minimums(module.inlined_graph)
    assert not problems, "\n".join(problems)


def test_walker_finds_what_tracing_bakes_in():
    """Negative control: a plain trace of code that uses x.device / x.dtype is flagged."""
    class Baked(torch.nn.Module):
        def forward(self, ids, mask):
            positions = torch.arange(ids.shape[1], device=ids.device)
            bias = (1.0 - mask.to(torch.float32)) * torch.finfo(torch.float32).min
            return (mask.to(torch.float32) * positions + bias).to(mask.device)

    example = (torch.zeros(2, 3, dtype=torch.int64), torch.ones(2, 3, dtype=torch.int64))
    traced = torch.jit.trace(Baked(), example)
    problems = pinned_constants(traced.inlined_graph)
    assert any("constant device" in p for p in problems), problems
    assert any("floating dtype" in p for p in problems), problems
    assert overflowing_minimums(traced.inlined_graph), "a float32-minimum mask constant was not found"


@pytest.mark.skipif(not BIN, reason="LIMIT_EVAL_BIN not set")
def test_runs_in_bf16(model, tmp_path):
    out = tmp_path / "results.json"
    completed = subprocess.run([BIN, "--model", str(model.exported), "--dataset", str(SOURCE / "data" / "limit-small"),
                                "--device", "cpu", "--dtype", "bf16", "--no-cache", "--output", str(out),
                                "--log-level", "warn"], capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["NDCG@10"] > 0.05
