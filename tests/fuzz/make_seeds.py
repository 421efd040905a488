#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/fuzz_*.cpp): OUT/<target>/<n>.

Seeds are valid inputs (taken from the repository's data and fixtures, or built here) and near
misses of each format, so that the fuzzers start from the parsers' interesting paths. Standard
library only; deterministic (random.Random seeded per target). Usage: make_seeds.py OUT [TARGET ...]
(default: every target; only the named targets' folders are rewritten).
"""

import hashlib
import json
import random
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RNG = random.Random(42)


def lines_of(path: Path, count: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [next(f) for _ in range(count)]


def words(count: int) -> list[str]:
    pool = ["Who", "likes", "Quokkas", "River", "Otters", "the", "and", "café", "naïve", "中文", "İstanbul",
            "running", "organization", "international", "paleontologists", "x", "42", "3.14", "don't", "e-mail",
            "\u00a0", "\u3000", "\t", "[MASK]", "[CLS]", "##s", "<s>", "Ωmega", "ﬁne", "😀"]
    return [RNG.choice(pool) for _ in range(count)]


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=RNG.random() < 0.5) + "\n" for r in records)


def corpus_seeds() -> list[str]:
    seeds = ["".join(lines_of(ROOT / "data/limit-small/corpus.jsonl", 3))]
    seeds.append(jsonl([{"_id": f"d{i}", "title": " ".join(words(3)), "text": " ".join(words(12))} for i in range(4)]))
    seeds += [
        '{"_id": "a", "title": null, "text": "x"}\r\n{"_id": "b", "text": ""}',
        '{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n',
        '{"_id": 5, "text": "x"}\n',
        '{"_id": "a", "text": "x", "extra": [1, {"b": [2.5e300, null, true]}]}\n',
        '\ufeff{"_id": "a", "text": "x"}\n',
        '{"_id": "a", "text": "\\ud83d\\ude00 \\u00e9"}\n\n',
        '{"_id": "a", "text": "x"',
        '[{"_id": "a", "text": "x"}]\n',
        '{"_id": "", "text": "x"}\n',
        '{"_id": "a", "title": 1, "text": "x"}\n',
        '{"_id": "a"}\n',
    ]
    return seeds


def queries_seeds() -> list[str]:
    return ["".join(lines_of(ROOT / "data/limit-small/queries.jsonl", 3)),
            jsonl([{"_id": f"query_{i}", "text": " ".join(words(4))} for i in range(3)]),
            '{"_id": "q", "text": 1}\n', '{"_id": "q", "text": "a"}\r\n{"_id": "q", "text": "b"}\r\n',
            '{"text": "no id"}\n']


def qrels_jsonl_seeds() -> list[str]:
    return ["".join(lines_of(ROOT / "data/limit-small/qrels.jsonl", 4)),
            '{"query-id": "q", "corpus-id": "d", "score": 1.0}\n{"query-id": "q", "corpus-id": "e", "score": -2}\n',
            '{"query-id": "q", "corpus-id": "d", "score": 1.5}\n',
            '{"query-id": "q", "corpus-id": "d", "score": 99999999999}\n',
            '{"query-id": "q", "corpus-id": "d", "score": 1}\n{"query-id": "q", "corpus-id": "d", "score": 2}\n',
            '{"query-id": "q", "corpus-id": "d", "score": "1"}\n']


def qrels_tsv_seeds() -> list[str]:
    trec = "".join(lines_of(ROOT / "tests/fixtures/trec_eval/qrels.test", 20))
    return ["query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\nq2\td1\t2\n",
            "query-id\tcorpus-id\tscore\r\nq1\td 1\t+1\r\nq1\td2\t -1 \r\n",
            "q1\td1\t1\n", "query-id\tcorpus-id\tscore\nq1\td1\n", "query-id\tcorpus-id\tscore\nq1\td1\t1.0\n",
            trec, "q1 0 d1 1\nq1\t0\td2\t-1\nq2 0 d1 2147483647\n", "q1 0 d1 1\nq1 0 d1 2\n"]


def trec_run_seeds() -> list[str]:
    return ["".join(lines_of(ROOT / "tests/fixtures/trec_eval/results.test", 40)),
            "q1 Q0 d1 1 2.5 tag\nq1 Q0 d2 2 2.5 tag\nq2 Q0 d1 1 -1e-300 tag\n\n",
            "q1 Q0 d1 1 nan tag\n", "q1 Q0 d1 1 inf tag\nq1 Q0 d2 1 -inf tag\n", "q1 Q0 d1 1 1e400 tag\n",
            "q1 Q0 d1 1 +3 tag\nq1 Q0 d1 2 3 tag\n", "q1\u00a0x Q0 d\u3000y 1 0.5 tag\n", "q1 Q0 d1 1 0.5\n"]


def texts() -> list[str]:
    seeds = [json.loads(line)["text"] for line in lines_of(ROOT / "data/limit-small/corpus.jsonl", 2)]
    seeds += [" ".join(words(20)) for _ in range(4)]
    seeds += ["Who likes Quokkas?", "caf\u00e9 CAFE\u0301 \u00c5ngstr\u00f6m \u0130", "\u4e2d\u6587\u5b57 \u3042\u3044",
              "a\x00b\x07c\u200bd\ufffde", "[CLS] x [SEP] [MASK][MASK] [UNK]", "x" * 150,
              "supercalifragilisticexpialidocious unaffable", "\U0001f600\U0001f600 \u0301\u0301", "   ", ""]
    return seeds


def wordpiece_seeds() -> list[bytes]:
    seeds = [bytes([0, RNG.randrange(4)]) + t.encode() for t in texts()]
    seeds.append(bytes([0, 0]) + b"bad \xff\xfe utf-8")
    vocabs = ["[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nwho\nlikes\nquo\n##kka\n##s\n?\n",
              "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\n\r\nx\r##x\n[UNK]\n",
              "[UNK]\n[CLS]\n[SEP]\n[PAD]\n",
              "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n\u4e2d\ncaf\n##\u00e9\n##\n#\n"]
    seeds += [bytes([1, RNG.randrange(64)]) + v.encode() for v in vocabs]
    seeds.append(bytes([1, 0]) + b"[PAD]\n[UNK]\n\xff\n")
    return seeds


def protobuf_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def protobuf_bytes(field: int, data: bytes) -> bytes:
    return protobuf_varint(field << 3 | 2) + protobuf_varint(len(data)) + data


def sentencepiece_model(pieces: list[tuple[str, float, int]], model_type: int) -> bytes:
    """A sentencepiece ModelProto: pieces (text, score, type), trainer_spec.model_type, identity normalizer."""
    model = b""
    for text, score, kind in pieces:
        piece = protobuf_bytes(1, text.encode()) + protobuf_varint(2 << 3 | 5) + struct.pack("<f", score)
        piece += protobuf_varint(3 << 3) + protobuf_varint(kind)
        model += protobuf_bytes(1, piece)
    model += protobuf_bytes(2, protobuf_varint(3 << 3) + protobuf_varint(model_type))
    model += protobuf_bytes(3, protobuf_bytes(1, b"identity"))
    return model


def sentencepiece_seeds() -> list[bytes]:
    seeds = [b"\x00" + t.encode() for t in texts()]
    specials = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    normal = [(p, -1.0 - i / 2, 1) for i, p in enumerate(["\u2581", "\u2581who", "\u2581likes", "s", "a", "b", "q", "u"])]
    for model_type in (1, 2, 3, 4):  # unigram, BPE, word, char
        seeds.append(b"\x01" + sentencepiece_model(specials + normal, model_type))
    seeds.append(b"\x01" + sentencepiece_model(specials[:1] + normal, 1))  # no <s>, </s>
    return seeds


def bm25_seeds() -> list[str]:
    return texts() + ["the and of is THE İİ ßtraße", "running runs ran organizations internationally",
                      "a_b __init__ x1 1x ٣٤ ⅷ"]


MODEL_FILES = {  # the bytes fuzz_model_manifest.cpp writes beside the manifest
    "document_encoder.pt": b"not a TorchScript module",
    "query_weights.f32": b"\0\0\0?" * 4,
    "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nwho\nlikes\n##s\n",
}


def manifest(version: int = 2, **changes) -> dict:
    files = {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in MODEL_FILES.items()}
    m = {"format": "limit-eval-model", "format_version": version, "name": "tiny",
         "source": {"id": "org/tiny", "revision": None, "trust_remote_code": False, "model_kwargs": {},
                    "config_kwargs": {}},
         "vocab_size": 4, "similarity": "dot",
         "document_encoder": {"file": "document_encoder.pt", "architecture": "BertForMaskedLM", "max_seq_length": 8,
                              "add_special_tokens": True, "pooling": "max", "activation": "log1p_relu",
                              "output": "hidden_states", "text": "title_space_text_stripped"},
         "query_encoder": {"kind": "static_weights", "file": "query_weights.f32", "dtype": "float32",
                           "max_seq_length": 512, "add_special_tokens": False, "presence": "binary"},
         "tokenizer": {"kind": "wordpiece", "vocab_file": "vocab.txt", "lowercase": True, "strip_accents": None,
                       "tokenize_chinese_chars": True, "clean_text": True, "unk_token": "[UNK]",
                       "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]",
                       "continuing_subword_prefix": "##", "max_input_chars_per_word": 100},
         "files": files}
    for key, value in changes.items():
        m[key] = value
    return m


def manifest_seeds() -> list[str]:
    seeds = [json.dumps(manifest(), indent=2), json.dumps(manifest(1)), json.dumps(manifest(3))]
    sp = manifest()
    sp["tokenizer"] = {"kind": "sentencepiece", "model_file": "vocab.txt"}
    seeds.append(json.dumps(sp))
    wrong = manifest(vocab_size=5)
    wrong["files"]["vocab.txt"]["sha256"] = "0" * 64
    seeds.append(json.dumps(wrong))
    seeds += ["[]", "{}", '{"format": "limit-eval-model", "format_version": 2}']
    return seeds


def registry_seeds() -> list[str]:
    return [(ROOT / "models/registry.json").read_text(encoding="utf-8"),
            '{"v1": {"hf_id": "a/b"}, "v2": {}}', '{"models": []}', '{"models": {"x": null}}', "[1, 2]", "{"]


def chunk(rows: list[dict[int, float]], columns: int, fix_checksum: bool = True) -> bytes:
    """A vector cache chunk file (include/limit_eval/encode/vector_cache.hpp)."""
    indptr, indices, values = [0], [], []
    for row in rows:
        for column in sorted(row):
            indices.append(column)
            values.append(row[column])
        indptr.append(len(indices))
    key = hashlib.sha256(b"key").digest()
    header = b"LIMITVEC" + struct.pack("<IIQIIQd", 1, 0, 0, len(rows), columns, len(indices), 1.5) + key + bytes(32)
    body = struct.pack(f"<{len(indptr)}Q", *indptr) + struct.pack(f"<{len(indices)}I", *indices)
    body += struct.pack(f"<{len(values)}f", *values)
    file = header + body
    if fix_checksum:
        file = file[:80] + hashlib.sha256(file).digest() + file[112:]
    return file


def chunk_seeds() -> list[bytes]:
    valid = chunk([{0: 0.5, 3: 1.25}, {}, {7: 2.0}], 8)
    empty = chunk([], 4)
    return [b"\x00" + valid, b"\x01" + valid, b"\x00" + empty, b"\x01" + empty, b"\x01" + chunk([{1: 1.0}], 1),
            b"\x00" + valid[:100], b"\x01" + chunk([{0: float("nan")}], 2)]


def result_seeds() -> list[bytes]:
    return [p.read_bytes() for p in sorted((ROOT / "tests/fixtures/report/results").rglob("*.json"))]


def main() -> None:
    out = Path(sys.argv[1])
    targets = {
        "corpus_jsonl": corpus_seeds, "queries_jsonl": queries_seeds, "qrels_jsonl": qrels_jsonl_seeds,
        "qrels_tsv": qrels_tsv_seeds, "trec_run": trec_run_seeds, "wordpiece": wordpiece_seeds,
        "sentencepiece": sentencepiece_seeds, "bm25_analyzer": bm25_seeds, "model_manifest": manifest_seeds,
        "model_registry": registry_seeds, "vector_chunk": chunk_seeds, "result_file": result_seeds,
    }
    wanted = sys.argv[2:] or list(targets)
    for target in wanted:
        RNG.seed(f"42-{target}")  # each target's seeds alone are reproducible
        seeds = targets[target]()
        folder = out / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        for i, seed in enumerate(seeds):
            (folder / f"{i:03d}").write_bytes(seed if isinstance(seed, bytes) else seed.encode("utf-8"))


if __name__ == "__main__":
    main()
