"""The datasets shipped in the package (``lfmgym/data``), and a clone that needs nothing beside it."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest

from lfmgym import data

ROOT = Path(__file__).resolve().parents[1]


def test_datasets_are_listed_with_sizes_license_and_source():
    rows = {d["name"]: d for d in data.datasets()}
    assert set(rows) == {"bfcl", "gsm8k"}
    bfcl, gsm8k = rows["bfcl"], rows["gsm8k"]
    assert bfcl["license"] == "Apache-2.0" and gsm8k["license"] == "MIT"
    assert "Apache License" in data.read_text(bfcl["license_file"]) and "MIT License" in data.read_text(gsm8k["license_file"])
    assert "gorilla" in bfcl["source"] and "grade-school-math" in gsm8k["source"]
    # every BFCL v4 category file, its answers, and the multi-turn function docs
    files = set(bfcl["files"])
    for category in ("simple_python", "live_simple", "live_relevance", "multi_turn_base", "multi_turn_long_context"):
        assert f"bfcl/BFCL_v4_{category}.json" in files
    assert "bfcl/possible_answer/BFCL_v4_live_parallel_multiple.json" in files
    assert "bfcl/multi_turn_func_doc/gorilla_file_system.json" in files
    assert bfcl["stored_bytes"] < bfcl["bytes"] / 4  # gzip keeps the wheel small


def test_read_text_is_transparent_and_errors_name_the_file():
    line = data.read_text("bfcl/BFCL_v4_multi_turn_base.json").splitlines()[0]
    assert json.loads(line)["id"] == "multi_turn_base_0"
    raw = gzip.decompress((data.ROOT / "gsm8k" / "test.jsonl.gz").read_bytes()).decode()
    assert data.read_text("gsm8k/test.jsonl") == raw and len(raw.splitlines()) == 1319
    assert data.list_files("bfcl/multi_turn_func_doc")[0] == "bfcl/multi_turn_func_doc/gorilla_file_system.json"
    with pytest.raises(FileNotFoundError, match="no bundled data file 'bfcl/nope.json'"):
        data.read_text("bfcl/nope.json")


def test_resolve_prefers_a_user_path(tmp_path, monkeypatch):
    assert data.resolve("gsm8k") == data.Bundled("gsm8k/test.jsonl")
    assert data.resolve("bfcl").is_dir()
    own = tmp_path / "tasks.jsonl"
    own.write_text("{}\n")
    assert data.resolve(own) == own
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gsm8k").mkdir()
    assert data.resolve("gsm8k") == Path("gsm8k")  # a folder of that name here wins
    with pytest.raises(FileNotFoundError, match="not a bundled dataset"):
        data.resolve("no_such_dataset")


def test_data_command_lists_the_datasets(capsys):
    from lfmgym.cli import main

    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert "bfcl:" in out and "Apache-2.0" in out and "gsm8k:" in out and "MIT" in out and "MB" in out
    assert main(["data", "--json", "--files"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == {"bfcl", "gsm8k"} and all(r["files"] for r in rows)


# Files that make up the project (a fresh clone): none of them may reach outside the repository.
_TEXT = (".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".sh", ".txt", ".json", ".jinja")
_SIBLING = re.compile(r"\.\./" + "shared" + r"|[\"']" + "shared" + r"[\"']\s*/")


def _project_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.splitlines()
        files = [ROOT / f for f in listed]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist): walk it
        files = [p for p in ROOT.rglob("*") if ".git" not in p.parts]
    return [p for p in files if p.is_file() and (p.suffix in _TEXT or p.name == "run")]


def test_nothing_reads_a_shared_folder_beside_the_clone():
    offenders = []
    for path in _project_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if _SIBLING.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}")
    assert not offenders, "read the bundled data (lfmgym.data) instead:\n" + "\n".join(offenders)
