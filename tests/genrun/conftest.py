"""Fixtures for the generation-run tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def page_dir(tmp_path: Path) -> Path:
    """A folder with a trivial page, enough to build a Composition for the audio tests."""
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    return tmp_path
