"""limit-eval's built-in BM25 against bm25s, run the way MTEB's "bm25s" model runs it.

Reference (mteb/models/bm25.py): document text = "\\n".join([title, text]);
bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english")) for corpus and
queries; bm25s.BM25() (method "lucene", k1 1.5, b 0.75, float32); index; retrieve(k). The stemmer is
PyStemmer 3 (Snowball 3), as in the LIMIT paper's run: Snowball 2.2 stems some LIMIT words
differently and gives Recall@2 0.979 on LIMIT-small instead of the paper's 0.978.

Ours: `limit-eval --model bm25 --dataset <folder> --top-k 100 --run-file run.trec`.

For every query the two top-k lists must hold the same documents in the same order, except
  - documents whose scores are tied may come in any order (bm25s orders ties arbitrarily, limit-eval
    by doc id descending), and
  - the tie group straddling the cut-off may have different members on each side;
and every score must agree to 1e-5 relative. Ties are judged with a 1e-6 relative tolerance
because limit-eval sums a query's term weights in another order than bm25s (float32 rounding).
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import pytest
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

TOP_K = 100
SCORE_RTOL = 1e-5
TIE_RTOL = 1e-6


def limit_eval_bin() -> Path:
    value = os.environ.get("LIMIT_EVAL_BIN")
    if not value:
        pytest.skip("LIMIT_EVAL_BIN is not set (CTest sets it to the built limit-eval)")
    return Path(value)


def source_dir() -> Path:
    return Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))


# ---------------------------------------------------------------- datasets


@dataclass
class Dataset:
    corpus: list[dict]  # {"_id", "title", "text"}
    queries: list[dict]  # {"_id", "text"}
    qrels: list[dict] = field(default_factory=list)  # {"query-id", "corpus-id", "score"}


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_beir(folder: Path, dataset: Dataset) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus", dataset.corpus), ("queries", dataset.queries), ("qrels", dataset.qrels)):
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return folder


def without_whitespace_in_doc_ids(dataset: Dataset) -> Dataset:
    """LIMIT's doc ids are names ("Geneva Durben"); a TREC run file cannot hold them, so the copy
    we run uses "Geneva_Durben". Ids only decide the order among tied documents, which the
    comparison does not look at."""
    mapping = {doc["_id"]: "_".join(doc["_id"].split()) for doc in dataset.corpus}
    assert len(set(mapping.values())) == len(mapping)
    corpus = [{**doc, "_id": mapping[doc["_id"]]} for doc in dataset.corpus]
    qrels = [{**q, "corpus-id": mapping.get(q["corpus-id"], q["corpus-id"])} for q in dataset.qrels]
    return Dataset(corpus, dataset.queries, qrels)


def limit_small() -> Dataset:
    root = source_dir() / "data" / "limit-small"
    return Dataset(read_jsonl(root / "corpus.jsonl"), read_jsonl(root / "queries.jsonl"), read_jsonl(root / "qrels.jsonl"))


WORDS = (
    "river otter otters tapir tapirs quokka quokkas glacier glaciers jazz piano pianos bassoon "
    "running runs runner ran connect connected connection connections general generalization "
    "generalizations happy happily happiness cartography crocheting mosaic mosaics licorice "
    "spinach chair chairs horror literature scuba diving ocean oceanic trench trenches barley "
    "sapphire sapphires parakeet parakeets empire traveling travel candle candles daisy daisies "
    "pattern patterns disco music pepper slide rule rules halibut isopod isopods mantis mantises "
    "fable fables alligator caracal joshua tree trees pansy pansies soy sauce card cards lime limes "
    "symphony symphonies hydrangea hydrangeas leopard leopards snow asymmetry creativity likes who "
    "sky skies dying news early ugly agreed feed fly flies studies studying universal university"
).split()
# Decision points of the analyzer. Words whose stem is a stopword: bm25s removes stopwords before
# stemming, so these stay (as "be", "it", "their", "will", "in", ...) and must score.
STEM_IS_STOPWORD = "being its theirs willing wills ins ands ons ors ifs buts thens theres toed".split()
# Words Snowball 3 stems otherwise than Snowball 2.2 (see SNOWBALL_2_STEMS).
SNOWBALL_3 = "international organization paleontologists geologists university evening organic added".split()
NUMBERS = ["1990s", "3rd", "10km", "2024", "007", "x86_64", "mp3", "COVID-19", "٣٤"]
NON_ASCII = [
    "café", "naïve", "Straße", "résumé", "e\u0301clair", "İstanbul", "ΣΟΦΙΑΣ", "Οδυσσεύς", "москва",
    "Москва", "東京", "漢字", "x²", "２０２４", "ﬁnance", "Ǆemal", "Zürich", "façade", "piñata",
]
SPECIAL = ["don't", "O'Neil's", "snake_case", "__init__", "3.14", "1st", "e-mail", "state-of-the-art", "x", "I", "42"]
STOPWORDS = ["the", "a", "and", "of", "is", "in", "to", "with", "The", "THEIR", "this"]
SEPARATORS = [" ", " ", " ", ", ", ". ", "; ", " - ", "! ", "? ", "\n", "\t", " (", ") ", "/", "’", "\u00a0"]


def random_text(rng: random.Random, length: int, hot: list[str]) -> str:
    out = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.45:
            word = rng.choice(WORDS)
        elif roll < 0.50:
            word = rng.choice(STEM_IS_STOPWORD)
        elif roll < 0.53:
            word = rng.choice(SNOWBALL_3)
        elif roll < 0.55:
            word = rng.choice(NUMBERS)
        elif roll < 0.70:
            word = rng.choice(hot)  # repeated words: tf > 1
        elif roll < 0.82:
            word = rng.choice(STOPWORDS)
        elif roll < 0.92:
            word = rng.choice(NON_ASCII)
        else:
            word = rng.choice(SPECIAL)
        if rng.random() < 0.1:
            word = word.upper() if rng.random() < 0.5 else word.title()
        out.append(word)
        out.append(rng.choice(SEPARATORS))
    return "".join(out).strip()


def generated_dataset(seed: int = 20250829, documents: int = 400, queries: int = 150) -> Dataset:
    rng = random.Random(seed)
    corpus = []
    for i in range(documents):
        hot = rng.sample(WORDS, 3)
        length = rng.choice([0, 1, 2, 5, 10, 20, 40, 80, 160]) + rng.randint(0, 5)
        title = random_text(rng, rng.randint(1, 4), hot) if rng.random() < 0.6 else ""
        corpus.append({"_id": f"doc-{i:04d}", "title": title, "text": random_text(rng, length, hot)})
    corpus.append({"_id": "doc-stopwords-only", "title": "", "text": "The a and of THE"})
    corpus.append({"_id": "doc-empty", "title": "", "text": ""})
    # Exact duplicates (under other ids) make exact score ties above the cut-off.
    for i in range(0, 40, 4):
        corpus.append({**corpus[i], "_id": f"dup-{i:04d}"})

    query_rows, qrels = [], []
    for i in range(queries):
        terms = [rng.choice(WORDS + NON_ASCII + STEM_IS_STOPWORD + SNOWBALL_3 + NUMBERS) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.4:
            terms += rng.sample(terms, 1) * rng.randint(1, 3)  # a repeated query term
        if rng.random() < 0.3:
            terms.append(rng.choice(["zyzzyva", "unseenword", "qwertyuiop", "Ωmega"]))  # not in the corpus
        if rng.random() < 0.2:
            terms.insert(0, rng.choice(["Who likes", "What is the", "the"]))
        rng.shuffle(terms)
        text = " ".join(terms) + rng.choice(["?", "", "!", " ."])
        query_rows.append({"_id": f"q-{i:03d}", "text": text})
    query_rows.append({"_id": "q-oov-only", "text": "zyzzyva qwertyuiop?"})
    query_rows.append({"_id": "q-stopwords-only", "text": "The and of"})
    query_rows.append({"_id": "q-stems-are-stopwords", "text": "Being willing, its theirs"})
    for row in query_rows:
        for doc in rng.sample(corpus, 2):
            qrels.append({"query-id": row["_id"], "corpus-id": doc["_id"], "score": 1})
    return Dataset(corpus, query_rows, qrels)


# ---------------------------------------------------------------- the two systems


def bm25s_as_mteb(dataset: Dataset, k: int) -> dict[str, list[tuple[str, float]]]:
    stemmer = Stemmer.Stemmer("english")
    texts = ["\n".join([doc.get("title", ""), doc["text"]]) for doc in dataset.corpus]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    query_tokens = bm25s.tokenize([q["text"] for q in dataset.queries], stopwords="en", stemmer=stemmer,
                                  show_progress=False)
    indices, scores = retriever.retrieve(query_tokens, k=k, show_progress=False)
    return {
        q["_id"]: [(dataset.corpus[int(d)]["_id"], float(s)) for d, s in zip(indices[i], scores[i])]
        for i, q in enumerate(dataset.queries)
    }


def limit_eval_bm25(folder: Path, work: Path, k: int) -> tuple[dict[str, list[tuple[str, float]]], dict]:
    run_file, results_file = work / "run.trec", work / "results.json"
    completed = subprocess.run(
        [str(limit_eval_bin()), "--model", "bm25", "--dataset", str(folder), "--top-k", str(k),
         "--run-file", str(run_file), "--output", str(results_file)],
        capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"limit-eval failed ({completed.returncode}):\n{completed.stderr}"
    ranked: dict[str, list[tuple[int, str, float]]] = {}
    with run_file.open(encoding="utf-8") as f:
        for line in f:
            qid, q0, doc_id, rank, score, _tag = line.split()
            assert q0 == "Q0"
            ranked.setdefault(qid, []).append((int(rank), doc_id, float(score)))
    run = {qid: [(d, s) for _, d, s in sorted(rows)] for qid, rows in ranked.items()}
    return run, json.loads(results_file.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- comparison


def close(a: float, b: float, rtol: float) -> bool:
    return abs(a - b) <= rtol * max(abs(a), abs(b))


@dataclass
class Comparison:
    queries: int = 0
    max_relative_difference: float = 0.0
    # Ranks holding another document than bm25s' (all within tie groups once the checks pass),
    # counted apart for the zero-score documents that fill the list (ordered arbitrarily by bm25s).
    reordered_scoring: int = 0
    reordered_zero: int = 0
    reordered_near_ties: int = 0  # of those, swaps whose bm25s scores are not bitwise equal
    # Documents in one list only (members of the tie group at the cut-off).
    cutoff_differences_scoring: int = 0
    cutoff_differences_zero: int = 0
    problems: list[str] = field(default_factory=list)


def compare(ours: dict, reference: dict, expected_length: int) -> Comparison:
    result = Comparison()
    assert set(ours) == set(reference), "the two runs rank different query sets"
    for qid, ref_list in reference.items():
        result.queries += 1
        our_list = ours[qid]
        if len(our_list) != expected_length or len(ref_list) != expected_length:
            result.problems.append(f"{qid}: lengths {len(our_list)} (ours) / {len(ref_list)} (bm25s), "
                                   f"expected {expected_length}")
            continue
        our_scores = [s for _, s in our_list]
        if any(b > a for a, b in zip(our_scores, our_scores[1:])):
            result.problems.append(f"{qid}: our run is not sorted by score")
        # Position by position, the sorted score lists must agree whatever the tie order.
        for rank, (ours_score, ref_score) in enumerate(zip(our_scores, sorted((s for _, s in ref_list), reverse=True))):
            if ours_score == ref_score:
                continue
            diff = abs(ours_score - ref_score) / max(abs(ours_score), abs(ref_score))
            result.max_relative_difference = max(result.max_relative_difference, diff)
            if diff > SCORE_RTOL:
                result.problems.append(f"{qid} rank {rank + 1}: score {ours_score!r} vs bm25s {ref_score!r}")
        ref_score_of = dict(ref_list)
        our_score_of = dict(our_list)
        # The same document must get the same score.
        for doc_id in our_score_of.keys() & ref_score_of.keys():
            if not close(our_score_of[doc_id], ref_score_of[doc_id], SCORE_RTOL):
                result.problems.append(f"{qid} {doc_id}: score {our_score_of[doc_id]!r} vs bm25s "
                                       f"{ref_score_of[doc_id]!r}")
        # A document in one list only must be tied with the cut-off score of both lists.
        cutoff = min(our_scores)
        ref_cutoff = min(ref_score_of.values())
        for doc_id in (our_score_of.keys() ^ ref_score_of.keys()):
            score = our_score_of.get(doc_id, ref_score_of.get(doc_id))
            if score > 0:
                result.cutoff_differences_scoring += 1
            else:
                result.cutoff_differences_zero += 1
            if not (close(score, cutoff, TIE_RTOL) and close(score, ref_cutoff, TIE_RTOL)):
                result.problems.append(f"{qid} {doc_id}: in one list only with score {score!r}, "
                                       f"cut-offs {cutoff!r} / {ref_cutoff!r}")
        # Our order may only swap documents whose bm25s scores are tied.
        lowest_so_far = float("inf")
        for doc_id, _ in our_list:
            if doc_id not in ref_score_of:
                continue
            score = ref_score_of[doc_id]
            if score > lowest_so_far and not close(score, lowest_so_far, TIE_RTOL):
                result.problems.append(f"{qid} {doc_id}: ranked below a document bm25s scores lower "
                                       f"({score!r} > {lowest_so_far!r})")
            lowest_so_far = min(lowest_so_far, score)
        for (our_doc, _), (ref_doc, ref_score) in zip(our_list, ref_list):
            if our_doc != ref_doc:
                if our_doc in ref_score_of and ref_score_of[our_doc] != ref_score:
                    result.reordered_near_ties += 1
                if ref_score > 0:
                    result.reordered_scoring += 1
                else:
                    result.reordered_zero += 1
    return result


def report(name: str, comparison: Comparison) -> None:
    print(f"\n[{name}] queries compared: {comparison.queries}; max relative score difference: "
          f"{comparison.max_relative_difference:.3g}; ranks reordered within tie groups: "
          f"{comparison.reordered_scoring} (score > 0) + {comparison.reordered_zero} (score 0), "
          f"{comparison.reordered_near_ties} of them not exact ties; "
          f"cut-off tie-group membership differences: {comparison.cutoff_differences_scoring} (score > 0) + "
          f"{comparison.cutoff_differences_zero} (score 0)")


def trec_eval_recall(run: dict[str, list[tuple[str, float]]], qrels: list[dict], k: int) -> float:
    """Mean recall@k with trec_eval's order: score descending, then doc id descending."""
    relevant: dict[str, set[str]] = {}
    for row in qrels:
        if row["score"] >= 1:
            relevant.setdefault(row["query-id"], set()).add(row["corpus-id"])
    total = 0.0
    for qid, docs in relevant.items():
        ranked = sorted(sorted(run[qid], key=lambda hit: hit[0].encode(), reverse=True), key=lambda hit: -hit[1])
        total += len(docs & {doc for doc, _ in ranked[:k]}) / len(docs)
    return total / len(relevant)


def check(name: str, dataset: Dataset, tmp_path: Path) -> tuple[Comparison, dict, dict]:
    runnable = without_whitespace_in_doc_ids(dataset)
    folder = write_beir(tmp_path / name, runnable)
    length = min(TOP_K, len(dataset.corpus))  # bm25s refuses k > corpus size
    ours, results = limit_eval_bm25(folder, tmp_path, TOP_K)
    reference = bm25s_as_mteb(runnable, length)
    comparison = compare(ours, reference, length)
    report(name, comparison)
    assert not comparison.problems, f"{len(comparison.problems)} disagreements, first ones:\n" + "\n".join(
        comparison.problems[:20])
    return comparison, results, trec_eval_recall_reference(reference, runnable)


def trec_eval_recall_reference(reference: dict, dataset: Dataset) -> dict:
    return {f"Recall@{k}": trec_eval_recall(reference, dataset.qrels, k) for k in (2, 10, 20)}


# ---------------------------------------------------------------- tests


def test_limit_small_matches_bm25s(tmp_path):
    comparison, results, reference_recall = check("limit-small", limit_small(), tmp_path)
    assert comparison.queries == 1000
    description = results["model"]["description"]
    assert description["k1"] == 1.5 and description["b"] == 0.75 and description["stopwords_count"] == 33
    metrics = results["metrics"]
    print(f"[limit-small] limit-eval Recall@2 {metrics['Recall@2']:.5f} Recall@10 {metrics['Recall@10']:.5f} "
          f"Recall@20 {metrics['Recall@20']:.5f}; bm25s ranking under trec_eval order: {reference_recall}")
    for name, value in reference_recall.items():
        assert metrics[name] == pytest.approx(value, abs=1e-9), name
    # The LIMIT paper reports Recall@2 97.8, @10 100, @20 100 for BM25 on LIMIT-small.
    assert metrics["Recall@10"] == pytest.approx(1.0) and metrics["Recall@20"] == pytest.approx(1.0)
    assert metrics["Recall@2"] == pytest.approx(0.978, abs=1e-9)
    assert description["snowball_version"].startswith("3."), description


def test_generated_corpus_matches_bm25s(tmp_path):
    dataset = generated_dataset()
    comparison, results, reference_recall = check("generated", dataset, tmp_path)
    assert comparison.queries == len(dataset.queries)
    assert comparison.reordered_scoring > 0, "the duplicated documents should have produced score ties"
    for name, value in reference_recall.items():
        assert results["metrics"][name] == pytest.approx(value, abs=1e-9), name


def test_the_reference_is_pystemmer_3():
    # PyStemmer 3.1.0 carries Snowball 3.1.0; limit-eval links Snowball 3.1.1 (cmake/snowball.cmake).
    assert metadata.version("PyStemmer").startswith("3."), metadata.version("PyStemmer")
    assert metadata.version("bm25s") == "0.2.14"


def test_generated_corpus_reaches_the_analyzer_decision_points():
    dataset = generated_dataset()
    stemmer = Stemmer.Stemmer("english")
    texts = ["\n".join([doc.get("title", ""), doc["text"]]) for doc in dataset.corpus]
    terms = {t for row in bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False,
                                         show_progress=False) for t in row}
    query_terms = {t for row in bm25s.tokenize([q["text"] for q in dataset.queries], stopwords="en",
                                               stemmer=stemmer, return_ids=False, show_progress=False) for t in row}
    # Stems that are stopwords occur in documents and queries: removing stopwords after stemming
    # drops them, and the comparison fails.
    assert len(terms & query_terms & set(STOPWORDS_EN)) >= 5, terms & set(STOPWORDS_EN)
    for word in SNOWBALL_3:
        assert stemmer.stemWord(word) in terms & query_terms, word


# Snowball 2.2's stems (Debian 12's libstemmer, PyStemmer 2.2.0.3) of words that Snowball 3 stems
# otherwise: among them the four LIMIT attribute words that move LIMIT-small's Recall@2.
SNOWBALL_2_STEMS = {
    "international": "intern", "organization": "organ", "paleontologists": "paleontologist",
    "geologists": "geologist", "added": "ad", "adding": "ad", "apologists": "apologist",
    "archaeologists": "archaeologist", "ebbed": "eb", "ebbing": "eb", "emergency": "emerg",
    "entomologist": "entomologist", "erred": "er", "erring": "er", "evening": "even", "evenings": "even",
    "genealogist": "genealogist", "interfered": "interf", "interfering": "interf", "internal": "intern",
    "internally": "intern", "interval": "interv", "intervals": "interv", "lateral": "later",
    "laterally": "later", "offing": "of", "organic": "organ", "organically": "organ", "organism": "organ",
    "organizations": "organ", "organized": "organ", "ornithologist": "ornithologist",
    "ornithologists": "ornithologist", "pasted": "past", "psychologist": "psychologist",
    "universal": "univers", "universally": "univers", "university": "univers",
}


def limit_attribute_words() -> list[str]:
    text = (source_dir() / "data" / "limit-attributes.txt").read_text(encoding="utf-8")
    return sorted(set(re.findall(r"(?u)\b\w\w+\b", text.lower())))


def our_stems(words: list[str], tmp_path: Path) -> dict[str, set[str]]:
    """limit-eval's terms of each word, read from --save-vectors (one document per word)."""
    corpus = [{"_id": f"w{i}", "title": "", "text": word} for i, word in enumerate(words)]
    queries = [{"_id": "q", "text": words[0]}]
    folder = write_beir(tmp_path / "words", Dataset(corpus, queries, [{"query-id": "q", "corpus-id": "w0", "score": 1}]))
    completed = subprocess.run(
        [str(limit_eval_bin()), "--model", "bm25", "--dataset", str(folder), "--output", str(tmp_path / "r.json"),
         "--save-vectors", str(tmp_path / "vectors"), "--log-level", "warn"], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    rows = read_jsonl(tmp_path / "vectors" / "corpus.jsonl")
    return {words[int(row["_id"][1:])]: set(row["vector"]) for row in rows}


@pytest.mark.parametrize("word_list", ["limit_attributes", "changed_in_snowball_3"])
def test_words_stem_as_pystemmer_3_stems_them(word_list, tmp_path):
    if word_list == "limit_attributes":
        words = limit_attribute_words()
        assert len(words) > 1500
    else:
        words = sorted(SNOWBALL_2_STEMS)
    stemmer = Stemmer.Stemmer("english")
    ours = our_stems(words, tmp_path)
    stopwords = set(STOPWORDS_EN)
    wrong = [f"{w}: ours {sorted(ours.get(w, set()))}, PyStemmer {stemmer.stemWord(w)!r}" for w in words
             if ours.get(w, set()) != ({stemmer.stemWord(w)} if w not in stopwords else set())]
    assert not wrong, f"{len(wrong)} of {len(words)} words stem otherwise:\n" + "\n".join(wrong[:20])
    if word_list == "changed_in_snowball_3":
        still_snowball_2 = [w for w in words if stemmer.stemWord(w) == SNOWBALL_2_STEMS[w]]
        assert not still_snowball_2, f"the reference stems these as Snowball 2.2 did: {still_snowball_2}"


def test_analyzer_table_is_what_its_generator_writes():
    script = source_dir() / "scripts" / "bm25_analyzer_golden.py"
    completed = subprocess.run([sys.executable, str(script), "check"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr


def test_comparison_catches_a_wrong_score():
    """The comparison itself must fail on a real disagreement, not only on crashes."""
    reference = {"q": [("a", 3.0), ("b", 2.0), ("c", 2.0), ("d", 1.0)]}
    tie_swapped = {"q": [("a", 3.0), ("c", 2.0), ("b", 2.0), ("d", 1.0)]}
    assert not compare(tie_swapped, reference, 4).problems
    cut_tie = {"q": [("a", 3.0), ("b", 2.0)]}
    assert not compare(cut_tie, {"q": [("a", 3.0), ("c", 2.0)]}, 2).problems
    assert compare({"q": [("a", 3.0), ("b", 2.0), ("c", 2.0), ("d", 1.00002)]}, reference, 4).problems
    assert compare({"q": [("b", 2.0), ("a", 2.0), ("c", 2.0), ("d", 1.0)]}, reference, 4).problems
    assert compare({"q": [("b", 2.0), ("a", 3.0), ("c", 2.0), ("d", 1.0)]}, reference, 4).problems
    assert compare({"q": [("a", 3.0), ("b", 2.0), ("d", 1.0), ("e", 1.0)]}, reference, 4).problems
