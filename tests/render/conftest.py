import json
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def page_dir(tmp_path: Path, monkeypatch) -> Path:
    """A composition folder; renderlib's temp files (browser profiles) go under tmp_path too."""
    folder = tmp_path / "comp"
    folder.mkdir()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return folder


def write_composition(folder: Path, html: str, **fields) -> Path:
    (folder / "index.html").write_text(html)
    data = {"page": "index.html", "width": 160, "height": 90, "fps": 10, "duration": 1}
    if "frames" in fields:
        del data["duration"]
    data.update(fields)
    path = folder / "composition.json"
    path.write_text(json.dumps(data))
    return path
