"""The README's Python API example runs as written (in a fresh folder, with its own SWSEARCH_HOME)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from .conftest import REPO


def test_the_readme_api_example_runs(tmp_path):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SWSEARCH_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0].startswith("1 ")  # the first hit's rank line
    assert (tmp_path / "my_index" / "manifest.json").is_file()
