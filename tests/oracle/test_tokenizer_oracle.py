"""limit-eval's WordPiece tokenizer (src/text/wordpiece.cpp) against Hugging Face's.

Reference: transformers 4.56.0 BertTokenizerFast (tokenizers 0.22.0) built offline from
tests/fixtures/bert-base-uncased-vocab.txt with do_lower_case=True, i.e. bert-base-uncased's
pipeline. Ours: the test driver $LIMIT_EVAL_BUILD_DIR/tests/tools/wordpiece_driver (JSON lines in,
JSON lines out), built from tests/tools.

  - random strings (fixed seed) mixing ASCII words, punctuation, accented Latin, combining marks,
    CJK, kana, Hangul, emoji, controls, special tokens and arbitrary code points: identical ids;
  - every Unicode scalar value, in chunks: identical normalization (with the default settings and
    with each normalizer step alone), pre-tokenization and ids;
  - the LIMIT corpus (data/limit/corpus.jsonl; when it is not downloaded, a LIMIT-style corpus of
    10,000 documents from `limit-eval generate`): identical ids for every document;
  - tests/fixtures/tokenizer/golden.jsonl is what scripts/tokenizer_golden.py generates today.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

SEED = 1234567
RANDOM_TEXTS = 4000
CHUNK = 2048  # code points per line in the exhaustive sweeps
SURROGATES = range(0xD800, 0xE000)


def source_dir() -> Path:
    return Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))


VOCAB = source_dir() / "tests" / "fixtures" / "bert-base-uncased-vocab.txt"


def driver() -> Path:
    build = os.environ.get("LIMIT_EVAL_BUILD_DIR")
    if not build:
        pytest.skip("LIMIT_EVAL_BUILD_DIR is not set (CTest sets it to the build folder)")
    path = Path(build) / "tests" / "tools" / "wordpiece_driver"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the wordpiece_driver target (tests/tools)")
    return path


def run_driver(inputs: list, *args: str) -> list:
    payload = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in inputs)
    result = subprocess.run([str(driver()), "--vocab", str(VOCAB), *args], input=payload.encode("utf-8"),
                            capture_output=True, check=False, timeout=600)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    lines = result.stdout.decode("utf-8").split("\n")  # not splitlines(): U+2028 may be in the data
    assert lines[-1] == "" and len(lines) - 1 == len(inputs)
    lines.pop()
    return [json.loads(line) for line in lines]


@lru_cache(maxsize=1)
def reference():
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab_file=str(VOCAB), do_lower_case=True)


def hf_ids(text: str, add_special_tokens: bool, max_length: int) -> list[int]:
    if max_length == 0:
        return reference()(text, add_special_tokens=add_special_tokens, truncation=False)["input_ids"]
    return reference()(text, add_special_tokens=add_special_tokens, truncation=True,
                       max_length=max_length)["input_ids"]


def describe(mismatches: list[str], total: int) -> str:
    return f"{len(mismatches)} of {total} differ; first ones:\n" + "\n".join(mismatches[:15])


# ---------------------------------------------------------------- random strings

POOLS: dict[str, list[str]] = {
    "ascii-word": ["the", "Quokka", "likes", "RIVER", "otters", "unaffable", "xyzzy", "a", "I", "42", "3.14",
                   "Geneva", "Durben", "snow-leopards", "Who", "likes?", "e-mail", "x" * 30],
    "ascii-punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "space": [" ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u2009", "\u3000", "\x0b", "\x0c", "\x1c",
              "\x85", "\u2028", "\u180e"],
    "accented": list("àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝßẞİıŁłŒœØøÆæĀāĂăĄąǅǈǋ"
                     "ḀḁẠạỳỲ"),
    "combining": ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u0327", "\u0334", "\u0345", "\u05b0",
                  "\u0651", "\u093f", "\u0903", "\u20dd", "\u1ab0", "\u0898", "\U0001d165", "\U0001d16d", "\u1734",
                  "\u0c3c", "\u1715"],
    "cjk": list("中文字符野口里佳東京你好世界一二三龍豈丽") + ["\U00020000", "\U0002b820", "\U0002b920", "\U0002f800",
                                                      "\u3002", "\uff0c", "\u300c"],
    "kana-hangul": list("ひらがなカタカナｶﾀｶﾅーゃ한국어텍스트ㄱㅏ") + ["\u1100\u1161\u11a8"],
    "emoji": ["😀", "🍕", "🚀", "❤️", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "#️⃣", "☃"],
    "control": ["\x00", "\x01", "\x1b", "\x7f", "\x9f", "\u200b", "\u200c", "\u200d", "\u200e", "\u2066", "\ufeff",
                "\ufffd", "\ue000", "\U000f0000", "\u0378", "\uffff", "\U000e0001", "\u00ad", "\u0890", "\U00013430"],
    "other-script": list("ΣσςΑθήναΐПриветЁжשלוםمرحباमुंबईภาษาअ") + ["\u2e43", "\u166d", "\U000111c9",
                                                                  "\U00010d50", "\ua7cb", "\u1c89", "\u212a",
                                                                  "\u2126", "\u212b", "\ufb01"],
    "special": ["[MASK]", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[mask]", "[MASK", "MASK]"],
    "any": [],  # filled by random_code_point()
}


def random_code_point(rng: random.Random) -> str:
    while True:
        cp = rng.choice([rng.randrange(0x80, 0x800), rng.randrange(0x800, 0x10000),
                         rng.randrange(0x10000, 0x110000), rng.randrange(0x10000, 0x30000)])
        if cp not in SURROGATES:
            return chr(cp)


def random_text(rng: random.Random) -> str:
    names = list(POOLS)
    weights = [6, 3, 5, 3, 2, 2, 1, 1, 1, 2, 1, 2]
    pieces = []
    for _ in range(rng.choice([0, 1, 3, 8, 20, 60])):
        pool = rng.choices(names, weights)[0]
        pieces.append(random_code_point(rng) if pool == "any" else rng.choice(POOLS[pool]))
    if rng.random() < 0.05:  # words around the 100-character limit
        pieces.append(rng.choice(["a", "é", "ж", "ab", "x\u0301"]) * rng.randint(95, 105))
    return "".join(pieces)


def test_random_strings_give_the_same_ids():
    rng = random.Random(SEED)
    cases = []
    for _ in range(RANDOM_TEXTS):
        text = random_text(rng)
        special = rng.random() < 0.5
        max_length = rng.choice([0, 0, 0, 512, 16, 3, 2, 1])
        cases.append({"text": text, "add_special_tokens": special, "max_length": max_length})
    ours = run_driver(cases)
    mismatches = []
    for case, got in zip(cases, ours):
        expected = hf_ids(case["text"], case["add_special_tokens"], case["max_length"])
        if got != expected:
            mismatches.append(f"  {case!r}\n    HF   {expected}\n    ours {got}")
    assert not mismatches, describe(mismatches, len(cases))


# ---------------------------------------------------------------- every code point

def scalar_chunks(separator: str) -> list[str]:
    scalars = [chr(cp) for cp in range(0x110000) if cp not in SURROGATES]
    return [separator.join(scalars[i:i + CHUNK]) for i in range(0, len(scalars), CHUNK)]


NORMALIZER_CONFIGS = {
    "default": ({"clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True}, []),
    "clean-only": ({"clean_text": True, "handle_chinese_chars": False, "strip_accents": False, "lowercase": False},
                   ["--no-chinese", "--no-lowercase", "--strip-accents", "false"]),
    "chinese-only": ({"clean_text": False, "handle_chinese_chars": True, "strip_accents": False, "lowercase": False},
                     ["--no-clean", "--no-lowercase", "--strip-accents", "false"]),
    "strip-only": ({"clean_text": False, "handle_chinese_chars": False, "strip_accents": True, "lowercase": False},
                   ["--no-clean", "--no-chinese", "--no-lowercase", "--strip-accents", "true"]),
    "lowercase-only": ({"clean_text": False, "handle_chinese_chars": False, "strip_accents": False, "lowercase": True},
                       ["--no-clean", "--no-chinese", "--strip-accents", "false"]),
}


def first_differences(expected: str, got: str, separator: str) -> list[str]:
    e_parts, g_parts = expected.split(separator), got.split(separator)
    if len(e_parts) != len(g_parts):
        return [f"  piece counts differ: HF {len(e_parts)} ours {len(g_parts)}"]
    return [f"  piece {i}: HF {e!r} ours {g!r}" for i, (e, g) in enumerate(zip(e_parts, g_parts)) if e != g]


@pytest.mark.parametrize("config", list(NORMALIZER_CONFIGS))
def test_every_code_point_normalizes_the_same(config):
    from tokenizers import normalizers

    hf_settings, driver_args = NORMALIZER_CONFIGS[config]
    normalizer = normalizers.BertNormalizer(**hf_settings)
    chunks = scalar_chunks("|")  # '|' is a starter that no normalization step touches
    ours = run_driver(chunks, "--mode", "normalize", *driver_args)
    mismatches = []
    for chunk, got in zip(chunks, ours):
        expected = normalizer.normalize_str(chunk)
        if got != expected:
            mismatches += first_differences(expected, got, "|")
    assert not mismatches, describe(mismatches, 0x110000 - len(SURROGATES))


def shorten(pieces: list[str]) -> str:
    return repr([piece if len(piece) <= 12 else piece[:5] + "..." + piece[-5:] for piece in pieces])


def test_every_code_point_pre_tokenizes_the_same():
    backend = reference().backend_tokenizer
    chunks = scalar_chunks("a")
    ours = run_driver(chunks, "--mode", "pretokenize")
    mismatches = []
    for index, (chunk, got) in enumerate(zip(chunks, ours)):
        expected = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(chunk))]
        if got != expected:
            first = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), min(len(expected), len(got)))
            mismatches.append(f"  chunk {index}, pre-token {first}: HF {shorten(expected[first:first + 3])} "
                              f"ours {shorten(got[first:first + 3])}")
    assert not mismatches, describe(mismatches, len(chunks))


def test_every_code_point_alone_gives_the_same_ids():
    chunks = scalar_chunks(" ")
    ours = run_driver(chunks)
    mismatches = []
    for index, (chunk, got) in enumerate(zip(chunks, ours)):
        expected = hf_ids(chunk, True, 0)
        if got != expected:
            first = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), min(len(expected), len(got)))
            mismatches.append(f"  chunk {index}, id {first}: HF {expected[first:first + 5]} ours {got[first:first + 5]}")
    assert not mismatches, describe(mismatches, len(chunks))


# ---------------------------------------------------------------- LIMIT and the golden file

def limit_corpus(tmp_path: Path) -> Path:
    """LIMIT's corpus when downloaded; else a LIMIT-style one that `limit-eval generate` builds from
    LIMIT's attribute list and names (so the check never has to be skipped): 10,000 documents of 45
    attributes each hold every attribute many times over, at a fifth of the tokenizing time."""
    corpus = source_dir() / "data" / "limit" / "corpus.jsonl"
    if corpus.exists():
        return corpus
    binary = os.environ.get("LIMIT_EVAL_BIN")
    assert binary, "LIMIT_EVAL_BIN is not set (CTest sets it to the built limit-eval)"
    folder = tmp_path / "limit-generated"
    result = subprocess.run([binary, "generate", "--output", str(folder), "--documents", "10000", "--seed", "42",
                             "--log-level", "warn"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    print(f"{corpus} is not downloaded: comparing on a LIMIT-style corpus from limit-eval generate")
    return folder / "corpus.jsonl"


def test_limit_corpus_gives_the_same_ids(tmp_path):
    corpus = limit_corpus(tmp_path)
    with corpus.open(encoding="utf-8") as f:
        texts = [(doc.get("title", "") + " " + doc["text"]).strip() for doc in map(json.loads, f) if doc]
    assert len(texts) in (50000, 10000)
    ours = run_driver(texts, "--max-length", "512")
    expected = reference()(texts, add_special_tokens=True, truncation=True, max_length=512)["input_ids"]
    mismatches = [f"  {text[:80]!r}\n    HF   {e}\n    ours {g}"
                  for text, e, g in zip(texts, expected, ours) if e != g]
    assert not mismatches, describe(mismatches, len(texts))


def test_golden_file_is_up_to_date():
    spec = importlib.util.spec_from_file_location("tokenizer_golden", source_dir() / "scripts" / "tokenizer_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.check(reference())
    expected = module.golden(reference())
    with (source_dir() / "tests" / "fixtures" / "tokenizer" / "golden.jsonl").open(encoding="utf-8") as f:
        stored = [json.loads(line) for line in f]
    assert stored == expected, "re-run scripts/tokenizer_golden.py golden"
