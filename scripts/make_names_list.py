#!/usr/bin/env python3
"""Writes data/names.txt, the first and last names `limit-eval generate` builds document ids from.

Sources (both credited in data/README.md):

- the 1990 US Census name frequency lists (dist.female.first, dist.male.first, dist.all.last),
  public domain, as shipped by the PyPI package `names` 0.3.0 (Trey Hunner, MIT licence;
  https://github.com/treyhunner/names). Every census first name is kept; last names are the
  LAST_NAMES_KEPT most frequent ones (the full list has 88,799 names, mostly very rare; 5,000 x
  10,000 combinations are far more than any corpus needs, and the file stays small);
- the first and last names of LIMIT's own document ids (google-deepmind/limit, CC BY 4.0): the
  ids of data/limit-small/corpus.jsonl and the corpus ids of data/limit/qrels.jsonl, all of the
  form "First Last".

Census names are upper case; they are written as LIMIT writes names (Python's str.capitalize():
first letter upper, the rest lower). The file lists each section sorted and without duplicates:

    # comment lines
    [first]
    Aaron
    ...
    [last]
    Aaberg
    ...

Usage: scripts/make_names_list.py [--names-sdist names-0.3.0.tar.gz] [--output data/names.txt]
Without --names-sdist the sdist is fetched with `pip download` and its sha256 checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAMES_SDIST = "names-0.3.0.tar.gz"
NAMES_SDIST_SHA256 = "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671"
LAST_NAMES_KEPT = 10_000
CENSUS_FILES = {
    "first": ["names-0.3.0/names/dist.female.first", "names-0.3.0/names/dist.male.first"],
    "last": ["names-0.3.0/names/dist.all.last"],
}


def download_sdist(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "names==0.3.0",
         "-d", str(folder)],
        check=True,
    )
    return folder / NAMES_SDIST


def census_names(sdist: Path, section: str, limit: int | None) -> list[str]:
    """Names of a census list in frequency-rank order (each line: NAME freq cumulative rank)."""
    names: list[str] = []
    with tarfile.open(sdist) as archive:
        for member in CENSUS_FILES[section]:
            text = archive.extractfile(member).read().decode("ascii")
            ranked = [line.split()[0] for line in text.splitlines() if line.strip()]
            names.extend(ranked if limit is None else ranked[:limit])
    return [name.capitalize() for name in names]


def limit_names() -> tuple[list[str], list[str]]:
    ids: list[str] = []
    with open(REPO / "data/limit-small/corpus.jsonl", encoding="utf-8") as corpus:
        ids += [json.loads(line)["_id"] for line in corpus]
    with open(REPO / "data/limit/qrels.jsonl", encoding="utf-8") as qrels:
        ids += [json.loads(line)["corpus-id"] for line in qrels]
    firsts, lasts = [], []
    for full_name in ids:
        first, last = full_name.split(" ")
        firsts.append(first)
        lasts.append(last)
    return firsts, lasts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names-sdist", type=Path, help=f"a local {NAMES_SDIST} (default: pip download it)")
    parser.add_argument("--output", type=Path, default=REPO / "data/names.txt")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        sdist = args.names_sdist or download_sdist(Path(scratch))
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != NAMES_SDIST_SHA256:
            sys.exit(f"{sdist}: sha256 {digest}, expected {NAMES_SDIST_SHA256}")
        census_first = census_names(sdist, "first", None)
        census_last = census_names(sdist, "last", LAST_NAMES_KEPT)

    limit_first, limit_last = limit_names()
    first = sorted(set(census_first) | set(limit_first))
    last = sorted(set(census_last) | set(limit_last))
    for name in first + last:
        if not name.isalpha():
            sys.exit(f"unexpected name {name!r}: names must be single words of letters")

    header = [
        "# First and last names for `limit-eval generate` (document ids are \"First Last\").",
        "# Written by scripts/make_names_list.py; do not edit by hand.",
        "# Sources: 1990 US Census name lists (public domain) as shipped by the PyPI package `names` 0.3.0",
        f"# (MIT), all first names and the {LAST_NAMES_KEPT:,} most frequent last names; plus the names in",
        "# LIMIT's document ids (google-deepmind/limit, CC BY 4.0). See data/README.md.",
    ]
    lines = header + ["[first]"] + first + ["[last]"] + last
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.output}: {len(first)} first names, {len(last)} last names", file=sys.stderr)


if __name__ == "__main__":
    main()
