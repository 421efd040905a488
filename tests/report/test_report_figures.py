"""`limit-eval report` on the fixture results (tests/fixtures/report, see make_fixtures.py):

- the page and its figures equal the reviewed golden files;
- every number of the tables comes from the result files and the published reference (checked here
  independently of the C++ code);
- the SVG figures parse as XML and carry exactly the data points of their tables
  (<g class="point" data-model=... data-metric=... data-value=...>);
- a malformed result file stops the report with the file's name, exit status 3 and no output;
- rendered by headless Chromium (when installed), the figures are not blank.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
FIXTURE = SOURCE / "tests" / "fixtures" / "report"
REFERENCE = json.loads((SOURCE / "reference" / "published-results.json").read_text(encoding="utf-8"))
SVG_NS = "{http://www.w3.org/2000/svg}"
METRICS = ["NDCG@10", "Recall@2", "Recall@10", "Recall@20", "Recall@100"]
EFFICIENCY = ["Doc Active Dims (mean)", "FLOPS"]
EXIT_DATA = 3
EXIT_IO = 4


def run_report(binary: Path, results: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), "report", "--results", str(results), "--output", str(output),
                           "--log-level", "warn"], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("report") / "README.md"
    completed = run_report(binary, FIXTURE / "results", output)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    return output


# --- markdown helpers -------------------------------------------------------------------------

def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


def table_after(markdown: str, heading: str) -> list[list[str]]:
    """Rows (without header and rule) of the first table after the line `heading`."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append(cells(line))
        elif rows:
            break
    assert len(rows) >= 2, f"no table after {heading!r}"
    return [rows[0]] + rows[2:]  # header + body


def fixture_results() -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted((FIXTURE / "results").rglob("*.json"))]


def f4(value: float) -> str:
    return f"{value:.4f}"


def efficiency_cells(result: dict) -> list[str]:
    efficiency = result["efficiency"]
    return [f"{efficiency['documents']['active_dims']['mean']:.1f}", f"{efficiency['flops']:.3f}"]


def difference(ours: float, published: float) -> str:
    value = ours - published
    return "0.0000" if abs(value) < 0.00005 else f"{value:+.4f}"


# --- the page ---------------------------------------------------------------------------------

def test_page_and_figures_equal_the_reviewed_golden_files(page: Path) -> None:
    assert page.read_text(encoding="utf-8") == (FIXTURE / "expected" / "README.md").read_text(encoding="utf-8")
    produced = sorted(p.name for p in (page.parent / "figures").iterdir())
    expected = sorted(p.name for p in (FIXTURE / "expected" / "figures").iterdir())
    assert produced == expected == [
        "differences_limit-small.svg", "differences_limit_finetune_v3-gte.svg", "finetune_limit_v3-gte.svg",
        "recall_vs_dimensions_limit-small.svg", "recall_vs_dimensions_limit.svg"]
    for name in produced:
        assert (page.parent / "figures" / name).read_text(encoding="utf-8") == \
            (FIXTURE / "expected" / "figures" / name).read_text(encoding="utf-8"), name
    assert not [p for p in page.parent.rglob("*") if ".tmp." in p.name]


def test_zero_shot_tables_hold_the_result_files_numbers(page: Path) -> None:
    markdown = page.read_text(encoding="utf-8")
    for dataset in ("limit-small", "limit"):
        rows = table_after(markdown, f"## (Zero-Shot) {dataset} Dataset")
        header, body = rows[0], rows[1:]
        assert header == ["Model", *METRICS, "Corpus Encoding Time (s)", "Query Encoding Time (s)", "Device",
                          "dtype", "Date", *EFFICIENCY]
        ours = [r for r in fixture_results()
                if r["dataset"]["name"] == dataset and "training" not in r["model"]["description"]]
        order = ["bm25", "v1", "v2-distill", "v3-distill", "v3-gte"]
        ours.sort(key=lambda r: (order.index(r["model"]["name"]) if r["model"]["name"] in order else len(order),
                                 r["model"]["name"]))
        model_rows = [row for row in body if not row[0].startswith("↳")]
        assert len(model_rows) == len(ours)
        for result, row in zip(ours, model_rows):
            name = result["model"]["name"]
            assert row[0] == name or row[0].startswith(f"[{name}](https://huggingface.co/")
            assert row[1:6] == [f4(result["metrics"][m]) for m in METRICS]
            assert row[6:8] == [f4(result["timings_s"]["corpus_encoding"]), f4(result["timings_s"]["query_encoding"])]
            env = result["environment"]
            assert row[8].startswith(env["device"]) and row[9] == env["dtype"] and row[10] == env["date"][:10]
            assert row[11:13] == efficiency_cells(result)
            # The published row and the difference that follow it.
            index = body.index(row)
            seed = REFERENCE["zero_shot"].get(dataset, {}).get(name)
            if name == "bm25":
                paper = REFERENCE["limit_paper"][dataset]["BM25"]
                published = {m: paper[m] / 100 for m in METRICS if m in paper}
                assert body[index + 1][0] == "↳ LIMIT paper"
            elif seed is not None:
                published = seed
                assert body[index + 1][0] == "↳ seed (published)"
                assert body[index + 1][6:9] == [f4(seed["corpus_encoding_s"]), f4(seed["query_encoding_s"]),
                                                "1× NVIDIA A100 (seed)"]
            else:
                assert index + 1 == len(body) or not body[index + 1][0].startswith("↳")
                continue
            assert body[index + 1][1:6] == [f4(published[m]) if m in published else "—" for m in METRICS]
            assert body[index + 2][0] == "↳ difference"
            assert body[index + 2][1:6] == [difference(result["metrics"][m], published[m]) if m in published else "—"
                                            for m in METRICS]
            assert body[index + 2][6:8] == ["—", "—"]  # timings of different devices are not differenced


def test_fine_tuned_table_follows_the_samples_convention(page: Path) -> None:
    markdown = page.read_text(encoding="utf-8")
    rows = table_after(markdown, "## (Finetune) limit Dataset: v3-gte")
    assert rows[0] == ["Training Samples", *METRICS, "Model", "Device", "dtype", "Date", *EFFICIENCY]
    body = rows[1:]
    ours = [row for row in body if not row[0].startswith("↳")]
    assert [row[0] for row in ours] == ["0 (Zero-shot)", "2", "1700"]
    by_name = {r["model"]["name"]: r for r in fixture_results() if r["dataset"]["name"] == "limit"}
    for row, name, samples in zip(ours, ["v3-gte", "v3-gte-ft2", "v3-gte-ft1700"], ["0", "2", "1700"]):
        assert row[1:6] == [f4(by_name[name]["metrics"][m]) for m in METRICS]
        assert row[10:12] == efficiency_cells(by_name[name])
        seed_row = body[body.index(row) + 1]
        assert seed_row[0] == "↳ seed (published)"
        assert seed_row[1:6] == [f4(REFERENCE["finetune"]["limit"][samples][m]) for m in METRICS]


def test_environment_and_reproduction_commands(page: Path) -> None:
    markdown = page.read_text(encoding="utf-8")
    for result in fixture_results():
        env = result["environment"]
        assert env["date"] in markdown and env["device_name"] in markdown
    assert ("build/limit-eval --model v3-gte --dataset limit-small --top-k 100 --k 2,10,20,100 --relevance-level 1 "
            "--threads 8 --device cuda:0 --dtype bf16 --batch-size 64") in markdown
    assert "build/limit-eval --model bm25 --dataset limit-small --top-k 100 --k 2,10,20,100 --relevance-level 1 " \
           "--threads 2\n" in markdown
    # A model outside the registry is reproduced from its recorded folder, quoted for the shell.
    assert "build/limit-eval --model '/srv/exports/acme sparse' --dataset limit-small" in markdown
    for source in (REFERENCE["zero_shot"]["source"], REFERENCE["finetune"]["source"], REFERENCE["limit_paper"]["source"]):
        assert source in markdown


# --- the figures ------------------------------------------------------------------------------

def points(svg: Path) -> list[dict[str, str]]:
    root = ET.parse(svg).getroot()  # raises on malformed XML
    assert root.tag == f"{SVG_NS}svg"
    assert float(root.get("width")) == 800 and float(root.get("height")) > 300
    assert root.find(f"{SVG_NS}title").text and root.find(f"{SVG_NS}desc").text
    legend = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "legend"]
    assert len(legend) == 1 and len(list(legend[0])) > 0
    found = []
    for group in root.iter(f"{SVG_NS}g"):
        if group.get("class") == "point":
            data = {key[len("data-"):]: value for key, value in group.attrib.items() if key.startswith("data-")}
            assert group.find(f"{SVG_NS}title") is not None  # tooltip
            found.append(data)
    return found


def test_every_figure_is_xml(page: Path) -> None:
    for svg in (page.parent / "figures").glob("*.svg"):
        assert points(svg), svg


@pytest.mark.parametrize("dataset", ["limit-small", "limit"])
def test_recall_figure_carries_every_point_of_its_table(page: Path, dataset: str) -> None:
    markdown = page.read_text(encoding="utf-8")
    rows = table_after(markdown, f"#### {dataset}")
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Model", "Source", "Embedding size", "Mean active dims (documents)"]
    expected, expected_active = set(), set()
    for row in body:
        for column, value in zip(header[4:], row[4:]):
            if value != "—":
                expected.add((row[0], row[1], row[2].split(" ")[0], column, value))
                if row[3] != "—":
                    expected_active.add((row[0], row[1], row[3], column, value))
    all_points = points(page.parent / "figures" / f"recall_vs_dimensions_{dataset}.svg")
    drawn = {(p["model"], p["source"], p["dimensions"], p["metric"], p["value"]) for p in all_points
             if "dimensions" in p}
    drawn_active = {(p["model"], p["source"], p["active-dims"], p["metric"], p["value"]) for p in all_points
                    if "active-dims" in p}
    assert drawn == expected
    # Our models again at their documents' mean active dimensions (the second, top x axis), from
    # the efficiency block of their result files.
    assert drawn_active == expected_active
    assert {p[0] for p in drawn_active} == {r["model"]["name"] for r in fixture_results()
                                             if r["dataset"]["name"] == dataset
                                             and "training" not in r["model"]["description"]}
    for result in fixture_results():
        if result["dataset"]["name"] == dataset and "training" not in result["model"]["description"]:
            active = f"{result['efficiency']['documents']['active_dims']['mean']:.1f}"
            assert {p[2] for p in drawn_active if p[0] == result["model"]["name"]} == {active}
    # Our sparse models sit at 30522 dimensions, BM25 at its vocabulary size.
    assert {p[2] for p in drawn if p[0] in ("v1", "v3-gte")} == {"30522"}
    if dataset == "limit-small":
        assert {p[2] for p in drawn if p[0] in ("bm25", "BM25")} == {"1333"}
    # The paper's percentages are fractions here, as in the tables.
    paper = REFERENCE["limit_paper"][dataset]["GritLM 7B"]
    assert ("GritLM 7B", "LIMIT paper", "4096", "Recall@2", f4(paper["Recall@2"] / 100)) in drawn


def test_fine_tuning_figure_carries_every_point_of_its_table(page: Path) -> None:
    markdown = page.read_text(encoding="utf-8")
    rows = table_after(markdown, "## (Finetune) limit Dataset: v3-gte")
    header, body = rows[0], rows[1:]
    expected = set()
    samples = None
    for row in body:
        if row[0] == "↳ difference":
            continue
        if row[0] == "↳ seed (published)":
            source = "seed"
        else:
            source, samples = "limit-eval", row[0].split(" ")[0]
        for column, value in zip(header[1:6], row[1:6]):
            expected.add((source, samples, column, value))
    drawn = {(p["source"], p["samples"], p["metric"], p["value"])
             for p in points(page.parent / "figures" / "finetune_limit_v3-gte.svg")}
    assert drawn == expected


# --- the comparison section ----------------------------------------------------------------------

def test_comparison_section_equals_limit_eval_compare(binary: Path, page: Path) -> None:
    """The page's tables hold what `limit-eval compare --json` computes for the same files, and each
    difference figure carries the histogram of the per-query differences, computed here."""
    markdown = page.read_text(encoding="utf-8")
    groups = {
        "### limit-small: each model against bm25 (NDCG@10 on 60 queries)":
            ["limit-small/bm25.json", "limit-small/v1.json", "limit-small/v3-gte.json",
             "limit-small/acme-sparse.json"],
        "### limit: fine-tuned v3-gte against its base (NDCG@10 on 60 queries)":
            ["limit/v3-gte.json", "limit/v3-gte-ft2.json", "limit/v3-gte-ft1700.json"],
    }
    for heading, files in groups.items():
        paths = [FIXTURE / "results" / f for f in files]
        completed = subprocess.run([str(binary), "compare", *map(str, paths[1:]), "--baseline", str(paths[0]),
                                    "--test", "randomization", "--json", "--log-level", "warn"],
                                   capture_output=True, text=True, timeout=120)
        assert completed.returncode == 0, completed.stderr
        result = json.loads(completed.stdout)
        rows = table_after(markdown, heading)  # the systems table
        assert [row[0] for row in rows[1:]] == [s["name"] for s in result["systems"]]
        for row, system in zip(rows[1:], result["systems"]):
            assert row[1] == f4(system["mean"])
            assert row[2:5] == [f"{system['fully_right'][k]} / 60" for k in ("2", "10", "100")]
        lines = markdown.splitlines()
        start = lines.index(heading)
        pair_header = next(i for i in range(start, len(lines)) if lines[i].startswith("| Baseline | Model |"))
        pair_rows = [cells(line) for line in lines[pair_header + 2:pair_header + 2 + len(result["pairs"])]]
        for row, pair in zip(pair_rows, result["pairs"]):
            assert row[:2] == [pair["baseline"], pair["model"]]
            assert row[4] == f"{pair['difference']:+.4f}"
            assert row[5] == f"[{pair['ci'][0]:+.4f}, {pair['ci'][1]:+.4f}]"
            assert row[9] == f"{pair['wins']} / {pair['ties']} / {pair['losses']}"
            assert row[8] == ("yes" if pair["significant"] else "no")
        # The figure: the share of the queries per 0.1-wide bin of the per-query NDCG@10 difference.
        figure = "differences_limit-small.svg" if "limit-small" in heading else "differences_limit_finetune_v3-gte.svg"
        drawn = {(p["baseline"], p["model"], p["bin"], p["value"]) for p in points(page.parent / "figures" / figure)}
        values = [json.loads(path.read_text(encoding="utf-8"))["per_query"] for path in paths]
        expected = set()
        for system, model_values in zip(result["systems"][1:], values[1:]):
            counts: dict[int, int] = {}
            for query, base in values[0].items():
                difference = model_values[query]["NDCG@10"] - base["NDCG@10"]
                bin_index = max(-10, min(10, int(math.floor(abs(difference) * 10 + 0.5)) * (1 if difference >= 0 else -1)))
                counts[bin_index] = counts.get(bin_index, 0) + 1
            for bin_index in range(-10, 11):
                share = counts.get(bin_index, 0) / len(values[0])
                expected.add((result["systems"][0]["name"], system["name"], f"{bin_index / 10:+.1f}", f"{share:.3f}"))
        assert drawn == expected


# --- errors -----------------------------------------------------------------------------------

def test_malformed_result_stops_the_report_naming_the_file(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE / "results", results)
    broken = results / "limit-small" / "v1.json"
    data = json.loads(broken.read_text(encoding="utf-8"))
    del data["metrics"]
    broken.write_text(json.dumps(data), encoding="utf-8")
    output = tmp_path / "page" / "README.md"
    completed = run_report(binary, results, output)
    assert completed.returncode == EXIT_DATA
    assert str(broken) in completed.stderr and "/metrics is missing" in completed.stderr
    assert not output.parent.exists()  # nothing written, not even the figures folder

    broken.write_text('{"format": "limit-eval-results/1", ', encoding="utf-8")
    completed = run_report(binary, results, output)
    assert completed.returncode == EXIT_DATA
    assert str(broken) in completed.stderr and "invalid JSON" in completed.stderr
    assert not output.parent.exists()


def test_an_existing_page_is_kept_when_the_report_fails(binary: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(FIXTURE / "results", results)
    assert run_report(binary, results, results / "README.md").returncode == 0
    before = (results / "README.md").read_text(encoding="utf-8")
    (results / "limit" / "new.json").write_text("[]", encoding="utf-8")
    completed = run_report(binary, results, results / "README.md")
    assert completed.returncode == EXIT_DATA
    assert "new.json" in completed.stderr
    assert (results / "README.md").read_text(encoding="utf-8") == before


def test_missing_results_folder_is_a_file_error(binary: Path, tmp_path: Path) -> None:
    completed = run_report(binary, tmp_path / "absent", tmp_path / "README.md")
    assert completed.returncode == EXIT_IO
    assert "absent" in completed.stderr


# --- rendering --------------------------------------------------------------------------------

def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    width, height, depth, colour_type = header[:4]
    assert depth == 8 and colour_type in (2, 6), header
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up = previous[x]
            upper_left = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upper_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
                line[x] = (line[x] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return name
    return None


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_rendered_figures_are_not_blank(page: Path, tmp_path: Path) -> None:
    completed = subprocess.run([str(SOURCE / "scripts" / "render_figures.sh"), "--output-dir", str(tmp_path),
                                str(page.parent / "figures")], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 3
    for png in pngs:
        width, height, rows = png_pixels(png)
        assert width >= 800 and height > 300
        channels = len(rows[0]) // width
        ink = coloured = 0
        for row in rows[::2]:
            for x in range(0, width, 2):
                r, g, b = row[x * channels:x * channels + 3]
                if r < 200 or g < 200 or b < 200:
                    ink += 1
                if max(r, g, b) - min(r, g, b) > 80:  # a palette colour, not grey text
                    coloured += 1
        sampled = (height // 2) * (width // 2)
        assert 0.005 < ink / sampled < 0.5, f"{png.name}: {ink / sampled:.3f} of the pixels are drawn"
        assert coloured > 20, f"{png.name}: no coloured marker visible"
