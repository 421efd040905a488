#!/usr/bin/env python3
"""Build a tiny random-weight OpenSearch-style inference-free sparse encoder (or a siamese SPLADE model).

Usage:
    make_tiny_model.py --arch bert|distilbert|gte --activation relu|log1p_relu --output DIR
                       [--seed 0] [--layers 2] [--hidden 64] [--heads 2] [--intermediate 128]
                       [--max-seq-length 512] [--idf PATH|random|auto] [--vocab PATH]
                       [--mlm-vocab-size N] [--gte-code DIR] [--initializer-range 0.1]
                       [--token-positive-fraction 3e-4] [--layout inference-free|siamese|siamese-router]
                       [--force]

The result is a sentence-transformers 5.1 ``SparseEncoder`` saved with ``model.save(DIR)``
(so ``SparseEncoder(DIR)`` loads it) with the same module layout as the OpenSearch
``opensearch-neural-sparse-encoding-doc-*`` models:

    SparseEncoder(modules=[Router.for_query_document(
        query_modules=[SparseStaticEmbedding(tokenizer, weight=idf, frozen=True)],
        document_modules=[MLMTransformer(<BertForMaskedLM|DistilBertForMaskedLM|NewForMaskedLM>),
                          SpladePooling(pooling_strategy="max", activation_function=ACT)])],
        similarity_fn_name="dot")

``--layout siamese`` builds a plain SPLADE model instead, whose queries go through the MLM too (as
naver's SPLADE and OpenSearch's bi-encoder models): ``SparseEncoder(modules=[MLMTransformer(...),
SpladePooling(...)])``; ``--layout siamese-router`` puts that same pair on both routes of a
``Router.for_query_document`` (saved, each route gets its own copy of the weights). No query
weights then.

``--arch gte`` builds GTE's ``NewForMaskedLM`` (the architecture of v3-gte) from the GTE code in
``--gte-code`` (default ``../shared/third_party/gte-new-impl``), which is copied into the model's
folder and loaded with ``trust_remote_code``; its saved ``config.json`` is set the way the published
GTE v1.5 configs are (``auto_map`` onto that code, rope with NTK scaling factor 2 and theta 500000,
``max_position_embeddings`` 8192, ``type_vocab_size`` 0, ``unpad_inputs`` and
``use_memory_efficient_attention`` true, ``vocab_size`` 30528 over the 30522-token tokenizer), so
loading it needs the registry's v3-gte options (``config_kwargs`` unpad_inputs/use_memory_efficient_
attention false: xformers is not installed).

The tokenizer is a BertTokenizerFast (DistilBertTokenizerFast for distilbert) over the real
bert-base-uncased vocabulary (30522 tokens), lower-casing, model_max_length 512. The query
weights come from an OpenSearch ``idf.json`` table through ``SparseStaticEmbedding.from_json``
(tokens missing from the table weigh 0), or from seeded random numbers with ``--idf random``
(the default ``auto`` takes ``../shared/reference/opensearch-idf.json`` when it exists, else random).

Weights. Everything is drawn from ``torch.manual_seed(seed)`` (deterministic on CPU), with
``initializer_range`` 0.1 (``--initializer-range``), then three deliberate adjustments so that the document vectors look
like a real SPLADE model's instead of noise (a plain random MLM head gives logits symmetric
around 0, so after relu + max over ~100 tokens nearly every vocabulary entry is positive):

1. the word embeddings (tied to the MLM decoder) are scaled by 3, so each position's hidden
   state stays dominated by its own token through the embedding LayerNorm;
2. the MLM head's transform dense layer is 0.5 * identity (bias 0), so the decoder sees a
   near-copy of that state: each token's own logit stands far above the others;
3. the decoder bias is per-token N(0, 0.1) jitter minus a threshold chosen so that a fraction
   ``--token-positive-fraction`` (default 3e-4, ~9 of 30522) of the logits of seeded random
   calibration sequences is positive.

The attention and feed-forward layers keep their random weights (std 0.1), which is large
enough for context and the attention mask to change the logits. On LIMIT-small this gives
~3% non-zero entries per document vector, containing almost all of the document's own tokens,
so rankings are lexical-ish and metrics are far from zero (but not identical across seeds,
architectures or activations).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VOCAB = ROOT / "tests" / "fixtures" / "bert-base-uncased-vocab.txt"
SHARED_VOCAB = ROOT.parent / "shared" / "vocab" / "bert-base-uncased-vocab.txt"
DEFAULT_IDF = ROOT.parent / "shared" / "reference" / "opensearch-idf.json"
DEFAULT_GTE_CODE = ROOT.parent / "shared" / "third_party" / "gte-new-impl"
VOCAB_SIZE = 30522
GTE_VOCAB_SIZE = 30528  # what GTE's own configs say for the 30522-token bert-base-uncased vocabulary
# The published GTE v1.5 config values that the saved config.json carries (see the docstring).
GTE_PUBLISHED_CONFIG = {"max_position_embeddings": 8192, "type_vocab_size": 0, "position_embedding_type": "rope",
                        "rope_theta": 500000.0, "rope_scaling": {"factor": 2.0, "type": "ntk"},
                        "layer_norm_type": "layer_norm", "pack_qkv": True, "unpad_inputs": True,
                        "use_memory_efficient_attention": True, "logn_attention_scale": False,
                        "logn_attention_clip1": False}

EMBEDDING_SCALE = 3.0
HEAD_TRANSFORM_GAIN = 0.5
BIAS_JITTER_STD = 0.1
INITIALIZER_RANGE = 0.1


class UsageError(Exception):
    """A problem with the command line or its input files (exit code 2)."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build a tiny random-weight OpenSearch-style inference-free SparseEncoder.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--arch", required=True, choices=["bert", "distilbert", "gte"])
    parser.add_argument("--activation", required=True, choices=["relu", "log1p_relu"])
    parser.add_argument("--output", required=True, type=Path, help="folder to write (must not exist unless --force)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--intermediate", type=int, default=128)
    parser.add_argument("--max-seq-length", type=int, default=512,
                        help="the document encoder's max_seq_length (position embeddings: max(512, this))")
    parser.add_argument("--idf", default="auto",
                        help=f"OpenSearch idf.json (token -> weight) for the query weights, 'random', or 'auto' "
                             f"(default: {DEFAULT_IDF} when that file exists, else random)")
    parser.add_argument("--vocab", type=Path, default=None,
                        help=f"WordPiece vocab (default {DEFAULT_VOCAB}, else {SHARED_VOCAB})")
    parser.add_argument("--mlm-vocab-size", type=int, default=None,
                        help=f"the MLM's vocabulary (logits) size; default {VOCAB_SIZE}, {GTE_VOCAB_SIZE} for gte as "
                             f"GTE's configs say; must be at least the tokenizer's {VOCAB_SIZE}")
    parser.add_argument("--gte-code", type=Path, default=DEFAULT_GTE_CODE,
                        help="folder holding GTE's configuration.py and modeling.py (for --arch gte)")
    parser.add_argument("--initializer-range", type=float, default=INITIALIZER_RANGE,
                        help="std of the random weights; large enough in tiny models for context to matter, but "
                             "deep wide models (base size) need the real models' 0.02 to stay well-conditioned "
                             "(at 0.1 a 12-layer GTE-base's logits change by half their scale with the padding)")
    parser.add_argument("--token-positive-fraction", type=float, default=3e-4,
                        help="fraction of per-token MLM logits made positive by the decoder bias")
    parser.add_argument("--layout", choices=["inference-free", "siamese", "siamese-router"], default="inference-free",
                        help="inference-free: Router(query=[SparseStaticEmbedding], document=[MLMTransformer, "
                             "SpladePooling]); siamese: [MLMTransformer, SpladePooling] for queries and documents; "
                             "siamese-router: that pair on both routes of a Router")
    parser.add_argument("--dropout", type=float, default=None,
                        help="the MLM's dropout probabilities (hidden and attention; default: the architecture's); "
                             "0 makes training deterministic, as the fine-tuning parity test needs")
    parser.add_argument("--force", action="store_true", help="replace an existing output folder")
    args = parser.parse_args(argv)
    for name in ("layers", "hidden", "heads", "intermediate", "max_seq_length"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.hidden % args.heads != 0:
        parser.error(f"--hidden ({args.hidden}) must be a multiple of --heads ({args.heads})")
    if not 0.0 < args.token_positive_fraction < 1.0:
        parser.error("--token-positive-fraction must be in (0, 1)")
    if args.mlm_vocab_size is None:
        args.mlm_vocab_size = GTE_VOCAB_SIZE if args.arch == "gte" else VOCAB_SIZE
    if args.mlm_vocab_size < VOCAB_SIZE:
        parser.error(f"--mlm-vocab-size must be at least the tokenizer's {VOCAB_SIZE}")
    return args


def resolve_vocab(path: Path | None) -> Path:
    candidates = [path] if path is not None else [DEFAULT_VOCAB, SHARED_VOCAB]
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    raise UsageError("vocabulary not found (tried: " + ", ".join(str(c) for c in candidates) + ")")


def build_tokenizer(arch: str, vocab: Path):
    from transformers import BertTokenizerFast, DistilBertTokenizerFast

    import inspect

    cls = DistilBertTokenizerFast if arch == "distilbert" else BertTokenizerFast
    import transformers

    if "vocab" in inspect.signature(cls.__init__).parameters or int(transformers.__version__.split(".")[0]) >= 5:
        # transformers 5 builds WordPiece tokenizers from a token -> id mapping.
        tokens = vocab.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        tokenizer = cls(vocab={token: index for index, token in enumerate(tokens)}, do_lower_case=True,
                        model_max_length=512)
    else:
        tokenizer = cls(vocab_file=str(vocab), do_lower_case=True, model_max_length=512)
    if len(tokenizer) != VOCAB_SIZE:
        raise UsageError(f"{vocab}: expected the {VOCAB_SIZE}-token bert-base-uncased vocabulary, got {len(tokenizer)}")
    return tokenizer


def dropout_kwargs(args: argparse.Namespace, *names: str) -> dict:
    return {} if args.dropout is None else {name: args.dropout for name in names}


def build_mlm(args: argparse.Namespace):
    import torch
    from transformers import BertConfig, BertForMaskedLM, DistilBertConfig, DistilBertForMaskedLM

    positions = max(512, args.max_seq_length)
    torch.manual_seed(args.seed)
    if args.arch == "gte":
        model = build_gte(args)
        embeddings = model.new.embeddings.word_embeddings
        transform = model.lm_head.dense
        bias = model.lm_head.decoder.bias
    elif args.arch == "bert":
        config = BertConfig(vocab_size=args.mlm_vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
                            num_attention_heads=args.heads, intermediate_size=args.intermediate,
                            max_position_embeddings=positions, initializer_range=args.initializer_range,
                            pad_token_id=0, **dropout_kwargs(args, "hidden_dropout_prob", "attention_probs_dropout_prob"))
        model = BertForMaskedLM(config)
        embeddings = model.bert.embeddings.word_embeddings
        transform = model.cls.predictions.transform.dense
        bias = model.cls.predictions.decoder.bias
    else:
        config = DistilBertConfig(vocab_size=args.mlm_vocab_size, dim=args.hidden, n_layers=args.layers, n_heads=args.heads,
                                  hidden_dim=args.intermediate, max_position_embeddings=positions,
                                  initializer_range=args.initializer_range, pad_token_id=0,
                                  **dropout_kwargs(args, "dropout", "attention_dropout"))
        model = DistilBertForMaskedLM(config)
        embeddings = model.distilbert.embeddings.word_embeddings
        transform = model.vocab_transform
        bias = model.vocab_projector.bias
    model.eval()
    decoder = model.get_output_embeddings()
    if decoder.weight.data_ptr() != embeddings.weight.data_ptr() and args.arch == "gte":
        # GTE's code declares its tied weights in transformers 4's form (a list), which transformers 5
        # no longer reads: tie them by hand, as the published checkpoints are.
        decoder.weight = embeddings.weight
    if decoder.weight.data_ptr() != embeddings.weight.data_ptr():
        raise RuntimeError("expected the MLM decoder to be tied to the word embeddings")

    generator = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        embeddings.weight.mul_(EMBEDDING_SCALE)
        transform.weight.copy_(torch.eye(args.hidden) * HEAD_TRANSFORM_GAIN)
        transform.bias.zero_()
        bias.copy_(torch.randn(args.mlm_vocab_size, generator=generator) * BIAS_JITTER_STD)
        bias.sub_(calibration_threshold(model, args, generator))
    return model


def gte_code_files(code: Path) -> list[Path]:
    files = [code / "configuration.py", code / "modeling.py"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"GTE code not found: {', '.join(missing)} (pass --gte-code DIR)")
    return files


def gte_config(args: argparse.Namespace, loadable: bool) -> dict:
    """config.json of a GTE NewForMaskedLM; loadable=True switches off what needs xformers."""
    config = {"architectures": ["NewForMaskedLM"], "model_type": "new",
              "auto_map": {"AutoConfig": "configuration.NewConfig", "AutoModel": "modeling.NewModel",
                           "AutoModelForMaskedLM": "modeling.NewForMaskedLM"},
              "vocab_size": args.mlm_vocab_size, "hidden_size": args.hidden, "num_hidden_layers": args.layers,
              "num_attention_heads": args.heads, "intermediate_size": args.intermediate, "hidden_act": "gelu",
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-12,
              "initializer_range": args.initializer_range, "pad_token_id": 0, "classifier_dropout": None,
              **GTE_PUBLISHED_CONFIG}
    config["max_position_embeddings"] = max(config["max_position_embeddings"], args.max_seq_length)
    if loadable:
        config.update(unpad_inputs=False, use_memory_efficient_attention=False)
    if args.dropout is not None:
        config.update(hidden_dropout_prob=args.dropout, attention_probs_dropout_prob=args.dropout)
    return config


def build_gte(args: argparse.Namespace):
    """A random NewForMaskedLM built through trust_remote_code from a folder holding GTE's code."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    files = gte_code_files(args.gte_code)
    with tempfile.TemporaryDirectory(prefix="tiny-gte-code-") as scratch:
        for source in files:
            shutil.copy(source, Path(scratch) / source.name)
        (Path(scratch) / "config.json").write_text(json.dumps(gte_config(args, loadable=True)))
        config = AutoConfig.from_pretrained(scratch, trust_remote_code=True)
        model = AutoModelForMaskedLM.from_config(config, trust_remote_code=True, attn_implementation="eager")
    return model


def publish_gte_config(folder: Path, args: argparse.Namespace) -> None:
    """Gives a saved GTE model folder GTE's code and the published config values."""
    for source in gte_code_files(args.gte_code):
        shutil.copy(source, folder / source.name)
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(gte_config(args, loadable=False))
    config.pop("_attn_implementation_autoset", None)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def calibration_threshold(model, args: argparse.Namespace, generator) -> float:
    """The logit value that a fraction token_positive_fraction of calibration logits exceeds.

    Computed in float64 on a copy and rounded to 1e-4, so the saved weights do not depend on
    the thread count or BLAS blocking of the machine that builds them.
    """
    import copy

    import torch

    batch, length = 8, 64
    ids = torch.randint(999, VOCAB_SIZE, (batch, length), generator=generator)  # past [unusedN]/specials
    ids[:, 0] = 101  # [CLS]
    ids[:, -1] = 102  # [SEP]
    mask = torch.ones_like(ids)
    probe = copy.deepcopy(model).double()
    logits = probe(input_ids=ids, attention_mask=mask).logits.flatten()
    rank = max(1, int(round(logits.numel() * (1.0 - args.token_positive_fraction))))
    return round(float(torch.kthvalue(logits, rank).values), 4)


def query_weights(args: argparse.Namespace, tokenizer, scratch: Path):
    import torch
    from sentence_transformers.sparse_encoder.models import SparseStaticEmbedding

    idf = args.idf
    if idf == "auto":
        idf = str(DEFAULT_IDF) if DEFAULT_IDF.is_file() else "random"
        if idf == "random":
            print(f"make_tiny_model.py: {DEFAULT_IDF} not found: seeded random query weights", file=sys.stderr)
    if idf == "random":
        generator = torch.Generator().manual_seed(args.seed + 2)
        weights = torch.rand(VOCAB_SIZE, generator=generator) * 12.0 + 0.5
        vocab = tokenizer.convert_ids_to_tokens(list(range(VOCAB_SIZE)))
        idf_path = scratch / "idf.json"
        idf_path.write_text(json.dumps({token: float(w) for token, w in zip(vocab, weights.tolist())}))
    else:
        idf_path = Path(idf)
        if not idf_path.is_file():
            raise UsageError(f"IDF table not found: {idf_path} (pass --idf PATH or --idf random)")
    try:
        static = SparseStaticEmbedding.from_json(str(idf_path), tokenizer=tokenizer, frozen=True)
    except (ValueError, json.JSONDecodeError) as error:
        raise UsageError(f"{idf_path}: not a token -> weight JSON table: {error}") from error
    if static.weight.shape[0] != VOCAB_SIZE:
        # from_json sizes the weight by the largest token id it saw; the OpenSearch models cover the vocabulary.
        padded = torch.zeros(VOCAB_SIZE)
        padded[: min(VOCAB_SIZE, static.weight.shape[0])] = static.weight.detach()[:VOCAB_SIZE]
        static = SparseStaticEmbedding(tokenizer=tokenizer, weight=padded, frozen=True)
    return static


def build(args: argparse.Namespace) -> None:
    from sentence_transformers import SparseEncoder
    from sentence_transformers.models import Router
    from sentence_transformers.sparse_encoder.models import MLMTransformer, SpladePooling
    from transformers import AutoTokenizer

    vocab = resolve_vocab(args.vocab)
    output = args.output.resolve()
    if output.exists() and not args.force:
        raise UsageError(f"{output} already exists (pass --force to replace it)")
    output.parent.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer(args.arch, vocab)
    mlm = build_mlm(args)
    with tempfile.TemporaryDirectory(prefix="tiny-mlm-") as scratch_name:
        scratch = Path(scratch_name)
        hf_dir = scratch / "mlm"
        mlm.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        gte = args.arch == "gte"
        if gte:
            publish_gte_config(hf_dir, args)
        remote = {"trust_remote_code": True} if gte else {}
        loadable = {"unpad_inputs": False, "use_memory_efficient_attention": False} if gte else {}
        document = MLMTransformer(str(hf_dir), max_seq_length=args.max_seq_length,
                                  model_args={**remote, **({"attn_implementation": "eager"} if gte else {})},
                                  config_args={**remote, **loadable}, tokenizer_args=remote)
        pooling = SpladePooling(pooling_strategy="max", activation_function=args.activation,
                                word_embedding_dimension=args.mlm_vocab_size)
        if args.layout == "siamese":
            modules = [document, pooling]
        elif args.layout == "siamese-router":
            modules = [Router.for_query_document(query_modules=[document, pooling], document_modules=[document, pooling])]
        else:
            static = query_weights(args, AutoTokenizer.from_pretrained(hf_dir), scratch)
            modules = [Router.for_query_document(query_modules=[static], document_modules=[document, pooling])]
        model = SparseEncoder(modules=modules, similarity_fn_name="dot", device="cpu")

        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-", dir=output.parent))
        try:
            model.save(str(staging))
            if gte:
                # The saved document model must carry GTE's code and the published config values
                # (sentence-transformers saves the config it loaded, with our loading overrides).
                for config_file in staging.rglob("config.json"):
                    if json.loads(config_file.read_text()).get("model_type") == "new":
                        publish_gte_config(config_file.parent, args)
                # transformers looks for a local model's custom code in the folder it was given, not in
                # the Router's sub-folder: the code goes to the top as well.
                for source in gte_code_files(args.gte_code):
                    shutil.copy(source, staging / source.name)
            if output.exists():
                shutil.rmtree(output)
            os.replace(staging, output)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    print(f"wrote {output} ({args.arch}, {args.activation}, {args.layout}, seed {args.seed}, "
          f"{sum(p.numel() for p in mlm.parameters())} MLM parameters)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        build(args)
    except UsageError as error:
        print(f"make_tiny_model.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
