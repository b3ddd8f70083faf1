"""The README's Python examples run as written, in order, in one namespace."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2, "README lost its usage examples"
    monkeypatch.chdir(tmp_path)  # the examples cache under ./.lt_cache
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    # The usage block printed a report; the tuning block fitted a search on
    # cached backbones whose chosen tau lies on the grid.
    assert "all" in capsys.readouterr().out
    search = namespace["search"]
    assert search.best_params_["clf__tau"] in np.linspace(0, 2, 21)
    assert (tmp_path / ".lt_cache" / "pipe").is_dir()
    assert 0.5 < search.best_score_ <= 1.0
