"""Shared test fixtures.

The datasets lfmgym ships (``lfmgym/data``: BFCL v4, GSM8K test) are the tests' data; nothing
here reads outside the repository. ``bundled_dir`` writes the bundled files out as plain files
once per session, for the tests of the path-based loaders (a user's own copy of the data).
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def bundled_dir(tmp_path_factory) -> Path:
    """A plain (uncompressed) copy of ``lfmgym/data``: ``<dir>/bfcl/...``, ``<dir>/gsm8k/test.jsonl``."""
    from lfmgym import data

    root = tmp_path_factory.mktemp("bundled")
    for rel in data.list_files():
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data.read_bytes(rel))
    return root


@pytest.fixture(scope="session")
def bfcl_dir(bundled_dir) -> Path:
    """The BFCL v4 folder (question files, ``possible_answer/``, ``multi_turn_func_doc/``) as plain files."""
    return bundled_dir / "bfcl"


@pytest.fixture(scope="session")
def gsm8k_test(bundled_dir) -> Path:
    """GSM8K's test split as a plain JSONL file."""
    return bundled_dir / "gsm8k" / "test.jsonl"


@pytest.fixture
def one_torch_thread():
    """Run a tiny model on one torch thread (restored afterwards): on a busy 2-core box, OpenMP
    barriers in its small ops cost several times the work (3 s against 9 s for a 3-row BFCL run)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
