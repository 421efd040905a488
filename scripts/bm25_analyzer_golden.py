#!/usr/bin/env python3
"""Reference data for the C++ BM25 analyzer (src/text/bm25_analyzer.cpp), from bm25s + PyStemmer.

The reference is what MTEB's "bm25s" model (and so the LIMIT paper) runs, with the versions pinned in
scripts/requirements.txt (bm25s 0.2.14, PyStemmer 3.1.0 = Snowball 3.1.0, Python 3.11):

    words = re.findall(r"(?u)\\b\\w\\w+\\b", text.lower())
    terms = bm25s.tokenize([text], stopwords="en", stemmer=Stemmer.Stemmer("english"),
                           return_ids=False)[0]

Commands (run with the project's venv, ~/.cache/limit-eval/venv/bin/python, from anywhere):

    bm25_analyzer_golden.py golden   writes tests/fixtures/bm25/analyzer_cases.jsonl
    bm25_analyzer_golden.py check    exits 1 when that file differs from what `golden` would write

analyzer_cases.jsonl holds one case per line: {"case", "text", "words", "terms"}. The inputs below
are chosen to reach each decision of the analyzer (case folding, the token regex, stopwords removed
before stemming, stems that are stopwords, Snowball 3's stems); the expected values are never
written by hand. tests/unit/text_bm25_analyzer_test.cpp reads the file, and
tests/oracle/test_bm25_oracle.py runs `check`, so a file out of date with the reference fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "bm25" / "analyzer_cases.jsonl"
EXPECTED_VERSIONS = {"bm25s": "0.2.14", "PyStemmer": "3.1.0"}

# (case name, text). Invisible characters are written as escapes.
CASES: list[tuple[str, str]] = [
    ("empty", ""),
    ("whitespace_only", " \t\n\r  "),
    ("punctuation", "Hello, world! (Testing) -- [brackets]; end."),
    ("apostrophes", "Don't stop O'Neil's rock\u2019n\u2019roll"),
    ("underscores", "snake_case __init__ _ a_b"),
    ("digits", "Route 66 in 2024, pi=3.14, 1st x2"),
    ("single_chars", "I a b c d e f g 5 x"),
    ("hyphens", "state-of-the-art e-mail"),
    ("accented", "Café NAÏVE Straße résumé"),
    ("decomposed_accents", "e\u0301te\u0301 cafe\u0301"),
    ("capital_i_with_dot", "\u0130stanbul \u0130\u0130"),
    ("greek_final_sigma", "ΟΔΥΣΣΕΥΣ ΣΑΣ Σ"),
    ("greek_sigma_context", "ΑΣ'Β ΑΣ1 ΑΣ_Β"),
    ("devanagari_spacing_and_nonspacing_marks", "ह\u093fन\u094dद\u0940 नमस\u094dत\u0947"),
    ("cyrillic", "Москва БОЛЬШОЙ"),
    ("cjk", "東京タワー 漢字"),
    ("fullwidth_digits_superscript", "２０２４ x² ½"),
    ("ligature_and_digraph", "ﬁnance Ǆemal"),
    ("zero_width_space", "zero\u200bwidth"),
    ("stopwords", "The cat is in the hat and it was not there"),
    ("stemming", "running runs ran generalizations connected connection happily"),
    ("stemmer_exceptions", "skies dying news ugly early"),
    ("mixed_case_stopword", "THE This tHeY"),
    # Stopwords are removed before stemming: a word whose stem is a stopword stays.
    ("stem_equals_stopword_kept", "ins ands thes"),
    ("stem_is_stopword_words", "being its theirs willing wills ifs buts ons ors thens theres toed"),
    ("stem_is_stopword_upper", "BEING Its THEIRS Willing"),
    ("possessive", "cat's dogs\u2019"),
    # Words Snowball 3 stems differently from Snowball 2.2 (Debian 12's libstemmer, PyStemmer 2.2).
    ("snowball3_limit_words", "international organization paleontologists geologists"),
    ("snowball3_stems", "added ebbing erred evening internal interval lateral offing organic organism pasted "
                        "universal university emergency psychologist ornithologists interfering"),
    ("numbers_and_units", "10km 3rd 1990s 007 v2 ５ ٣٤ Ⅻ"),
    ("numbers_words_mixed", "COVID-19 mp3 H2O 2x4 x86_64"),
    ("non_breaking_and_tabs", "alpha\u00a0beta\tgamma\u2003delta\u3000epsilon"),
    ("unicode_case", "ÀÉÎÕÜ ǅ ǈ ß ẞ Ω ΩΜΕΓΑ"),
    ("quotes_and_dashes", "\u201cquoted\u201d \u2018single\u2019 em\u2014dash en\u2013dash"),
    ("likes_query", "Who likes Joshua Trees, Slide Rules and Oceanic Trenches?"),
]


def check_versions() -> None:
    import importlib.metadata as metadata

    for package, version in EXPECTED_VERSIONS.items():
        found = metadata.version(package)
        if found != version:
            sys.exit(f"bm25_analyzer_golden.py: {package} {found} is installed, the reference is {version} "
                     f"(scripts/requirements.txt)")


def rows() -> list[dict]:
    import bm25s
    import Stemmer

    check_versions()
    stemmer = Stemmer.Stemmer("english")
    out = []
    for name, text in CASES:
        words = re.findall(r"(?u)\b\w\w+\b", text.lower())
        terms = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)[0]
        out.append({"case": name, "text": text, "words": words, "terms": list(terms)})
    return out


def render(cases: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in cases)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["golden", "check"])
    args = parser.parse_args()
    text = render(rows())
    if args.command == "golden":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        print(f"wrote {GOLDEN} ({len(CASES)} cases)", file=sys.stderr)
        return 0
    if not GOLDEN.exists() or GOLDEN.read_text(encoding="utf-8") != text:
        print(f"{GOLDEN} is out of date: run scripts/bm25_analyzer_golden.py golden", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
