#!/usr/bin/env -S sh -c 'exec "${LIMIT_EVAL_VENV:-$HOME/.cache/limit-eval/venv}/bin/python" "$0" "$@"'
"""Export an inference-free sparse encoder to the limit-eval model folder (docs/model-format.md).

Usage:
    export_model.py SOURCE --output DIR [--name NAME] [--revision REV] [--trust-remote-code]
                    [--code-revision REV] [--model-kwargs JSON] [--config-kwargs JSON]
                    [--check-tolerance 1e-4] [--trainable] [--force]
    export_model.py --all [--models-dir models] [--only NAME ...] [--registry FILE] [--check-tolerance 1e-4]
                    [--force]

SOURCE is a Hugging Face model id or a local folder that ``SparseEncoder(SOURCE)``
(sentence-transformers 5.1) loads as an OpenSearch-style inference-free model:

    Router(query=[SparseStaticEmbedding], document=[MLMTransformer, SpladePooling(max)])

or as a siamese SPLADE model whose queries go through the MLM too (naver's SPLADE, OpenSearch's
bi-encoders): [MLMTransformer, SpladePooling(max)], or a Router holding that same pair (same weights)
on both routes; its manifest's query_encoder.kind is "mlm" and it has no query_weights.f32. Any
other model (a dense SentenceTransformer, a CSR model, two different MLMs) is refused (exit code 4).

The folder gets ``document_encoder.pt`` (TorchScript, traced on CPU in float32:
(input_ids, attention_mask) -> the hidden states the MLM decoder projects [B, L, H], with the
decoder's weight and bias as buffers; or whole MLM logits [B, L, V], see --document-output),
``query_weights.f32`` (the static
weights, float32 little-endian), ``tokenizer/`` and ``manifest.json``.

Before anything is written the traced module is checked against the eager model on batch
sizes and lengths unlike the trace example, with padded rows (valid positions must match to
--check-tolerance times the largest logit magnitude (at least 1), and a padded row must match the
same row run alone), and the whole
pipeline the manifest describes (tokenize, logits, mask, activation, max pooling; static
query lookup) is checked against ``encode_document``/``encode_query``. The folder is written
under a temporary name beside DIR and renamed at the end: a failure leaves nothing behind.

``--all`` exports every model of the registry that ships with limit-eval (``models/registry.json``
of this repository) into ``<models-dir>/<name>/`` (it needs the Hugging Face hub or a populated hub
cache). The first line of this file runs it with the project's Python environment
(``$LIMIT_EVAL_VENV``, default ``~/.cache/limit-eval/venv``); ``scripts/export_model.sh`` does the
same with a clearer message when that environment is missing.

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 cannot load the source (hub unreachable,
missing folder), 4 unsupported model layout, 5 export check failed, 6 output folder exists.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import inspect
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FORMAT_NAME = "limit-eval-model"
FORMAT_VERSION = 2
PROG = "export_model.py"
REGISTRY = ROOT / "models" / "registry.json"

# The documents of the pipeline check: plain, accents, CJK, punctuation, specials written out,
# control characters, an empty text and one longer than any max_seq_length we check.
PIPELINE_DOCUMENTS = [
    "Geneva Durben likes Quokkas, River Otters, Tapirs and Asymmetry.",
    "  Café Ångström — naïve façade; résumé!  ",
    "東京 Tokyo 北京 are cities; 1,024 tokens? e-mail: a.b@c.org",
    "",
    "[CLS] literal [MASK] markers\tand\u00a0odd\u200bspaces\x00here [SEP]",
    "The quick brown fox jumps over the lazy dog. " * 90,
]
PIPELINE_QUERIES = [
    "Who likes Joshua Trees?",
    "who likes joshua trees trees trees",
    "  Café Ångström  ",
    "東京 e-mail",
    "",
    "word " * 600,
]


class ExportError(Exception):
    exit_code = 1


class UsageError(ExportError):
    exit_code = 2


class SourceError(ExportError):
    exit_code = 3

    def __init__(self, message: str, hub_unreachable: bool = False):
        super().__init__(message)
        self.hub_unreachable = hub_unreachable


class LayoutError(ExportError):
    exit_code = 4


class CheckError(ExportError):
    exit_code = 5


class OutputExistsError(ExportError):
    exit_code = 6


def log(message: str) -> None:
    print(f"[export] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Loading and inspecting the source model


def load_encoder(source: str, revision: str | None, trust_remote_code: bool, code_revision: str | None,
                 model_kwargs: dict | None, config_kwargs: dict | None):
    from sentence_transformers import SparseEncoder

    model_kwargs = dict(model_kwargs or {})
    config_kwargs = dict(config_kwargs or {})
    if code_revision:
        model_kwargs.setdefault("code_revision", code_revision)
        config_kwargs.setdefault("code_revision", code_revision)
    model_kwargs, loader_kwargs = pin_code_revision(model_kwargs, code_revision)
    local = Path(source).expanduser()
    looks_local = local.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1
    if looks_local and not local.is_dir():
        raise SourceError(f"{source}: no such model folder (and not a Hugging Face id of the form owner/name)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = SparseEncoder(str(local) if looks_local else source, revision=revision, device="cpu",
                                  trust_remote_code=trust_remote_code, model_kwargs=model_kwargs or None,
                                  config_kwargs=config_kwargs or None, **loader_kwargs)
    except Exception as error:  # noqa: BLE001 - every loader failure becomes one clear message
        detail = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
        if looks_local:
            raise SourceError(f"cannot load {local} as a sentence-transformers SparseEncoder: {detail}") from error
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or \
            os.environ.get("TRANSFORMERS_OFFLINE", "") not in ("", "0")
        text = f"{type(error).__name__}: {error}".lower()
        unreachable = any(marker in text for marker in (
            "couldn't connect", "connection", "name resolution", "failed to resolve", "offline", "timed out",
            "local_files_only"))
        if unreachable:
            raise SourceError(
                f"cannot reach the Hugging Face hub (and {source}@{revision or 'main'} is not in the local hub cache)"
                f"{' [HF_HUB_OFFLINE is set]' if offline else ''}: {detail}", hub_unreachable=True) from error
        raise SourceError(f"cannot load {source}@{revision or 'main'} from the Hugging Face hub as a SparseEncoder: "
                          f"{detail}") from error
    model.eval()
    model.float()
    check_code_revision(model, code_revision)
    return model


def library_major(package: str) -> int:
    from importlib.metadata import version

    return int(version(package).split(".")[0])


class KeptCodeRevision(dict):
    """model_kwargs whose "code_revision" survives sentence-transformers 6, which pops it from
    model_kwargs to load its own module classes and so loads the model's custom code at the code
    repository's main branch instead of the pinned revision."""

    def pop(self, key, *default):
        return self.get(key, *default) if key == "code_revision" else super().pop(key, *default)


def pin_code_revision(model_kwargs: dict, code_revision: str | None) -> tuple[dict, dict]:
    """(model_kwargs, extra SparseEncoder arguments) that load a custom-code model's code at
    code_revision with every library version: sentence-transformers 5 passes model_kwargs and
    config_kwargs through; sentence-transformers 6 consumes model_kwargs' code_revision (kept by
    KeptCodeRevision) and transformers 5's AutoTokenizer loads the model's config, and so its code,
    again (processor_kwargs)."""
    if not code_revision or library_major("sentence-transformers") < 6:
        return model_kwargs, {}
    return KeptCodeRevision(model_kwargs), {"processor_kwargs": {"code_revision": code_revision}}


def check_code_revision(model, code_revision: str | None) -> None:
    """Refuses a model whose custom code from another repository (config auto_map "org/repo--module.Class")
    was not loaded at code_revision (transformers names the module after the commit it loaded)."""
    if not code_revision:
        return
    from transformers import PreTrainedModel

    for module in model.modules():
        if not isinstance(module, PreTrainedModel):
            continue
        auto_map = getattr(module.config, "auto_map", None) or {}
        if not any("--" in str(reference) for reference in auto_map.values()):
            continue
        loaded = type(module).__module__
        if code_revision not in loaded:
            raise SourceError(f"the model's custom code was loaded as {loaded}, not at the pinned code revision "
                              f"{code_revision}")
        return


def explains_custom_code_failures(export_function):
    """export() whose failures inside a model's custom code under transformers 5 say what to do:
    code written for transformers 4 (GTE's Alibaba-NLP/new-impl, v3-gte's architecture) does not run
    under transformers 5."""
    import functools

    @functools.wraps(export_function)
    def export_checked(args, source, output, name, revision, trust_remote_code, *rest):
        try:
            return export_function(args, source, output, name, revision, trust_remote_code, *rest)
        except ExportError:
            raise
        except Exception as error:  # noqa: BLE001 - only custom code under transformers 5 is explained
            import transformers

            if not trust_remote_code or library_major("transformers") < 5:
                raise
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise LayoutError(f"the model's custom code failed under transformers {transformers.__version__} "
                              f"({type(error).__name__}: {first_line}): code written for transformers 4, such as "
                              f"GTE's (Alibaba-NLP/new-impl, v3-gte's architecture), does not run under transformers "
                              f"5; export this model with transformers 4.x (the project's environment, "
                              f"scripts/setup.sh)") from error

    return export_checked


def resolved_hub_revision(source: str, revision: str | None) -> str | None:
    """The commit sha of the hub snapshot that was loaded, when SOURCE came from the hub cache."""
    if Path(source).expanduser().exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(source, "modules.json", revision=revision)
        if isinstance(path, str):
            sha = Path(path).parent.name
            if len(sha) == 40:
                return sha
    except Exception:  # noqa: BLE001 - provenance only
        pass
    return None


def find_routes(model, source: str | None = None, revision: str | None = None) -> dict[str, Any]:
    """The parts to export: {"static": SparseStaticEmbedding or None (siamese: queries go through the
    MLM), "mlm", "pooling"}; LayoutError naming what was found instead (SOURCE and REVISION name it)."""
    from sentence_transformers.models import Router
    from sentence_transformers.sparse_encoder.models import MLMTransformer, SparseStaticEmbedding, SpladePooling

    parts = siamese_parts(model)
    if parts is None:
        if len(model) != 1 or not isinstance(model[0], Router):
            raise unsupported_layout(model, source, revision)
        router = model[0]
        routes = {name: list(modules) for name, modules in router.sub_modules.items()}
        shape = {name: [type(m).__name__ for m in modules] for name, modules in routes.items()}
        if set(routes) != {"query", "document"}:
            raise LayoutError(f"unsupported Router: expected the routes 'query' and 'document', found {shape}; "
                              f"{SUPPORTED_LAYOUTS}")
        query, document = routes["query"], routes["document"]
        if len(query) != 1 or not isinstance(query[0], SparseStaticEmbedding):
            raise LayoutError(f"unsupported query route {shape['query']}: only an inference-free "
                              f"[SparseStaticEmbedding] query encoder, or the document route's own "
                              f"[MLMTransformer, SpladePooling], can be exported")
        if len(document) != 2 or not isinstance(document[0], MLMTransformer) or \
                not isinstance(document[1], SpladePooling):
            raise LayoutError(f"unsupported document route {shape['document']}: expected [MLMTransformer, "
                              f"SpladePooling]")
        parts = {"static": query[0], "mlm": document[0], "pooling": document[1]}
    mlm, pooling = parts["mlm"], parts["pooling"]
    if pooling.pooling_strategy != "max":
        raise LayoutError(f"unsupported SpladePooling pooling_strategy '{pooling.pooling_strategy}': only 'max' "
                          f"is supported")
    if pooling.activation_function not in ("relu", "log1p_relu"):
        raise LayoutError(f"unsupported SpladePooling activation_function '{pooling.activation_function}'")
    if getattr(mlm, "backend", "torch") != "torch":
        raise LayoutError(f"unsupported MLMTransformer backend '{mlm.backend}': load the model with the torch backend")
    if getattr(mlm, "do_lower_case", False):
        # str.lower() before tokenizing is not the tokenizer's own lower-casing: literal special tokens
        # ("[MASK]") are then no longer matched, and Python's final sigma differs from the normalizer's.
        raise LayoutError("unsupported MLMTransformer do_lower_case=True: sentence-transformers lower-cases the "
                          "text with str.lower() before tokenizing, which limit-eval does not reproduce; set it "
                          "to false in sentence_bert_config.json when the tokenizer lower-cases by itself")

    # Encoder-level settings that would change encode_query/encode_document behind the manifest's back.
    for task, names in (("query", ["query"]), ("document", ["document", "passage", "corpus"])):
        prompt_name = next((n for n in names if n in model.prompts), None)
        if prompt_name is not None and model.prompts[prompt_name]:
            raise LayoutError(f"unsupported: the model prepends the {task} prompt {model.prompts[prompt_name]!r}")
    if model.default_prompt_name and model.prompts.get(model.default_prompt_name):
        raise LayoutError(f"unsupported: the model has a default prompt '{model.default_prompt_name}'")
    if getattr(model, "max_active_dims", None):
        raise LayoutError(f"unsupported: the model prunes vectors to max_active_dims={model.max_active_dims}")
    if model.similarity_fn_name != "dot":
        raise LayoutError(f"unsupported similarity '{model.similarity_fn_name}': limit-eval scores by dot product")
    return parts


SUPPORTED_LAYOUTS = ("supported: an inference-free model, SparseEncoder([Router(query=[SparseStaticEmbedding], "
                     "document=[MLMTransformer, SpladePooling])]), or a SPLADE model whose queries go through the MLM "
                     "too, SparseEncoder([MLMTransformer, SpladePooling]) (also as a Router whose query and document "
                     "routes hold the same MLMTransformer and SpladePooling)")


def siamese_parts(model) -> dict[str, Any] | None:
    """The parts of a siamese SPLADE model (queries encoded by the document MLM, as naver's SPLADE and
    OpenSearch's bi-encoder models): [MLMTransformer, SpladePooling], or a Router whose two routes
    hold that pair with the same weights and settings (a saved Router keeps one copy per route).
    None for any other layout; LayoutError for a Router with two different MLMs."""
    from sentence_transformers.models import Router
    from sentence_transformers.sparse_encoder.models import MLMTransformer, SpladePooling

    def mlm_pair(modules) -> bool:
        return len(modules) == 2 and isinstance(modules[0], MLMTransformer) and isinstance(modules[1], SpladePooling)

    modules = list(model)
    if mlm_pair(modules):
        return {"static": None, "mlm": modules[0], "pooling": modules[1]}
    if len(modules) != 1 or not isinstance(modules[0], Router):
        return None
    routes = modules[0].sub_modules
    if set(routes) != {"query", "document"} or not all(mlm_pair(list(routes[r])) for r in routes):
        return None
    (query_mlm, query_pooling), (mlm, pooling) = routes["query"], routes["document"]
    if not same_mlm(query_mlm, mlm) or query_pooling.get_config_dict() != pooling.get_config_dict():
        raise LayoutError("unsupported: the Router's query and document routes hold different MLMTransformer or "
                          "SpladePooling modules (an asymmetric two-tower model); " + SUPPORTED_LAYOUTS)
    return {"static": None, "mlm": mlm, "pooling": pooling}


def same_mlm(a, b) -> bool:
    """Whether two MLMTransformers compute the same thing: settings, tokenizer and weights."""
    import torch

    if a is b:
        return True
    if type(a.auto_model) is not type(b.auto_model) or a.get_config_dict() != b.get_config_dict():
        return False
    if a.auto_model.config.to_dict() != b.auto_model.config.to_dict() or not same_tokenization(a.tokenizer, b.tokenizer):
        return False
    state_a, state_b = a.auto_model.state_dict(), b.auto_model.state_dict()
    return state_a.keys() == state_b.keys() and all(torch.equal(state_a[k], state_b[k]) for k in state_a)


def unsupported_layout(model, source: str | None = None, revision: str | None = None) -> LayoutError:
    """The error for a model that is neither layout the format holds, naming what it is."""
    names = [type(m).__name__ for m in model]
    found = f"found modules {names}"
    if "SparseAutoEncoder" in names:
        kind = "a CSR model (a SparseAutoEncoder over a dense embedding: its dimensions are not vocabulary tokens)"
        if source_model_type(source, revision) == "SentenceTransformer":
            kind = ("a dense SentenceTransformer model (sentence-transformers loads it as a SparseEncoder by putting an "
                    "untrained SparseAutoEncoder on top)")
        return LayoutError(f"unsupported model: {kind}, {found}; {SUPPORTED_LAYOUTS}")
    if "Pooling" in names or "Normalize" in names:
        return LayoutError(f"unsupported model: a dense embedding model, {found}; {SUPPORTED_LAYOUTS}")
    return LayoutError(f"unsupported model layout: {found}; {SUPPORTED_LAYOUTS}")


def source_model_type(source: str | None, revision: str | None) -> str | None:
    """config_sentence_transformers.json's model_type of SOURCE ("SentenceTransformer" for a dense
    model, "SparseEncoder"), or None when unknown. For error messages only."""
    if not source:
        return None
    try:
        from sentence_transformers.util import load_file_path

        path = load_file_path(source, "config_sentence_transformers.json", revision=revision)
        if path is None:
            return None
        return json.loads(Path(path).read_text(encoding="utf-8")).get("model_type", "SentenceTransformer")
    except Exception:  # noqa: BLE001 - the message falls back to the generic one
        return None


def tokenizer_spec(tokenizer) -> dict[str, Any]:
    if not getattr(tokenizer, "is_fast", False):
        raise LayoutError(f"unsupported tokenizer {type(tokenizer).__name__}: a fast (tokenizers) tokenizer is needed")
    return json.loads(tokenizer.backend_tokenizer.to_str())


def tokenizer_settings(tokenizer) -> dict[str, Any]:
    """The manifest's tokenizer section, read from the fast tokenizer's backend pipeline."""
    spec = tokenizer_spec(tokenizer)
    normalizer, pre, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec.get("model") or {}
    kinds = (normalizer.get("type"), pre.get("type"), model.get("type"))
    if kinds != ("BertNormalizer", "BertPreTokenizer", "WordPiece"):
        raise LayoutError(f"unsupported tokenizer pipeline (normalizer, pre-tokenizer, model) = {kinds}: "
                          f"only BERT WordPiece is supported")
    probe = "hello world"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    framed = tokenizer(probe)["input_ids"]
    if framed != [tokenizer.cls_token_id, *plain, tokenizer.sep_token_id]:
        raise LayoutError(f"unsupported special-token template: '{probe}' -> {framed}, expected [CLS] ... [SEP]")
    added = [{key: token.get(key) for key in ("id", "content", "special", "normalized", "lstrip", "rstrip",
                                               "single_word")}
             for token in spec.get("added_tokens", [])]
    return {
        "kind": "wordpiece",
        "folder": "tokenizer",
        "vocab_file": "tokenizer/vocab.txt",
        "class": type(tokenizer).__name__,
        "lowercase": bool(normalizer.get("lowercase")),
        "strip_accents": normalizer.get("strip_accents"),
        "tokenize_chinese_chars": bool(normalizer.get("handle_chinese_chars")),
        "clean_text": bool(normalizer.get("clean_text")),
        "unk_token": model.get("unk_token"),
        "cls_token": tokenizer.cls_token, "sep_token": tokenizer.sep_token,
        "pad_token": tokenizer.pad_token, "mask_token": tokenizer.mask_token,
        "special_token_ids": {"unk": tokenizer.unk_token_id, "cls": tokenizer.cls_token_id,
                              "sep": tokenizer.sep_token_id, "pad": tokenizer.pad_token_id,
                              "mask": tokenizer.mask_token_id},
        "continuing_subword_prefix": model.get("continuing_subword_prefix"),
        "max_input_chars_per_word": model.get("max_input_chars_per_word"),
        "truncation_side": tokenizer.truncation_side,
        "padding_side": tokenizer.padding_side,
        "vocab_size": len(model.get("vocab", {})),
        "added_tokens": added,
    }


def same_tokenization(a, b) -> bool:
    """Whether two fast tokenizers split text identically (lengths and padding settings aside)."""
    spec_a, spec_b = tokenizer_spec(a), tokenizer_spec(b)
    keys = ("normalizer", "pre_tokenizer", "model", "added_tokens", "post_processor")
    return all(spec_a.get(k) == spec_b.get(k) for k in keys)


def effective_max_length(value: Any) -> int | None:
    """None when a tokenizer length means 'no limit' (transformers uses int(1e30) for that)."""
    if value is None or int(value) >= 10**9:
        return None
    return int(value)


# --------------------------------------------------------------------------------------------
# The traced document encoder


def find_decoder(auto_model):
    """(parent module, attribute name, decoder) of the MLM's output projection hidden -> V, or None
    when it is not a plain torch.nn.Linear (then the module exports whole logits)."""
    import torch

    decoder = auto_model.get_output_embeddings()
    if not isinstance(decoder, torch.nn.Linear) or decoder.out_features != auto_model.config.vocab_size:
        return None
    for name, module in auto_model.named_modules():
        for child_name, child in module.named_children():
            if child is decoder:
                return module, child_name, decoder
    return None


@contextlib.contextmanager
def decoder_detached(auto_model, found):
    """Within the block the MLM's decoder is an identity: the model returns the hidden states the
    decoder would project (after the head's transform and LayerNorm)."""
    import torch

    if found is None:
        yield
        return
    parent, attribute, decoder = found
    setattr(parent, attribute, torch.nn.Identity())
    try:
        yield
    finally:
        setattr(parent, attribute, decoder)


def build_wrapper(mlm_module, output: str):
    """The module to trace and the output it will have: "hidden_states" (the decoder's input; its
    weight and bias ride along as the buffers decoder_weight [V, H] and decoder_bias [V], and the
    C++ encoder applies them to valid positions only) or "logits" (MLM logits [B, L, V])."""
    import torch

    class MaskedLMOutput(torch.nn.Module):
        """(input_ids, attention_mask) -> what the MLM returns, fed exactly as MLMTransformer.forward feeds it."""

        def __init__(self, auto_model, with_token_type_ids: bool, with_return_dict: bool, decoder):
            super().__init__()
            self.auto_model = auto_model
            self.with_token_type_ids = with_token_type_ids
            self.with_return_dict = with_return_dict
            # Its dtype is the one the model runs in (limit-eval casts floating buffers with the
            # parameters): the graph's dtype-dependent constants read it (follow_model_dtype).
            self.register_buffer("dtype_anchor", torch.zeros(()))
            if decoder is not None:
                # detach() shares the storage (tied to the word embeddings): saved once.
                self.register_buffer("decoder_weight", decoder.weight.detach())
                bias = decoder.bias.detach() if decoder.bias is not None else torch.zeros(decoder.out_features)
                self.register_buffer("decoder_bias", bias)

        def forward(self, input_ids, attention_mask):
            kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if self.with_token_type_ids:  # a single segment: the tokenizer emits zeros
                kwargs["token_type_ids"] = torch.zeros_like(input_ids)
            if self.with_return_dict:
                kwargs["return_dict"] = False
            output = self.auto_model(**kwargs)
            return output.logits if hasattr(output, "logits") else output[0]

    auto_model = mlm_module.auto_model
    with_tt = "token_type_ids" in getattr(mlm_module.tokenizer, "model_input_names", [])
    with_rd = "return_dict" in inspect.signature(auto_model.forward).parameters
    found = find_decoder(auto_model) if output in ("auto", "hidden_states") else None
    if output == "hidden_states" and found is None:
        raise LayoutError("--document-output hidden_states: the MLM's output embedding is not a Linear layer onto "
                          "the vocabulary")
    wrapper = MaskedLMOutput(auto_model, with_tt, with_rd, found[2] if found else None)
    wrapper.eval()
    return wrapper, with_tt, found


def module_logits(module, input_ids, attention_mask, output: str):
    """MLM logits [B, L, V] of an exported (traced or reloaded) module, as the C++ encoder computes them."""
    import torch

    result = module(input_ids, attention_mask)
    if output == "hidden_states":
        result = torch.nn.functional.linear(result, module.decoder_weight, module.decoder_bias)
    return result


def make_batch(lengths: list[int], width: int, vocab_size: int, ids: dict[str, int], generator):
    """input_ids/attention_mask rows of the given real lengths ([CLS] ... [SEP]), right-padded to width."""
    import torch

    batch = torch.full((len(lengths), width), ids["pad"], dtype=torch.int64)
    mask = torch.zeros((len(lengths), width), dtype=torch.int64)
    low = min(999, vocab_size - 1)
    for row, length in enumerate(lengths):
        batch[row, :length] = torch.randint(low, vocab_size, (length,), generator=generator)
        batch[row, 0] = ids["cls"]
        batch[row, length - 1] = ids["sep"]
        mask[row, :length] = 1
    return batch, mask


@contextlib.contextmanager
def identifier_module_names(model):
    """Within the block, the classes of model's submodules live in modules whose dotted names are
    Python identifiers. Custom code that transformers 4.x loads from a folder or a hub repository
    lives in a module named after it (``transformers_modules.Alibaba-NLP.new-impl.<sha>.modeling``);
    TorchScript saves such a class name but cannot load it back ("Found character '45' in string")."""
    import re

    def identifier(part: str) -> str:
        part = re.sub(r"\W", "_", part)
        return part if part.isidentifier() else "_" + part

    renamed = {}
    for module in model.modules():
        cls = type(module)
        if cls not in renamed and not all(part.isidentifier() for part in cls.__module__.split(".")):
            renamed[cls] = cls.__module__
            cls.__module__ = ".".join(identifier(part) for part in cls.__module__.split("."))
    try:
        yield
    finally:
        for cls, name in renamed.items():
            cls.__module__ = name


def trace_document_encoder(wrapper, found_decoder, ids: dict[str, int], vocab_size: int):
    import copy

    import torch

    generator = torch.Generator().manual_seed(1234)
    example = make_batch([13, 9], 13, vocab_size, ids, generator)

    def trace(module, decoder):
        with torch.no_grad(), decoder_detached(module.auto_model, decoder), identifier_module_names(module), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            return torch.jit.trace(module, example, strict=False, check_trace=False), caught

    traced, caught = trace(wrapper, found_decoder)
    notes = sorted({str(w.message).splitlines()[0] for w in caught if issubclass(w.category, torch.jit.TracerWarning)})
    for note in notes:
        log(f"tracer warning: {note}")
    # The same code traced in float64 shows which dtype constants follow the model's dtype.
    wide = copy.deepcopy(wrapper).double()
    traced_wide, _ = trace(wide, find_decoder(wide.auto_model) if found_decoder else None)
    followed = follow_model_dtype(traced, traced_wide)
    del wide, traced_wide
    if followed:
        log(f"{followed} constant dtype(s) of the trace now follow the model's dtype")
    replaced = follow_input_device(traced)
    if replaced:
        log(f"{replaced} constant device(s) of the trace now follow the input's device")
    return traced, len(notes)


FLOAT32, FLOAT64 = 6, 7  # c10::ScalarType numbers as TorchScript constants hold them


def graph_nodes(block) -> list:
    """Every node of a graph or block, nested blocks included, in order."""
    nodes = []
    for node in block.nodes():
        nodes.append(node)
        for sub_block in node.blocks():
            nodes.extend(graph_nodes(sub_block))
    return nodes


def follow_model_dtype(traced, traced_wide) -> int:
    """Makes the float32 trace's dtype-dependent constants follow the dtype the model runs in.

    A trace records ``x.to(hidden.dtype)``, ``torch.zeros(..., dtype=hidden.dtype)`` and
    ``torch.finfo(dtype).min`` as constants of the float32 trace; run in bf16/fp16 the graph would
    cast back to float32 and fail or lose speed. ``traced_wide`` is the same code traced in float64:
    a dtype constant that is float32 there and float64 here follows the model's dtype, and becomes
    ``self.dtype_anchor.dtype`` (a 0-dim buffer that limit-eval casts with the other floating
    buffers); one that is float32 in both (``softmax(..., dtype=torch.float32)``) stays. The most
    negative float32 that masks take as "minus infinity" (a float or a 0-dim tensor constant) becomes
    -65504, fp16's most negative value: finite in fp16, bf16 (-65536 there) and fp32, where softmax gives
    those positions exactly 0 either way. Left as float32's, it rounds to -inf in bf16 and fp16, and
    CUDA's attention kernels turn -inf masks into NaN on padded batches (transformers issue 31035). Returns the number of inputs changed.
    """
    import torch

    graph, wide = traced.graph, traced_wide.graph
    torch._C._jit_pass_inline(graph)
    torch._C._jit_pass_inline(wide)
    nodes, wide_nodes = graph_nodes(graph), graph_nodes(wide)
    if [n.kind() for n in nodes] != [n.kind() for n in wide_nodes]:
        raise CheckError("the float64 trace of the document encoder has another graph than the float32 one: "
                         "cannot tell which dtypes follow the model")
    dtype_uses, minimum_uses, tensor_minimum_uses = [], [], []
    float32_min = float(torch.finfo(torch.float32).min)
    for node, wide_node in zip(nodes, wide_nodes):
        for index, (value, wide_value) in enumerate(zip(node.inputs(), wide_node.inputs())):
            producer, wide_producer = value.node(), wide_value.node()
            if producer.kind() != "prim::Constant" or wide_producer.kind() != "prim::Constant":
                continue
            if not producer.hasAttribute("value") or not wide_producer.hasAttribute("value"):
                continue
            kind = value.type().kind()
            if kind == "IntType" and producer.i("value") == FLOAT32 and wide_producer.i("value") == FLOAT64:
                dtype_uses.append((node, index))
            elif kind == "FloatType" and producer.f("value") == float32_min and \
                    wide_producer.f("value") != float32_min:
                minimum_uses.append((node, index))
            elif kind == "TensorType" and is_float32_minimum(producer.t("value")) and \
                    not is_float32_minimum(wide_producer.t("value")):
                # GTE's code multiplies the mask by torch.finfo(dtype).min as a 0-dim tensor.
                tensor_minimum_uses.append((node, index))
    if not dtype_uses and not minimum_uses and not tensor_minimum_uses:
        return 0
    first = next(iter(graph.nodes()))
    if dtype_uses:
        anchor = graph.create("prim::GetAttr", [list(graph.inputs())[0]])
        anchor.s_("name", "dtype_anchor")
        anchor.output().setType(torch._C.TensorType.get())
        anchor.insertBefore(first)
        dtype = graph.create("prim::dtype", [anchor.output()])
        dtype.output().setType(torch._C.IntType.get())
        dtype.insertAfter(anchor)
        for node, index in dtype_uses:
            node.replaceInput(index, dtype.output())
    if minimum_uses:
        minimum = graph.insertConstant(float(torch.finfo(torch.float16).min))
        minimum.node().moveBefore(first)
        for node, index in minimum_uses:
            node.replaceInput(index, minimum)
    if tensor_minimum_uses:
        minimum = graph.insertConstant(torch.tensor(float(torch.finfo(torch.float16).min)))
        minimum.node().moveBefore(first)
        for node, index in tensor_minimum_uses:
            node.replaceInput(index, minimum)
    torch._C._jit_pass_dce(graph)
    return len(dtype_uses) + len(minimum_uses) + len(tensor_minimum_uses)


def is_float32_minimum(value) -> bool:
    """A 0-dim floating tensor holding float32's most negative value (a trace's torch.finfo(float32).min)."""
    import torch

    return value.dim() == 0 and value.is_floating_point() and float(value) == float(torch.finfo(torch.float32).min)


def follow_input_device(traced) -> int:
    """Makes the traced graph create its tensors on the device of its inputs.

    Tracing on the CPU records every ``device=x.device`` it meets as the constant "cpu" (transformers'
    attention-mask code does ``mask.to(device)`` and ``torch.arange(n, device=device)``): on a GPU
    those tensors would be made on the CPU. The graph is inlined (submodules' code into forward) and
    each constant device is replaced by ``input_ids.device``. Returns how many uses were replaced.
    """
    import torch

    graph = traced.graph
    torch._C._jit_pass_inline(graph)
    input_ids = list(graph.inputs())[1]
    device = None
    replaced = 0
    for node in graph_nodes(graph):
        for index, value in enumerate(list(node.inputs())):
            if not is_constant_device(value):
                continue
            if device is None:
                device_node = graph.create("prim::device", [input_ids])
                device_node.output().setType(torch._C.DeviceObjType.get())
                device_node.insertBefore(next(iter(graph.nodes())))
                device = device_node.output()
            node.replaceInput(index, device)
            replaced += 1
    torch._C._jit_pass_dce(graph)
    return replaced


def is_constant_device(value) -> bool:
    return value.node().kind() == "prim::Constant" and value.type().kind() == "DeviceObjType"


def constant_devices(module) -> list[str]:
    """Nodes of a TorchScript module's (inlined) graph that take a constant device: what
    follow_input_device removes. Used by the export check and the tests."""
    return [f"{node.kind()} ({node.sourceRange().splitlines()[0] if node.sourceRange() else '?'})"
            for node in graph_nodes(module.inlined_graph) for value in node.inputs() if is_constant_device(value)]


def eager_logits(mlm_module, input_ids, attention_mask, with_token_type_ids: bool):
    import torch

    features = {"input_ids": input_ids, "attention_mask": attention_mask}
    if with_token_type_ids:
        features["token_type_ids"] = torch.zeros_like(input_ids)
    with torch.inference_mode():
        return mlm_module(features)["token_embeddings"].float()


def check_cases(max_length: int) -> list[tuple[int, int]]:
    lengths = sorted({min(length, max_length) for length in (2, 7, 64, 300)})
    return [(batch, length) for batch in (1, 3, 8) for length in lengths]


def check_traced(traced, output: str, mlm_module, with_tt: bool, ids: dict[str, int], vocab_size: int,
                 max_length: int, tolerance: float) -> dict[str, Any]:
    """Traced vs eager on fresh shapes and paddings; raises CheckError above the tolerance."""
    import torch

    generator = torch.Generator().manual_seed(4321)
    cases, worst = [], 0.0
    for batch, length in check_cases(max_length):
        lengths = [length] + [int(torch.randint(2, length + 1, (1,), generator=generator)) for _ in range(batch - 1)]
        if batch > 1 and length > 2:
            lengths[1] = max(2, length // 2)  # at least one genuinely padded row
        input_ids, mask = make_batch(lengths, length, vocab_size, ids, generator)
        reference = eager_logits(mlm_module, input_ids, mask, with_tt)
        with torch.inference_mode():
            got = module_logits(traced, input_ids, mask, output)
        if tuple(got.shape) != (batch, length, vocab_size):
            raise CheckError(f"traced module returned shape {tuple(got.shape)} for input [{batch}, {length}], "
                             f"expected {(batch, length, vocab_size)}: it baked in the trace's shapes")
        per_position = (got - reference).abs().amax(dim=-1)  # [B, L]; NaN propagates
        diff = float(per_position[mask.bool()].max())
        # Float noise grows with the logits' magnitude (other batch shapes, other GEMM blocking), so
        # the tolerance is relative to the largest logit (and absolute below 1).
        scale = max(1.0, float(reference.abs().amax(dim=-1)[mask.bool()].max()))
        case = {"kind": "traced_vs_eager", "batch_size": batch, "max_length": length, "lengths": lengths,
                "max_abs_diff": diff, "max_abs_diff_all_positions": float(per_position.max()), "logit_scale": scale}
        if batch > 1 and length > 2 and length <= 64:
            # Padding must not change a row: compare each padded row with the row run alone.
            alone_worst = 0.0
            for row, row_length in enumerate(lengths):
                if row_length < length:
                    with torch.inference_mode():
                        alone = module_logits(traced, input_ids[row:row + 1, :row_length],
                                              mask[row:row + 1, :row_length], output)
                    alone_worst = max(alone_worst, float((alone[0] - got[row, :row_length]).abs().max()))
            case["padded_vs_alone_max_abs_diff"] = alone_worst
            diff = max(diff, alone_worst)
        if not (diff <= tolerance * scale):  # also catches NaN
            raise CheckError(f"traced document encoder differs from the eager model by {diff:.3g} "
                             f"(> --check-tolerance {tolerance:g} x largest logit {scale:.3g}) on batch {batch} x "
                             f"length {length}, row lengths {lengths}")
        worst = max(worst, diff)
        cases.append(case)
        del reference, got
    return {"max_abs_diff": worst, "cases": cases}


# --------------------------------------------------------------------------------------------
# The pipeline the manifest describes, re-implemented from the manifest's settings


def contract_document_vectors(traced, tokenizer, texts: list[str], doc: dict[str, Any]):
    """MLM + SPLADE vectors of one side (the documents, or the queries of a siamese model) from its settings."""
    import torch

    stripped = [text.strip() if doc.get("strip", True) else text for text in texts]
    encoded = tokenizer(stripped, padding=True, truncation="longest_first", max_length=doc["max_seq_length"],
                        return_tensors="pt", add_special_tokens=doc.get("add_special_tokens", True))
    mask = encoded["attention_mask"]
    with torch.inference_mode():
        logits = module_logits(traced, encoded["input_ids"], mask, doc["output"])
        values = torch.log1p(torch.relu(logits * mask.unsqueeze(-1).to(logits.dtype)))
        if doc["activation"] == "log1p_relu":
            values = torch.log1p(values)
        return values.max(dim=1).values


def static_query_weights(static, vocab_size: int):
    """(the SparseStaticEmbedding's weights as float32 [vocab_size], padded with zeros; its own length)."""
    import torch

    weights = static.weight.detach().to(torch.float32).cpu().clone()
    if weights.dim() != 1:
        raise LayoutError(f"SparseStaticEmbedding weight has shape {tuple(weights.shape)}, expected [V]")
    static_size = int(weights.shape[0])
    if static_size > vocab_size:
        raise LayoutError(f"SparseStaticEmbedding has {static_size} weights but the vocabulary only {vocab_size}")
    if static_size < vocab_size:
        log(f"SparseStaticEmbedding has {static_size} weights for a {vocab_size} vocabulary: padding with zeros")
        weights = torch.cat([weights, torch.zeros(vocab_size - static_size)])
    return weights, static_size


def mlm_query_settings(document: dict[str, Any]) -> dict[str, Any]:
    """query_encoder of a siamese model: the document encoder's module and pooling, run on the query
    text as sentence-transformers' encode_query gives it to MLMTransformer.tokenize (stripped, with
    special tokens, truncated at the MLM's max_seq_length); no prompt (find_routes refuses one)."""
    keys = ("file", "architecture", "max_seq_length", "truncation", "strip", "do_lower_case", "add_special_tokens",
            "pooling", "activation", "output")
    return {"kind": "mlm", **{key: document[key] for key in keys}, "shared_with_document_encoder": True}


def contract_query_vectors(weights, tokenizer, texts: list[str], query: dict[str, Any]):
    import torch

    kwargs = {"max_length": query["max_seq_length"]} if query["max_seq_length"] else {}
    encoded = tokenizer(texts, add_special_tokens=False, truncation=query["max_seq_length"] is not None, **kwargs)
    vectors = torch.zeros((len(texts), weights.shape[0]), dtype=torch.float32)
    for row, token_ids in enumerate(encoded["input_ids"]):
        present = torch.tensor(sorted(set(token_ids)), dtype=torch.int64)
        if present.numel():
            vectors[row, present] = weights[present]
    return vectors


def check_pipeline(model, traced, weights, doc_tokenizer, query_tokenizer, doc: dict[str, Any],
                   query: dict[str, Any], tolerance: float) -> dict[str, Any]:
    import torch

    with torch.inference_mode():
        want_docs = model.encode_document(PIPELINE_DOCUMENTS, batch_size=4, convert_to_tensor=True,
                                          convert_to_sparse_tensor=False, show_progress_bar=False).float()
        want_queries = model.encode_query(PIPELINE_QUERIES, batch_size=4, convert_to_tensor=True,
                                          convert_to_sparse_tensor=False, show_progress_bar=False).float()
    got_docs = contract_document_vectors(traced, doc_tokenizer, PIPELINE_DOCUMENTS, doc)
    got_queries = (contract_document_vectors(traced, query_tokenizer, PIPELINE_QUERIES, query) if query["kind"] == "mlm"
                   else contract_query_vectors(weights, query_tokenizer, PIPELINE_QUERIES, query))
    if want_queries.shape[1] < got_queries.shape[1]:
        # An MLM larger than its tokenizer (GTE: 30528 logits, 30522 tokens): sentence-transformers'
        # query vectors have the static weight's length; ours are padded with zeros to the MLM's.
        want_queries = torch.nn.functional.pad(want_queries, (0, got_queries.shape[1] - want_queries.shape[1]))
    doc_diff = float((got_docs - want_docs).abs().max())
    query_diff = float((got_queries - want_queries).abs().max())
    if not (doc_diff <= tolerance):
        raise CheckError(f"document vectors rebuilt from the manifest's settings differ from encode_document by "
                         f"{doc_diff:.3g} (> --check-tolerance {tolerance:g})")
    if not (query_diff <= tolerance):
        raise CheckError(f"query vectors rebuilt from the manifest's settings differ from encode_query by "
                         f"{query_diff:.3g} (> --check-tolerance {tolerance:g})")
    return {"kind": "pipeline_vs_sentence_transformers", "documents": len(PIPELINE_DOCUMENTS),
            "queries": len(PIPELINE_QUERIES), "document_max_abs_diff": doc_diff, "query_max_abs_diff": query_diff,
            "document_nonzero_mean": float((want_docs > 0).sum(dim=1).float().mean())}


# --------------------------------------------------------------------------------------------
# Writing the folder


# --------------------------------------------------------------------------------------------
# The trainable document encoder (--trainable; `limit-eval finetune`)

TRAIN_FILE = "document_train.pt"


def write_trainable_document_encoder(mlm, ids: dict[str, int], vocab_size: int, staging: Path) -> dict[str, Any]:
    """Traces the MLM in train mode (its dropout active) returning whole logits [B, L, V], with its
    parameters as the module's parameters (the decoder's weight stays tied to the word embeddings),
    saves it as TRAIN_FILE and returns the manifest's "training" block: the file, and the names in
    it of the decoder's weight and bias, which `limit-eval finetune` copies into the buffers of
    document_encoder.pt when it writes a trained model."""
    import torch

    wrapper, _, _ = build_wrapper(mlm, "logits")
    decoder = wrapper.auto_model.get_output_embeddings()
    names_of = {}
    for name, parameter in wrapper.named_parameters(remove_duplicate=False):
        names_of.setdefault(id(parameter), []).append(name)
    decoder_weight = names_of.get(id(decoder.weight), []) if decoder is not None else []
    decoder_bias = names_of.get(id(decoder.bias), []) if decoder is not None and decoder.bias is not None else []
    wrapper.train()
    example = make_batch([13, 9], 13, vocab_size, ids, torch.Generator().manual_seed(1234))
    try:
        with identifier_module_names(wrapper), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(wrapper, example, strict=False, check_trace=False)
        follow_input_device(traced)
        # Same dropout draws on both sides: the trace must compute what the eager module does.
        input_ids, mask = make_batch([11, 7], 11, vocab_size, ids, torch.Generator().manual_seed(5))
        torch.manual_seed(7)
        got = traced(input_ids, mask)
        torch.manual_seed(7)
        expected = wrapper(input_ids, mask)
        scale = max(1.0, float(expected.detach().abs().max()))
        diff = float((got - expected).detach().abs()[mask.bool()].max()) / scale
        if not diff <= 1e-4:
            raise CheckError(f"the train-mode trace differs from the eager model by {diff:.3g} (relative)")
        torch.jit.save(traced, str(staging / TRAIN_FILE))
    finally:
        wrapper.eval()
    dropout = {k: v for k, v in wrapper.auto_model.config.to_dict().items() if "dropout" in k}
    log(f"trainable document encoder: {TRAIN_FILE} (train mode, {dropout})")
    return {"file": TRAIN_FILE, "mode": "train", "output": "logits", "decoder_weight": decoder_weight,
            "decoder_bias": decoder_bias, "dropout": dropout, "check_max_rel_diff": diff}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import sentence_transformers
    import tokenizers
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__, "tokenizers": tokenizers.__version__,
            "python": platform.python_version()}


def write_vocab_if_missing(tokenizer_dir: Path, tokenizer) -> None:
    vocab_file = tokenizer_dir / "vocab.txt"
    if vocab_file.exists():
        return
    vocab = tokenizer_spec(tokenizer)["model"]["vocab"]
    ordered = sorted(vocab.items(), key=lambda item: item[1])
    if [index for _, index in ordered] != list(range(len(ordered))):
        raise LayoutError("the WordPiece vocabulary's ids are not 0..n-1: cannot write vocab.txt")
    vocab_file.write_text("".join(token + "\n" for token, _ in ordered), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The folder as limit-eval loads it
#
# validate_folder() makes, on the folder about to be published, every check limit-eval makes when it
# loads a model folder (src/encode/model_folder.cpp: the manifest; src/text/wordpiece.cpp: the
# vocabulary and its special tokens; src/neural/neural_encoder.cpp: tokenizer ids within the
# vocabulary; src/neural/document_model.cpp: the TorchScript module, its decoder buffers and output
# width; load_query_weights: the weights' length and finiteness), and the checks this exporter makes
# on the source model that a folder can violate (max_seq_length within the position embeddings,
# static weights no longer than the vocabulary): a folder export_model.py writes always loads, and
# tests/oracle/test_export_roundtrip.py refuses one corrupted folder per check with both.

# What the format (and limit-eval) supports: the manifest's closed vocabularies.
DOCUMENT_OUTPUTS = ("hidden_states", "logits")
ACTIVATIONS = ("relu", "log1p_relu")
QUERY_ENCODER_KINDS = ("static_weights", "mlm")
TOKENIZER_KINDS = ("wordpiece", "sentencepiece")
OLDEST_FORMAT_VERSION = 1


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def validate_manifest(manifest: Any) -> None:
    """limit-eval's checks of manifest.json's fields (src/encode/model_folder.cpp); raises CheckError."""
    def fail(what: str):
        raise CheckError(f"manifest.json: {what}")

    def section(key: str) -> dict:
        if not isinstance(manifest.get(key), dict):
            fail(f"'{key}' must be an object")
        return manifest[key]

    def string(obj: dict, key: str, where: str, required: bool = True) -> str | None:
        if key not in obj and not required:
            return None
        if not isinstance(obj.get(key), str):
            fail(f"'{where}{key}' must be a string")
        return obj[key]

    def boolean(obj: dict, key: str, where: str) -> None:
        if key in obj and not isinstance(obj[key], bool):
            fail(f"'{where}{key}' must be true or false")

    def positive(obj: dict, key: str, where: str, nullable: bool = False) -> int | None:
        value = obj.get(key)
        if nullable and key in obj and value is None:
            return None
        if not _is_positive_int(value):
            fail(f"'{where}{key}' must be a positive integer{' or null' if nullable else ''}")
        return value

    if not isinstance(manifest, dict):
        fail("the manifest must be a JSON object")
    if manifest.get("format") != FORMAT_NAME:
        fail(f"'format' is not \"{FORMAT_NAME}\"")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        fail("'format_version' must be an integer")
    if not OLDEST_FORMAT_VERSION <= version <= FORMAT_VERSION:
        fail(f"format version {version} is not supported (versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})")
    string(manifest, "name", "")
    vocab_size = positive(manifest, "vocab_size", "")
    if vocab_size > 2**32 - 1:
        fail("'vocab_size' is too large")

    def mlm_side(side: dict, where: str) -> None:
        """An MLM + SPLADE pooling side: document_encoder, or a query_encoder of kind "mlm"."""
        string(side, "file", where)
        string(side, "architecture", where, required=False)
        side_max = positive(side, "max_seq_length", where)
        positions = side.get("max_position_embeddings")
        if positions is not None:
            positive(side, "max_position_embeddings", where)
            if side_max > positions:
                fail(f"{where}max_seq_length {side_max} exceeds max_position_embeddings {positions}")
        boolean(side, "add_special_tokens", where)
        if string(side, "pooling", where) != "max":
            fail(f"{where}pooling '{side['pooling']}' is not supported (only \"max\")")
        if string(side, "activation", where) not in ACTIVATIONS:
            fail(f"{where}activation '{side['activation']}' is not supported")
        output = string(side, "output", where, required=version >= 2) or "logits"
        if output not in DOCUMENT_OUTPUTS:
            fail(f"{where}output '{output}' is not supported")
        if side.get("truncation", "longest_first") != "longest_first":
            fail(f"{where}truncation '{side['truncation']}' is not supported (only \"longest_first\")")

    doc = section("document_encoder")
    mlm_side(doc, "document_encoder.")
    if doc.get("text", "title_space_text_stripped") != "title_space_text_stripped":
        fail(f"document_encoder.text '{doc['text']}' is not supported")

    query = section("query_encoder")
    query_kind = query.get("kind", "static_weights")
    if query_kind not in QUERY_ENCODER_KINDS:
        fail(f"query_encoder.kind '{query_kind}' is not supported")
    if query_kind == "mlm":
        mlm_side(query, "query_encoder.")
        boolean(query, "strip", "query_encoder.")
    else:
        string(query, "file", "query_encoder.")
        if query.get("dtype", "float32") != "float32":
            fail("query_encoder.dtype must be \"float32\"")
        positive(query, "max_seq_length", "query_encoder.", nullable=True)
        boolean(query, "add_special_tokens", "query_encoder.")
        if query.get("presence", "binary") != "binary":
            fail(f"query_encoder.presence '{query['presence']}' is not supported (only \"binary\")")
        if "static_weight_size" in query:
            static_size = positive(query, "static_weight_size", "query_encoder.")
            if static_size > vocab_size:
                fail(f"query_encoder.static_weight_size {static_size} exceeds vocab_size {vocab_size}")

    tok = section("tokenizer")
    kind = string(tok, "kind", "tokenizer.")
    if kind not in TOKENIZER_KINDS:
        fail(f"tokenizer.kind '{kind}' is not supported")
    string(tok, "vocab_file" if kind == "wordpiece" else "model_file", "tokenizer.")
    for key in ("lowercase", "tokenize_chinese_chars", "clean_text"):
        boolean(tok, key, "tokenizer.")
    for side, where in ((doc, "document_encoder."), (query, "query_encoder.")):
        boolean(side, "do_lower_case", where)
        if side.get("do_lower_case"):
            fail(f"{where}do_lower_case true is not supported")
    if tok.get("strip_accents") is not None and not isinstance(tok["strip_accents"], bool):
        fail("'tokenizer.strip_accents' must be true, false or null")
    for key in ("unk_token", "cls_token", "sep_token", "pad_token", "continuing_subword_prefix"):
        string(tok, key, "tokenizer.", required=False)
    if tok.get("mask_token") is not None:
        string(tok, "mask_token", "tokenizer.")
    if "max_input_chars_per_word" in tok:
        positive(tok, "max_input_chars_per_word", "tokenizer.")
    if not isinstance(manifest.get("files"), dict):
        fail("'files' must be an object")


def validate_folder(folder: Path) -> dict[str, Any]:
    """Every check limit-eval makes when it loads FOLDER (see the comment above); raises CheckError
    naming the first that fails. Returns the manifest."""
    import numpy as np
    import torch

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckError(f"manifest.json: unreadable or not JSON: {error}") from error
    validate_manifest(manifest)
    doc, query, tok, files = (manifest["document_encoder"], manifest["query_encoder"], manifest["tokenizer"],
                              manifest["files"])
    vocab_size = manifest["vocab_size"]

    tokenizer_file = tok["vocab_file"] if tok["kind"] == "wordpiece" else tok["model_file"]
    for required in (doc["file"], query["file"], tokenizer_file):
        if required not in files:
            raise CheckError(f"manifest.json: 'files' does not list '{required}'")
    for relative, entry in files.items():
        path = folder / relative
        if not path.is_file():
            raise CheckError(f"{relative}: missing from the model folder (listed in manifest.json)")
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise CheckError(f"manifest.json: 'files.{relative}' must be an object with a sha256")
        if "bytes" in entry and entry["bytes"] != path.stat().st_size:
            raise CheckError(f"{relative}: size {path.stat().st_size} differs from the manifest's {entry['bytes']}")
        if sha256_of(path) != entry["sha256"]:
            raise CheckError(f"{relative}: sha256 differs from the manifest's (corrupt file)")

    if tok["kind"] == "wordpiece":
        try:  # universal newlines, as transformers' load_vocab (and limit-eval) read vocab.txt
            with (folder / tokenizer_file).open(encoding="utf-8", newline=None) as stream:
                lines = stream.read().split("\n")
        except UnicodeDecodeError as error:
            raise CheckError(f"{tokenizer_file}: a token is not valid UTF-8 ({error})") from error
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            raise CheckError(f"{tokenizer_file}: the WordPiece vocabulary is empty")
        vocab = set(lines)
        specials = {"unknown": tok.get("unk_token", "[UNK]"), "classifier": tok.get("cls_token", "[CLS]"),
                    "separator": tok.get("sep_token", "[SEP]"), "padding": tok.get("pad_token", "[PAD]"),
                    "mask": tok.get("mask_token", "[MASK]")}
        for role, token in specials.items():
            if token and token not in vocab:
                raise CheckError(f"{tokenizer_file}: the {role} token '{token}' is not in the vocabulary")
        if len(lines) > vocab_size:
            raise CheckError(f"the tokenizer has {len(lines)} ids but the manifest's vocab_size is {vocab_size}: "
                             f"token ids past the model's vocabulary")

    if query.get("kind", "static_weights") == "static_weights":
        weights_path = folder / query["file"]
        if weights_path.stat().st_size != 4 * vocab_size:
            raise CheckError(f"{query['file']}: holds {weights_path.stat().st_size} bytes but the vocabulary has "
                             f"{vocab_size} tokens")
        if not np.isfinite(np.fromfile(weights_path, dtype="<f4")).all():
            raise CheckError(f"{query['file']}: a weight is not a finite number")

    output = doc.get("output", "logits")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(folder / doc["file"]), map_location="cpu")
    except Exception as error:  # noqa: BLE001 - any load failure is the same refusal
        raise CheckError(f"{doc['file']}: not a loadable TorchScript module: {str(error).splitlines()[0]}") from error
    buffers = dict(module.named_buffers())
    if output == "hidden_states":
        weight, bias = buffers.get("decoder_weight"), buffers.get("decoder_bias")
        if weight is None or bias is None:
            raise CheckError(f"{doc['file']}: document_encoder.output is hidden_states but the module has no "
                             f"decoder_weight/decoder_bias buffers")
        if weight.dim() != 2 or weight.shape[0] != vocab_size:
            raise CheckError(f"{doc['file']}: decoder_weight has shape {list(weight.shape)}; expected "
                             f"[{vocab_size}, hidden size]")
        if list(bias.shape) != [vocab_size]:
            raise CheckError(f"{doc['file']}: decoder_bias has shape {list(bias.shape)}; expected [{vocab_size}]")
    probe = torch.ones((2, 3), dtype=torch.int64)
    with torch.inference_mode():
        try:
            result = module(probe, torch.ones_like(probe))
        except Exception as error:  # noqa: BLE001
            raise CheckError(f"{doc['file']}: forward(input_ids, attention_mask) failed on a probe batch: "
                             f"{str(error).splitlines()[0]}") from error
    width = buffers["decoder_weight"].shape[1] if output == "hidden_states" else vocab_size
    if not isinstance(result, torch.Tensor) or list(result.shape) != [2, 3, width]:
        shape = list(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise CheckError(f"{doc['file']}: forward() returned {shape} for input [2, 3]; expected [2, 3, {width}] "
                         f"({output})")
    return manifest


@explains_custom_code_failures
def export(args: argparse.Namespace, source: str, output: Path, name: str, revision: str | None,
           trust_remote_code: bool, code_revision: str | None, model_kwargs: dict | None,
           config_kwargs: dict | None) -> dict[str, Any]:
    started = time.perf_counter()
    output = output.expanduser().resolve()
    if output.exists() and not args.force:
        raise OutputExistsError(f"{output} already exists (pass --force to replace it)")
    import numpy as np
    import torch

    torch.manual_seed(0)

    timings: dict[str, float] = {}
    log(f"loading {source}{'@' + revision if revision else ''}")
    model = load_encoder(source, revision, trust_remote_code, code_revision, model_kwargs, config_kwargs)
    timings["load"] = time.perf_counter() - started
    parts = find_routes(model, source, revision)
    static, mlm, pooling = parts["static"], parts["mlm"], parts["pooling"]
    auto_model = mlm.auto_model
    auto_model.eval()
    vocab_size = int(auto_model.config.vocab_size)

    doc_tokenizer, query_tokenizer = mlm.tokenizer, static.tokenizer if static is not None else mlm.tokenizer
    tokenizer = tokenizer_settings(doc_tokenizer)
    tokenizer_settings(query_tokenizer)
    if not same_tokenization(doc_tokenizer, query_tokenizer):
        raise LayoutError("unsupported: the query (SparseStaticEmbedding) and document (MLMTransformer) tokenizers "
                          "split text differently; the format has one tokenizer")
    if len(doc_tokenizer) > vocab_size:
        raise LayoutError(f"the tokenizer has {len(doc_tokenizer)} tokens but the MLM only {vocab_size} logits")

    doc_max = effective_max_length(mlm.max_seq_length) or effective_max_length(doc_tokenizer.model_max_length)
    positions = getattr(auto_model.config, "max_position_embeddings", None)
    if doc_max is None:
        raise LayoutError("the document encoder has no max_seq_length and its tokenizer no model_max_length")
    if positions is not None and doc_max > positions:
        raise LayoutError(f"max_seq_length {doc_max} exceeds the model's {positions} position embeddings")
    query_max = effective_max_length(query_tokenizer.model_max_length)

    weights, static_size = static_query_weights(static, vocab_size) if static is not None else (None, None)

    document = {
        "file": "document_encoder.pt",
        "architecture": type(auto_model).__name__,
        "model_type": getattr(auto_model.config, "model_type", None),
        "inputs": ["input_ids", "attention_mask"],
        "token_type_ids": "zeros" if "token_type_ids" in doc_tokenizer.model_input_names else "none",
        "dtype": "float32",
        "max_seq_length": doc_max,
        "max_position_embeddings": positions,
        "truncation": "longest_first",
        "text": "title_space_text_stripped",
        "strip": True,
        "do_lower_case": bool(getattr(mlm, "do_lower_case", False)),
        "add_special_tokens": True,
        "pooling": pooling.pooling_strategy,
        "activation": pooling.activation_function,
        "attn_implementation": getattr(auto_model.config, "_attn_implementation", None),
    }
    query = {
        "kind": "static_weights",
        "file": "query_weights.f32",
        "dtype": "float32",
        "byte_order": "little",
        "max_seq_length": query_max,
        "add_special_tokens": False,
        "strip": False,
        "presence": "binary",
        "static_weight_size": static_size,
    } if static is not None else None  # a siamese model's is the document encoder's: set once it is traced

    ids = {k: tokenizer["special_token_ids"][k] for k in ("cls", "sep", "pad")}
    if None in ids.values():
        raise LayoutError(f"the tokenizer lacks a special token: {ids}")
    log(f"tracing {document['architecture']} ({sum(p.numel() for p in auto_model.parameters()) / 1e6:.1f}M "
        f"parameters, vocab {vocab_size}, max_seq_length {doc_max})")
    mark = time.perf_counter()
    output_choice = args.document_output
    while True:
        wrapper, with_tt, found_decoder = build_wrapper(mlm, output_choice)
        document["output"] = "hidden_states" if found_decoder else "logits"
        log(f"document encoder output: {document['output']}")
        try:
            traced, tracer_warnings = trace_document_encoder(wrapper, found_decoder, ids, vocab_size)
            timings["trace"] = time.perf_counter() - mark
            mark = time.perf_counter()
            check = check_traced(traced, document["output"], mlm, with_tt, ids, vocab_size, doc_max,
                                 args.check_tolerance)
            break
        except Exception as error:  # noqa: BLE001 - custom model code may use its decoder in any way
            if output_choice != "auto" or document["output"] != "hidden_states":
                if document["output"] == "hidden_states" and isinstance(error, CheckError):
                    raise CheckError(f"{error} (hidden_states export; --document-output logits exports whole "
                                     f"logits)") from error
                raise
            # The model's code does more with its decoder than the export can split off: export logits.
            log(f"cannot export hidden states + decoder ({type(error).__name__}: {str(error).splitlines()[0]}); "
                f"exporting whole logits")
            output_choice = "logits"
    log(f"traced vs eager: largest abs difference {check['max_abs_diff']:.3g} over {len(check['cases'])} shapes")
    if static is None:
        query = mlm_query_settings(document)
        log("queries: encoded by the document encoder (siamese SPLADE)")
    pipeline = check_pipeline(model, traced, weights, doc_tokenizer, query_tokenizer, document, query,
                              args.check_tolerance)
    log(f"pipeline vs sentence-transformers: documents {pipeline['document_max_abs_diff']:.3g}, "
        f"queries {pipeline['query_max_abs_diff']:.3g}")
    timings["check"] = time.perf_counter() - mark
    mark = time.perf_counter()

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
    try:
        with warnings.catch_warnings():
            # torch 2.11 deprecates TorchScript in favour of torch.export, but libtorch still loads it
            # and it is what the C++ encoder runs.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(traced, str(staging / document["file"]))
            reloaded = torch.jit.load(str(staging / document["file"]), map_location="cpu")
        generator = torch.Generator().manual_seed(99)
        reload_len = min(doc_max, 23)
        input_ids, mask = make_batch([reload_len, max(2, reload_len - 6)], reload_len, vocab_size, ids, generator)
        with torch.inference_mode():
            reload_diff = float((module_logits(reloaded, input_ids, mask, document["output"])
                                 - eager_logits(mlm, input_ids, mask, with_tt))
                                .abs()[mask.bool()].max())
        if not (reload_diff <= args.check_tolerance):
            raise CheckError(f"the saved TorchScript file reloads to a module that differs by {reload_diff:.3g}")
        pinned = constant_devices(reloaded)
        if pinned:
            raise CheckError(f"the saved module still creates tensors on a fixed device ({len(pinned)} place(s), "
                             f"e.g. {pinned[0]}): it would fail on another device")
        check["cases"].append({"kind": "saved_and_reloaded", "batch_size": 2, "max_length": reload_len,
                               "max_abs_diff": reload_diff})

        training = write_trainable_document_encoder(mlm, ids, vocab_size, staging) if args.trainable else None
        if weights is not None:
            np.asarray(weights.numpy(), dtype="<f4").tofile(staging / query["file"])
        tokenizer_dir = staging / "tokenizer"
        # Calls leave truncation/padding state in the backend; save the tokenizer without it.
        doc_tokenizer.backend_tokenizer.no_truncation()
        doc_tokenizer.backend_tokenizer.no_padding()
        doc_tokenizer.save_pretrained(str(tokenizer_dir))
        write_vocab_if_missing(tokenizer_dir, doc_tokenizer)
        files = {}
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            files[path.relative_to(staging).as_posix()] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}

        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": name,
            "source": {"id": source, "revision": revision, "resolved_revision": resolved_hub_revision(source, revision),
                       "code_revision": code_revision, "trust_remote_code": trust_remote_code,
                       "model_kwargs": model_kwargs or {}, "config_kwargs": config_kwargs or {}},
            "vocab_size": vocab_size,
            "similarity": "dot",
            "document_encoder": document,
            "query_encoder": query,
            "tokenizer": tokenizer,
            "files": files,
            "versions": versions(),
            **({"trainable": training} if training else {}),
            "export_check": {"tolerance": args.check_tolerance, "max_abs_diff": check["max_abs_diff"],
                             "tracer_warnings": tracer_warnings, "cases": check["cases"], "pipeline": pipeline},
            "export_seconds": {**{k: round(v, 3) for k, v in timings.items()},
                               "write": round(time.perf_counter() - mark, 3),
                               "total": round(time.perf_counter() - started, 3)},
            "exported_at": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
                           .replace("+00:00", "Z"),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        try:
            validate_folder(staging)
        except CheckError as error:
            raise CheckError(f"the folder written would not load in limit-eval: {error}") from error
        os.chmod(staging, 0o755)
        publish(staging, output, args.force)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    seconds = manifest["export_seconds"]
    log(f"wrote {output} in {seconds['total']:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()
                                                              if k != "total") + ")")
    return manifest


def publish(staging: Path, output: Path, force: bool) -> None:
    """Renames the finished staging folder to output, replacing an old folder only with --force."""
    if output.exists() or output.is_symlink():
        if not force:
            raise OutputExistsError(f"{output} already exists (pass --force to replace it)")
        old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
        os.replace(output, old / output.name)
        os.replace(staging, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, output)


# --------------------------------------------------------------------------------------------
# Command line


def parse_json_object(text: str | None, flag: str) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{flag}: not JSON: {error}") from error
    if not isinstance(value, dict):
        raise UsageError(f"{flag}: expected a JSON object")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="See docs/model-format.md for the folder format.")
    parser.add_argument("source", nargs="?", help="Hugging Face model id or local SparseEncoder folder")
    parser.add_argument("--output", type=Path, help="model folder to write (with SOURCE)")
    parser.add_argument("--name", help="the manifest's model name (default: the output folder's name)")
    parser.add_argument("--revision", help="hub revision (branch, tag or commit sha) of SOURCE")
    parser.add_argument("--trust-remote-code", action="store_true", help="allow the model's custom code")
    parser.add_argument("--code-revision", help="revision of the custom code repository (with --trust-remote-code)")
    parser.add_argument("--model-kwargs", help="JSON object passed to SparseEncoder(model_kwargs=...)")
    parser.add_argument("--config-kwargs", help="JSON object passed to SparseEncoder(config_kwargs=...)")
    parser.add_argument("--check-tolerance", type=float, default=1e-4,
                        help="largest allowed difference of the export checks: relative to the largest logit "
                             "(at least 1) for traced vs eager, absolute for the pooled vectors (default 1e-4)")
    parser.add_argument("--document-output", choices=("auto", "hidden_states", "logits"), default="auto",
                        help="what document_encoder.pt returns: the hidden states before the MLM decoder, whose "
                             "weight and bias it carries (the C++ encoder then projects valid positions only: "
                             "faster, less memory), or whole logits [B, L, V]; auto = hidden_states when the "
                             "decoder is a Linear layer onto the vocabulary, else logits")
    parser.add_argument("--trainable", action="store_true",
                        help="also write document_train.pt, the document encoder traced in train mode (dropout "
                             "active, whole logits, the decoder tied to the word embeddings), which `limit-eval "
                             "finetune` trains")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")
    parser.add_argument("--all", action="store_true",
                        help="export every model of the registry (the project's models/registry.json)")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models",
                        help="with --all: where the model folders are written, <models-dir>/<name>/ (default: the "
                             "project's models/)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="with --all: export only these short names")
    parser.add_argument("--registry", type=Path, default=REGISTRY,
                        help="with --all: the registry of short names (default: the project's models/registry.json, "
                             "the one limit-eval reads)")
    args = parser.parse_args(argv)
    if args.all == bool(args.source):
        parser.error("give either SOURCE (with --output) or --all")
    if args.source and args.output is None:
        parser.error("SOURCE needs --output DIR")
    if args.all and (args.output or args.name or args.revision or args.trust_remote_code or args.code_revision
                     or args.model_kwargs or args.config_kwargs):
        parser.error("--all reads ids, revisions and loading options from the registry; "
                     "--output/--name/--revision/--trust-remote-code/--code-revision/--*-kwargs go with SOURCE")
    if args.only and not args.all:
        parser.error("--only goes with --all")
    if args.registry != REGISTRY and not args.all:
        parser.error("--registry goes with --all")
    if not args.check_tolerance >= 0:
        parser.error("--check-tolerance must be >= 0")
    return args


def load_registry(path: Path = REGISTRY) -> dict[str, dict[str, Any]]:
    try:
        registry = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise UsageError(f"{path}: no model registry") from error
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: not JSON: {error}") from error
    models = registry.get("models", registry)
    if not isinstance(models, dict) or not all(isinstance(v, dict) and "hf_id" in v for v in models.values()):
        raise UsageError(f"{path}: expected {{\"models\": {{short name: {{\"hf_id\": ..., ...}}}}}}")
    return models


def run_all(args: argparse.Namespace) -> int:
    models = load_registry(args.registry)
    names = args.only or list(models)
    unknown = [n for n in names if n not in models]
    if unknown:
        raise UsageError(f"not in the registry: {', '.join(unknown)} (known: {', '.join(models)})")
    failures = []
    for short in names:
        entry = models[short]
        try:
            export(args, entry["hf_id"], args.models_dir / short, short, entry.get("revision"),
                   bool(entry.get("trust_remote_code")), entry.get("code_revision"), entry.get("model_kwargs"),
                   entry.get("config_kwargs"))
        except ExportError as error:
            print(f"{PROG}: {short}: error: {error}", file=sys.stderr)
            failures.append((short, error.exit_code))
            if isinstance(error, SourceError) and error.hub_unreachable:
                rest = names[names.index(short) + 1:]
                if rest:
                    print(f"{PROG}: skipping {', '.join(rest)}: the hub is unreachable", file=sys.stderr)
                    failures.extend((n, error.exit_code) for n in rest)
                break
    if failures:
        print(f"{PROG}: {len(failures)} of {len(names)} exports failed: {', '.join(n for n, _ in failures)}",
              file=sys.stderr)
        return failures[0][1]
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.all:
            return run_all(args)
        export(args, args.source, args.output, args.name or args.output.expanduser().resolve().name, args.revision,
               args.trust_remote_code, args.code_revision, parse_json_object(args.model_kwargs, "--model-kwargs"),
               parse_json_object(args.config_kwargs, "--config-kwargs"))
    except ExportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
