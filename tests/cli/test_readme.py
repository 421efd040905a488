"""The README says what the repository and the binary are (issue 14, items 5 and 8): its layout
names every module, what it says of the export matches the exported file, its option table is the
binary's, and every script it shows as a command can be run as printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from limit_eval_binary import binary  # noqa: E402,F401  (a pytest fixture)

SOURCE = Path(os.environ.get("LIMIT_EVAL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
README = (SOURCE / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end >= 0 else None]


def test_layout_names_every_module() -> None:
    layout = section("Layout")
    block = layout[layout.index("```"):layout.rindex("```")]
    named = {word for word in re.findall(r"[a-z]+", block)
             if re.search(rf"(^|\s){word}\s{{2,}}\S", block, flags=re.MULTILINE)}
    modules = {path.name for path in (SOURCE / "src").iterdir() if path.is_dir()}
    headers = {path.name for path in (SOURCE / "include" / "limit_eval").iterdir() if path.is_dir()}
    assert "neural" in modules
    assert modules <= named, f"modules missing from the README's layout: {sorted(modules - named)}"
    assert headers <= named, f"header folders missing from the README's layout: {sorted(headers - named)}"


def test_the_decoder_is_said_to_be_inside_the_document_encoder() -> None:
    text = " ".join(section("Neural sparse encoders").split())
    assert "stores the decoder beside" not in text
    assert "decoder inside `document_encoder.pt`" in text
    # ... which is what the model format says and what limit-eval reads.
    model_format = " ".join((SOURCE / "docs" / "model-format.md").read_text(encoding="utf-8").split())
    assert "the decoder travels in the module as the buffers `decoder_weight`" in model_format


def long_options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))


def test_the_option_table_is_the_binarys(binary: Path, tmp_path: Path) -> None:
    table = section("Usage")
    table = table[table.index("### Evaluating a model"):table.index("Logs go to stderr")]
    cache = section("Usage")
    cache = cache[cache.index("### Encoding cache"):cache.index("- **What is cached**")]
    documented = {option for line in (table + cache).splitlines() if line.startswith("| `")
                  for option in long_options(line.split("|")[1])}
    completed = subprocess.run([str(binary), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    offered = {name for line in completed.stdout.splitlines() if line.lstrip().startswith("-")
               for name in line.split()[0].split(",") if name.startswith("--")}
    offered -= {"--help", "--version"}
    assert offered == documented, f"only in --help: {sorted(offered - documented)}; " \
                                  f"only in the README: {sorted(documented - offered)}"


def test_scripts_shown_as_commands_are_runnable() -> None:
    commands = set(re.findall(r"^(?:\$ )?(scripts/[\w.-]+)", README, flags=re.MULTILINE))
    commands |= set(re.findall(r"`(scripts/[\w.-]+\.(?:sh|py))[ `]", README))
    assert "scripts/export_model.sh" in commands
    for command in sorted(commands):
        path = SOURCE / command
        assert path.is_file(), f"{command} is shown in the README but does not exist"
        if path.suffix in (".sh", ".py") and not README.count(f"$py {command}"):
            assert os.access(path, os.X_OK), f"{command} is shown as a command but is not executable"
