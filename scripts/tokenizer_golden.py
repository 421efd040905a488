#!/usr/bin/env python3
"""Reference data for the C++ WordPiece tokenizer (src/text/wordpiece.cpp).

The reference is Hugging Face's BertTokenizerFast (transformers 4.56.0, tokenizers 0.22.0), built
offline from the vocabulary shipped in the repository:

    BertTokenizerFast(vocab_file="tests/fixtures/bert-base-uncased-vocab.txt", do_lower_case=True)

which yields the pipeline of bert-base-uncased's tokenizer.json (checked by `check`): BertNormalizer
(clean_text, handle_chinese_chars, strip_accents null, lowercase), BertPreTokenizer, WordPiece
([UNK], "##", 100 chars per word), template "[CLS] $A [SEP]", special tokens [PAD] [UNK] [CLS] [SEP]
[MASK] (not normalized, cut out of the raw text).

Commands (run with the project's venv, ~/.cache/limit-eval/venv/bin/python, from anywhere):

    tokenizer_golden.py golden             writes tests/fixtures/tokenizer/golden.jsonl
    tokenizer_golden.py unicode-overrides  prints the generated tables of src/text/wordpiece.cpp
    tokenizer_golden.py check              asserts the reference settings (run by `golden` too)

golden.jsonl holds one case per line: {"case", "text", "add_special_tokens", "max_length", "ids"};
max_length 0 means no truncation (HF truncation=False), otherwise HF truncation=True,
max_length=N. The cases are
  - limit-small/corpus: every document as title + " " + text, stripped; with special tokens, 512;
  - limit-small/queries and limit/queries: every query text as is; without special tokens, 512;
  - edge/...: a hand-written table of difficult inputs (both with and without special tokens);
  - random/...: 400 random mixed-script strings, random.Random(20251122), lengths 0-120.
The output is deterministic: re-running the command rewrites the same file.

`unicode-overrides` compares, code point by code point, what Hugging Face does with what utf8proc
(the C++ Unicode library, loaded here through ctypes) reports, and prints the differences as C++
tables. Hugging Face's categories come from the `unicode_categories` crate (old Unicode tables),
its NFD from `unicode-normalization-alignments`, its lowercase from Rust's std (Unicode 16);
utf8proc 2.8 is Unicode 15.0. Re-run it when utf8proc or tokenizers changes version.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "tests" / "fixtures" / "bert-base-uncased-vocab.txt"
GOLDEN = ROOT / "tests" / "fixtures" / "tokenizer" / "golden.jsonl"
RANDOM_SEED = 20251122
RANDOM_CASES = 400

# bert-base-uncased's tokenizer.json (pipeline blocks, vocabulary left out).
EXPECTED_PIPELINE = {
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                   "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100},
    "added_tokens": [(0, "[PAD]"), (100, "[UNK]"), (101, "[CLS]"), (102, "[SEP]"), (103, "[MASK]")],
}


def reference_tokenizer():
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab_file=str(VOCAB), do_lower_case=True)


def check(tokenizer) -> None:
    import tokenizers
    import transformers

    assert tokenizers.__version__ == "0.22.0", tokenizers.__version__
    assert transformers.__version__ == "4.56.0", transformers.__version__
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    assert state["normalizer"] == EXPECTED_PIPELINE["normalizer"], state["normalizer"]
    assert state["pre_tokenizer"] == EXPECTED_PIPELINE["pre_tokenizer"], state["pre_tokenizer"]
    model = {k: v for k, v in state["model"].items() if k != "vocab"}
    assert model == EXPECTED_PIPELINE["model"], model
    added = [(t["id"], t["content"]) for t in state["added_tokens"]]
    assert added == EXPECTED_PIPELINE["added_tokens"], added
    for token in state["added_tokens"]:
        assert token["special"] and not token["normalized"], token
        assert not (token["lstrip"] or token["rstrip"] or token["single_word"]), token
    assert state["post_processor"]["type"] == "TemplateProcessing"
    assert tokenizer("")["input_ids"] == [101, 102]
    assert len(state["model"]["vocab"]) == 30522


def encode(tokenizer, text: str, add_special_tokens: bool, max_length: int) -> list[int]:
    if max_length == 0:
        return tokenizer(text, add_special_tokens=add_special_tokens, truncation=False)["input_ids"]
    return tokenizer(text, add_special_tokens=add_special_tokens, truncation=True,
                     max_length=max_length)["input_ids"]


# ---------------------------------------------------------------- golden cases


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def limit_cases() -> list[tuple[str, str, bool, int]]:
    cases = []
    for doc in read_jsonl(ROOT / "data" / "limit-small" / "corpus.jsonl"):
        text = (doc.get("title", "") + " " + doc["text"]).strip()
        cases.append((f"limit-small/corpus/{doc['_id']}", text, True, 512))
    for dataset in ("limit-small", "limit"):
        for query in read_jsonl(ROOT / "data" / dataset / "queries.jsonl"):
            cases.append((f"{dataset}/queries/{query['_id']}", query["text"], False, 512))
    return cases


LONG_DOCUMENT = " ".join(["Geneva Durben likes Quokkas, River Otters, Tapirs and Snow Leopards."] * 60)

# (name, text); every text is encoded with and without special tokens, without truncation.
EDGE_TEXTS: list[tuple[str, str]] = [
    ("empty", ""),
    ("whitespace-only", "   \t\n\r\n  "),
    ("nbsp-and-ideographic-space-only", "\u00a0\u3000\u2003"),
    ("unaffable", "unaffable"),
    ("hello-world", "Hello, world!"),
    ("uppercase", "HELLO World, THIS Is MiXeD CaSe"),
    ("accents", "Café naïve résumé Ångström façade jalapeño Zürich"),
    ("combining-acute", "cafe\u0301 e\u0301le\u0300ve"),
    ("stacked-combining", "a\u0301\u0302\u0303\u0304b o\u0308\u0301"),
    ("leading-combining", "\u0301abc \u0308"),
    ("combining-only-word", "x \u0301\u0302 y"),
    ("enclosing-mark", "1\u20e3 a\u20dd"),
    ("spacing-mark-devanagari", "हिन्दी नमस्ते"),
    ("cjk", "野口里佳 Noguchi Rika"),
    ("cjk-mixed", "中文字符test混合English文本"),
    ("cjk-ext-b", "\U00020000\U00020001 \U0002a6df"),
    ("cjk-ext-gap", "\U0002b820\U0002b81f\U0002b920"),
    ("cjk-compat", "\uf900\uf901 \ufa0e"),
    ("cjk-compat-supplement", "\U0002f800\U0002f801"),
    ("cjk-punctuation", "你好，世界！「引用」。"),
    ("japanese-kana", "ひらがな カタカナ ｶﾀｶﾅ こんにちは世界"),
    ("korean", "한국어 텍스트 안녕하세요"),
    ("hangul-jamo", "\u1100\u1161\u11a8 \u3131\u314f"),
    ("control-chars", "a\x01b\x02c\x7fd\x1be"),
    ("c1-controls", "a\x85b\x9fc"),
    ("file-separators", "a\x1cb\x1dc\x1ed\x1ff"),
    ("vertical-tab-form-feed", "a\x0bb\x0cc"),
    ("replacement-char", "a\ufffdb \ufffd"),
    ("nul", "a\x00b\x00 c"),
    ("tabs-newlines", "a\tb\nc\r\nd\re"),
    ("zero-width-space", "zero\u200bwidth\u200cnon\u200djoiner"),
    ("zwj-emoji-family", "family 👨\u200d👩\u200d👧 here"),
    ("bom", "\ufeffhello\ufeff world"),
    ("soft-hyphen", "co\u00adoperate"),
    ("private-use", "a\ue000b \U000f0000c"),
    ("unassigned", "a\u0378b \U000e0080"),
    ("noncharacter", "a\uffffb\ufdd0c"),
    ("emoji", "I ❤️ 🍕 and 🚀! 😀😃 👍🏽"),
    ("emoji-flags-keycaps", "🇫🇷🇩🇪 #️⃣ 1️⃣"),
    ("fullwidth", "ＡＢＣ１２３！？ｈｅｌｌｏ"),
    ("greek", "Ελληνικά ΣΟΦΙΑ σοφία ΟΔΟΣ"),
    ("cyrillic", "Привет мир ЁЖИК ёжик"),
    ("turkish", "İstanbul IĞDIR ılık İ i̇"),
    ("german", "Straße STRASSE ẞ groß GROẞ"),
    ("ligatures", "ﬁne ﬂow ﬀ Ǆ ǅ ǆ Ĳ"),
    ("letterlike", "\u212b \u212a \u2126 \u2160\u2161"),
    ("superscripts", "x² H₂O ½ ¾"),
    ("punctuation-runs", "!!!???...---,,, ;;:: ((]]{{"),
    ("ascii-punctuation-all", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    ("ascii-symbols-in-words", "a$b a+b a<b a=b a^b a`b a|b a~b"),
    ("unicode-punctuation", "«quoted» „low“ ‘single’ ‹angle› ¿qué? ¡sí! … ‧ ※ ⁂"),
    ("unicode-dashes", "a–b a—b a―b a‐b a‑b ⸻"),
    ("newer-punctuation", "\u2e43\u2e44\u2e4f\u2e52\u2e5d \u061d \u166d \U000111c9"),
    ("apostrophes", "don't it's rock'n'roll ’curly’ O'Neil ʼokina"),
    ("hyphens", "state-of-the-art well-known e-mail"),
    ("numbers", "1,000,000.50 3.14159 10:30 1/2 #1 $5 50% 1e-5 -42 +7"),
    ("digits-other-scripts", "٣٤٥ ३४५ ๓๔๕ ⅔"),
    ("url-email", "https://example.com/a?b=c&d=e user@example.org"),
    ("code", "def f(x): return x**2 # comment"),
    ("rtl", "שלום עולם مرحبا بالعالم"),
    ("arabic-diacritics", "مُحَمَّد"),
    ("hebrew-points", "שָׁלוֹם"),
    ("thai", "ภาษาไทย สวัสดี"),
    ("math", "∑∫√∞ ≤ ≥ ≠ ∀x∈ℝ x² α+β=γ"),
    ("currency", "€100 £50 ¥1000 ₹20 ₿"),
    ("box-drawing", "┌─┐ │ │ └─┘"),
    ("word-100-chars", "a" * 100),
    ("word-101-chars", "a" * 101),
    ("word-150-chars", "b" * 150),
    ("word-100-chars-accented", "á" * 100),
    ("word-101-chars-accented", "á" * 101),
    ("word-100-chars-multibyte", "ж" * 100),
    ("word-101-chars-multibyte", "ж" * 101),
    ("word-99-then-punct", "c" * 99 + "!" + "d" * 3),
    ("unknown-words", "qwzxv ⓐⓑⓒ ꙮ 𓀀𓀁"),
    ("unknown-tail", "hello\u2603 snow☃man"),
    ("special-tokens-in-text", "[CLS] hello [SEP] [MASK] [UNK] [PAD] world"),
    ("special-tokens-glued", "ab[MASK]cd[SEP][CLS]ef"),
    ("special-tokens-lowercase", "[mask] [cls] [Sep]"),
    ("special-tokens-broken", "[MASK [ MASK] [MA\x00SK] [[MASK]]"),
    ("dotless-and-dotted", "ı İ ǰ ΐ"),
    ("final-sigma-contexts", "ΣΑΣ Σ ΑΣ. ΌΣΟΣ"),
    ("unicode16-lowercase", "\U00010d50\U00010d51 \ua7cb \u1c89"),
    ("old-crate-marks", "a\u0898b a\u1ac0b a\U00011938b a\u1734b a\U0001e130b"),
    ("old-crate-format", "a\u0890b a\U00013430b a\U000110cdb"),
    ("musical-reorder", "\U0001d16d\U0001d165 \U0001d165\U0001d16d x\U0001d16d\u0301\U0001d165"),
    ("ccc-new-marks", "a\u1715\u0334 a\U00016ff0\u0345 a\u0c3c\u0301"),
    ("mixed-scripts", "Tokyo東京 Москва Αθήνα القاهرة मुंबई"),
    ("limit-like-query", "Who likes Stand-up Comedy?"),
    ("limit-like-document", "Geneva Durben likes Quokkas, River Otters, Tapirs, Asymmetry."),
    ("many-spaces", "a" + " " * 50 + "b"),
    ("long-document", LONG_DOCUMENT),
]

# (name, text, add_special_tokens, max_length)
TRUNCATION_CASES: list[tuple[str, str, bool, int]] = []
for _max_length in (1, 2, 3, 5, 8, 16, 512):
    for _special in (True, False):
        TRUNCATION_CASES.append((f"truncate/long-document/{_max_length}", LONG_DOCUMENT, _special, _max_length))
for _max_length in (1, 2, 3, 4, 6):
    for _special in (True, False):
        TRUNCATION_CASES.append((f"truncate/split-word/{_max_length}", "unaffable hello", _special, _max_length))
        TRUNCATION_CASES.append((f"truncate/unk-word/{_max_length}", "x" * 101 + " qwzxv tail", _special, _max_length))
        TRUNCATION_CASES.append((f"truncate/special-in-text/{_max_length}", "[MASK] a [SEP] b c", _special, _max_length))
        TRUNCATION_CASES.append((f"truncate/empty/{_max_length}", "", _special, _max_length))


RANDOM_POOLS = {
    "ascii-words": ["the", "Quokka", "likes", "RIVER", "otters", "unaffable", "xyzzy", "a", "I", "42",
                    "3.14", "don't", "e-mail", "Hello"],
    "ascii-punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "whitespace": [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2009", "\x0b", "\x0c", "\x1c", "\x85"],
    "accented": list("àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝßẞİıŁłŒœØøÆæ"),
    "combining": ["\u0300", "\u0301", "\u0302", "\u0308", "\u0327", "\u0334", "\u0345", "\u20dd", "\u0903"],
    "cjk": list("中文字符野口里佳東京你好世界一二三龍豈") + ["\U00020000", "\U0002b820"],
    "kana-hangul": list("ひらがなカタカナｶﾀｶﾅ한국어텍스트"),
    "emoji": ["😀", "🍕", "🚀", "❤️", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷"],
    "controls": ["\x00", "\x01", "\x1b", "\x7f", "\x9f", "\u200b", "\u200d", "\ufeff", "\ufffd", "\ue000"],
    "other-scripts": list("ΣσςΑθήναПриветЁжשלוםمرحباमुंबईภาษา") + ["\u2e43", "\u166d", "\U000111c9"],
    "special-tokens": ["[MASK]", "[CLS]", "[SEP]", "[UNK]", "[PAD]", "[mask]"],
}


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pools = list(RANDOM_POOLS.values())
    texts = []
    for _ in range(count):
        length = rng.randint(0, 40)
        texts.append("".join(rng.choice(rng.choice(pools)) for _ in range(length)))
    return texts


def golden(tokenizer) -> list[dict]:
    rows = []

    def add(name: str, text: str, special: bool, max_length: int) -> None:
        rows.append({"case": name, "text": text, "add_special_tokens": special, "max_length": max_length,
                     "ids": encode(tokenizer, text, special, max_length)})

    for name, text, special, max_length in limit_cases():
        add(name, text, special, max_length)
    for name, text in EDGE_TEXTS:
        add(f"edge/{name}/special", text, True, 0)
        add(f"edge/{name}/plain", text, False, 0)
    for name, text, special, max_length in TRUNCATION_CASES:
        add(f"{name}/{'special' if special else 'plain'}", text, special, max_length)
    for index, text in enumerate(random_texts(RANDOM_CASES, RANDOM_SEED)):
        add(f"random/{index}", text, index % 2 == 0, 0 if index % 3 else 24)
    return rows


def write_golden(tokenizer) -> None:
    rows = golden(tokenizer)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    tmp = GOLDEN.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=True) + "\n")
    tmp.replace(GOLDEN)
    print(f"wrote {len(rows)} cases, {GOLDEN.stat().st_size} bytes to {GOLDEN}", file=sys.stderr)


# ---------------------------------------------------------------- Unicode overrides

UTF8PROC_CATEGORIES = "Cn Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co".split()
WHITE_SPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
               0x202F, 0x205F, 0x3000}
CHINESE_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
                  (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


class Utf8proc:
    UTF8PROC_STABLE = 1 << 1
    UTF8PROC_DECOMPOSE = 1 << 4

    class Property(ctypes.Structure):
        _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16)]

    def __init__(self) -> None:
        lib = ctypes.CDLL("libutf8proc.so.2")
        lib.utf8proc_version.restype = ctypes.c_char_p
        lib.utf8proc_unicode_version.restype = ctypes.c_char_p
        lib.utf8proc_category.restype = ctypes.c_int
        lib.utf8proc_category.argtypes = [ctypes.c_int32]
        lib.utf8proc_tolower.restype = ctypes.c_int32
        lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
        lib.utf8proc_get_property.restype = ctypes.POINTER(Utf8proc.Property)
        lib.utf8proc_get_property.argtypes = [ctypes.c_int32]
        lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
        lib.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_ssize_t,
                                                ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        self.lib = lib
        self.buffer = (ctypes.c_int32 * 32)()
        self.boundclass = ctypes.c_int(0)
        self.version = lib.utf8proc_version().decode()
        self.unicode_version = lib.utf8proc_unicode_version().decode()

    def category(self, cp: int) -> str:
        return UTF8PROC_CATEGORIES[self.lib.utf8proc_category(cp)]

    def combining_class(self, cp: int) -> int:
        return self.lib.utf8proc_get_property(cp).contents.combining_class

    def lower(self, cp: int) -> int:
        return self.lib.utf8proc_tolower(cp)

    def nfd(self, cp: int) -> list[int]:
        n = self.lib.utf8proc_decompose_char(cp, self.buffer, 32, self.UTF8PROC_DECOMPOSE | self.UTF8PROC_STABLE,
                                             ctypes.byref(self.boundclass))
        assert 0 < n <= 32
        return [self.buffer[i] for i in range(n)]


def ranges(code_points: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in sorted(code_points):
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def unicode_overrides() -> str:
    from tokenizers import normalizers, pre_tokenizers

    u = Utf8proc()
    only = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    clean = normalizers.BertNormalizer(**{**only, "clean_text": True})
    chinese = normalizers.BertNormalizer(**{**only, "handle_chinese_chars": True})
    strip = normalizers.BertNormalizer(**{**only, "strip_accents": True})
    lower = normalizers.BertNormalizer(**{**only, "lowercase": True})
    nfd = normalizers.NFD()
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()

    not_other, extra_other = [], []
    not_mark, extra_mark = [], []
    not_punct, extra_punct = [], []
    zero_ccc, no_decomposition = [], []
    lowercase: list[tuple[int, int]] = []
    problems = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        category = u.category(cp)
        # clean_text: dropped, turned into ' ', or kept
        cleaned = clean.normalize_str(c)
        if cp in (0x09, 0x0A, 0x0D) or cp in WHITE_SPACE and category not in ("Cc", "Cf", "Co", "Cs"):
            if cleaned != " ":
                problems.append(f"U+{cp:04X} whitespace: HF gives {cleaned!r}")
        elif cp in (0, 0xFFFD):
            if cleaned != "":
                problems.append(f"U+{cp:04X} should be dropped")
        else:
            hf_other = cleaned == ""
            if not hf_other and cleaned != c:
                problems.append(f"U+{cp:04X} clean_text gives {cleaned!r}")
            ours = category in ("Cc", "Cf", "Co", "Cs")
            if hf_other and not ours:
                extra_other.append(cp)
            if ours and not hf_other:
                not_other.append(cp)
        # handle_chinese_chars
        is_chinese = any(lo <= cp <= hi for lo, hi in CHINESE_RANGES)
        if chinese.normalize_str(c) != (f" {c} " if is_chinese else c):
            problems.append(f"U+{cp:04X} chinese: HF gives {chinese.normalize_str(c)!r}")
        # NFD
        hf_nfd = [ord(x) for x in nfd.normalize_str(c)]
        our_nfd = u.nfd(cp)
        if hf_nfd != our_nfd:
            if hf_nfd == [cp]:
                no_decomposition.append(cp)
            else:
                problems.append(f"U+{cp:04X} NFD: HF {hf_nfd} utf8proc {our_nfd}")
        if hf_nfd == [cp]:
            # strip accents drops exactly the non-spacing marks
            hf_mark = strip.normalize_str(c) == ""
            ours = category == "Mn"
            if hf_mark and not ours:
                extra_mark.append(cp)
            if ours and not hf_mark:
                not_mark.append(cp)
            # canonical combining class: does NFD reorder c against U+0334 (ccc 1) or U+0345 (ccc 240)?
            if u.combining_class(cp) != 0:
                after_low = [ord(x) for x in nfd.normalize_str(c + "\u0334")]
                before_high = [ord(x) for x in nfd.normalize_str("\u0345" + c)]
                if after_low == [cp, 0x334] and before_high == [0x345, cp]:
                    zero_ccc.append(cp)
        # lowercase (Rust char::to_lowercase)
        hf_lower = [ord(x) for x in lower.normalize_str(c)]
        if cp == 0x130:
            if hf_lower != [0x69, 0x307]:
                problems.append(f"U+0130 lowercase: HF {hf_lower}")
        elif len(hf_lower) != 1:
            problems.append(f"U+{cp:04X} lowercase to several code points: {hf_lower}")
        elif hf_lower[0] != u.lower(cp):
            lowercase.append((cp, hf_lower[0]))
        # pre-tokenizer: whitespace splits, punctuation is isolated
        pieces = [p for p, _ in pre_tokenizer.pre_tokenize_str("a" + c + "a")]
        hf_kind = {("a", "a"): "space", ("a", c, "a"): "punct", ("a" + c + "a",): "other"}.get(tuple(pieces))
        if hf_kind is None:
            problems.append(f"U+{cp:04X} pre-tokenizer gives {pieces!r}")
        elif (hf_kind == "space") != (cp in WHITE_SPACE):
            problems.append(f"U+{cp:04X} White_Space: HF says {hf_kind}")
        elif cp < 0x80:
            ascii_punct = 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            if (hf_kind == "punct") != ascii_punct:
                problems.append(f"U+{cp:04X} ASCII punctuation: HF says {hf_kind}")
        else:
            ours = category.startswith("P")
            if hf_kind == "punct" and not ours:
                extra_punct.append(cp)
            if ours and hf_kind != "punct":
                not_punct.append(cp)
    if problems:
        raise SystemExit("differences the override tables cannot express:\n" + "\n".join(problems))

    def table(name: str, comment: str, code_points: list[int]) -> str:
        items = [f"{{0x{lo:04X}, 0x{hi:04X}}}" for lo, hi in ranges(code_points)]
        lines, line = [], "    "
        for item in items:
            if len(line) + len(item) + 2 > 110:
                lines.append(line.rstrip())
                line = "    "
            line += item + ", "
        if line.strip():
            lines.append(line.rstrip())
        body = "\n".join(lines) if lines else "    {0x110000, 0x110000},  // none"
        return f"// {comment}\nconstexpr CodePointRange {name}[] = {{\n{body}\n}};\n"

    pairs = [f"{{0x{a:04X}, 0x{b:04X}}}" for a, b in lowercase]
    lower_lines = ["    " + ", ".join(pairs[i:i + 5]) + "," for i in range(0, len(pairs), 5)]
    out = [
        f"// BEGIN GENERATED by scripts/tokenizer_golden.py unicode-overrides: utf8proc {u.version} "
        f"(Unicode {u.unicode_version}) vs tokenizers 0.22.0.",
        f"constexpr std::string_view kOverridesUtf8procVersion = \"{u.version}\";",
        table("kHfNotOther", "Cc/Cf/Co/Cs in utf8proc, kept by HF's clean_text.", not_other),
        table("kHfExtraOther", "Not Cc/Cf/Co/Cs in utf8proc, dropped by HF's clean_text.", extra_other),
        table("kHfNotNonspacingMark", "Mn in utf8proc, kept by HF's strip_accents.", not_mark),
        table("kHfExtraNonspacingMark", "Not Mn in utf8proc, dropped by HF's strip_accents.", extra_mark),
        table("kHfNotPunctuation", "P* in utf8proc, not punctuation for HF's BertPreTokenizer.", not_punct),
        table("kHfExtraPunctuation", "Not P* in utf8proc, punctuation for HF's BertPreTokenizer.", extra_punct),
        table("kHfZeroCombiningClass", "Non-zero canonical combining class in utf8proc, 0 in HF's NFD.", zero_ccc),
        table("kHfNoDecomposition", "Canonical decomposition in utf8proc, none in HF's NFD.", no_decomposition),
        "// Simple lowercase mappings of HF (Rust std) that differ from utf8proc_tolower.",
        "constexpr std::pair<char32_t, char32_t> kHfLowercase[] = {",
        *(lower_lines or ["    {0x110000, 0x110000},  // none"]),
        "};",
        "// END GENERATED",
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["golden", "unicode-overrides", "check"])
    args = parser.parse_args()
    if args.command == "unicode-overrides":
        sys.stdout.write(unicode_overrides())
        return
    tokenizer = reference_tokenizer()
    check(tokenizer)
    if args.command == "golden":
        write_golden(tokenizer)


if __name__ == "__main__":
    main()
