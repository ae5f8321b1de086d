"""The self-describing model directory ("bundle").

Layout::

    config.toml     the resolved pipeline config (tokenizer settings included)
    vocab.json      tokens in id order (0 = <pad>, 1 = <unk>)
    model.keras     Keras model, embeddings included, no optimizer state
    model.onnx      the same network as an ONNX graph (native LSTM operator) for
                    scoring without TensorFlow; optional (older bundles lack it,
                    `sentiment export --model OLD` adds it)
    history.json    training curves
    meta.json       format version, labels, versions, data fingerprint, metrics,
                    sha256 of every other file

Loading reads JSON/TOML, the ONNX graph and/or the ``.keras`` file with
``safe_mode=True``; nothing is unpickled. Every file's sha256 is checked against
``meta.json``. Keras (and TensorFlow) is imported only when the Keras model is
asked for.
Saving writes into a temporary sibling directory and renames it into place,
so an interrupted save never leaves a half-written bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..errors import BundleError, ConfigError
from ..io.file_modes import usual_mode
from ..text.vocab import Vocabulary
from ..versions import package_versions

if TYPE_CHECKING:  # pragma: no cover
    from .onnx_int8 import Int8Graph

FORMAT_VERSION = 1
META = "meta.json"
REQUIRED_FILES = ("config.toml", "vocab.json", "model.keras")
ONNX_FILE = "model.onnx"


def default_model_path() -> Path:
    """The bundle shipped inside the package."""
    return Path(str(resources.files("sentiment") / "default_model"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_id(meta: dict[str, Any]) -> str:
    """sha256 of a bundle's file checksums (identifies its content), or '' when unknown."""
    files = meta.get("files")
    if not files:
        return ""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def write_bundle(
    path: str | Path,
    config: Config,
    vocab: Vocabulary,
    model,
    meta: dict[str, Any],
    history: dict[str, Any] | None = None,
    extra_files: dict[str, str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a bundle atomically; ``meta`` gets format version, versions and checksums added.

    ``model`` is the Keras model; its ONNX graph (``model.onnx``) is written
    beside it after a parity check against Keras (see :func:`write_onnx`).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise BundleError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    with _staging(path) as tmp:
        (tmp / "config.toml").write_text(config.to_toml(), encoding="utf-8")
        vocab.save(tmp / "vocab.json")
        model.save(tmp / "model.keras")
        meta = {**meta, "onnx": write_onnx(tmp, model, config)}
        (tmp / "history.json").write_text(json.dumps(history or {}, indent=1), encoding="utf-8")
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        _write_meta(tmp, {"format_version": FORMAT_VERSION, **meta, "versions": package_versions()})
    return path


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A temporary sibling directory to fill; renamed to ``target`` when the block ends, removed on error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(target)
    try:
        yield tmp
        _swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """Write ``meta.json`` with the sha256 of every other file in ``directory``."""
    meta["files"] = {p.name: sha256_file(p) for p in sorted(directory.iterdir()) if p.is_file()}
    (directory / META).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")


def _temporary_sibling(target: Path) -> Path:
    """An empty directory beside ``target`` with the permissions a plain ``mkdir`` would give it."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    tmp.chmod(usual_mode(directory=True))  # mkdtemp's 0700 -> what mkdir gives under the user's umask
    return tmp


def _swap_into_place(new: Path, target: Path) -> None:
    """Replace ``target`` (a directory or nothing) by ``new`` with renames only."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def read_meta(path: str | Path, *, defer: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read and check ``meta.json`` and every checksum; raises :class:`BundleError` with a reason.

    Files named in ``defer`` must exist, but their checksum is left to the
    reader that opens them (:func:`read_verified`), so that a file is hashed
    once, when (and if) it is used.
    """
    path = Path(path)
    if not path.exists():
        raise BundleError(f"model directory not found: {path}")
    if not path.is_dir():
        raise BundleError(
            f"{path} is a file, not a model directory (a bundle is a folder with {META}, {', '.join(REQUIRED_FILES)})"
        )
    meta_path = path / META
    if not meta_path.is_file():
        raise BundleError(
            f"{path} is not a model bundle: {META} is missing (expected {META}, "
            f"{', '.join(REQUIRED_FILES)}; create one with `sentiment train`)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path} is not valid JSON ({exc})") from None
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise BundleError(f"{meta_path} has no integer format_version; not a bundle written by this package")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path} uses bundle format {version}, newer than this package supports "
            f"({FORMAT_VERSION}); upgrade the sentiment package to load it"
        )
    files = meta.get("files") or {}
    for name in REQUIRED_FILES:
        if name not in files or not (path / name).is_file():
            raise BundleError(f"{path} is not a complete model bundle: {name} is missing")
    for name, expected in files.items():
        file = path / name
        if not file.is_file():
            raise BundleError(f"{path}: {name} is listed in {META} but missing")
        if name not in defer and sha256_file(file) != expected:
            _changed(path, name)
    return meta


def _changed(path: Path, name: str) -> None:
    raise BundleError(
        f"{path}: {name} was changed after the model was saved (sha256 mismatch with "
        f"{META}); refusing to load it. Retrain or restore the original file."
    )


def read_verified(path: str | Path, name: str, meta: dict[str, Any]) -> bytes:
    """The bytes of bundle file ``name``, checked against its sha256 in ``meta`` (the bytes used are the bytes
    checked)."""
    path = Path(path)
    expected = (meta.get("files") or {}).get(name)
    if expected is None:
        raise BundleError(f"{path}: {name} is not listed in {META}; refusing to load an unverified file")
    data = (path / name).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        _changed(path, name)
    return data


def read_bundle(path: str | Path, *, keras_model: bool = True) -> tuple[Config, Vocabulary, Any, dict[str, Any]]:
    """Load (config, vocabulary, Keras model, meta) from a verified bundle.

    With ``keras_model=False`` the model is ``None``, Keras is not imported and
    the model files' checksums are left to :func:`load_keras_model` /
    :func:`read_verified`, which check the bytes they read.
    """
    path = Path(path)
    meta = read_meta(path, defer=() if keras_model else ("model.keras", ONNX_FILE))
    try:
        config = Config.from_toml(path / "config.toml")
    except ConfigError as exc:
        raise BundleError(f"{path}: invalid config.toml ({exc})") from None
    try:
        vocab = Vocabulary.load(path / "vocab.json")
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"{path}: invalid vocab.json ({exc})") from None
    return config, vocab, _load_keras(path) if keras_model else None, meta


def load_keras_model(path: str | Path, meta: dict[str, Any]):
    """The bundle's Keras model (``safe_mode``), after checking model.keras against ``meta`` again."""
    path = Path(path)
    if sha256_file(path / "model.keras") != (meta.get("files") or {}).get("model.keras"):
        _changed(path, "model.keras")
    return _load_keras(path)


def _load_keras(path: Path):
    from .tf_import import import_keras

    keras = import_keras()

    try:
        return keras.saving.load_model(path / "model.keras", compile=False, safe_mode=True)
    except Exception as exc:  # safe_mode refusals, corrupt archives
        raise BundleError(
            f"{path}: model.keras cannot be loaded safely ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None


def write_onnx(directory: Path, model, config: Config) -> dict[str, Any]:
    """Write ``directory/model.onnx`` for the Keras ``model`` after checking it against Keras; its meta entry."""
    from .onnx_export import export_checked

    graph, info = export_checked(model, config)
    (directory / ONNX_FILE).write_bytes(graph)
    return info


def set_default_precision(path: str | Path, precision: str, evaluation: dict[str, Any]) -> Path:
    """Record in the bundle at ``path`` (in place, atomically) the precision ``load(precision="auto")`` uses.

    ``evaluation`` (what justified it, e.g. the per-domain figures of benchmarks/precision.py) goes into
    ``meta.json`` under ``onnx.precision_evaluation`` and, as a table, into the model card.
    """
    path = Path(path)
    _, _, _, meta = read_bundle(path)
    if ONNX_FILE not in meta.get("files", {}):
        raise BundleError(f"{path} has no {ONNX_FILE}; add it first with `sentiment export --model {path} --in-place`")
    with _staging(path) as tmp:
        for name in meta["files"]:
            shutil.copy2(path / name, tmp / name)
        meta["onnx"] = {**meta.get("onnx", {}), "default_precision": precision, "precision_evaluation": evaluation}
        if precision == "int8":  # which int8: "auto" loads only the scheme it was measured with
            from .onnx_int8 import SCHEME

            meta["onnx"]["int8_scheme"] = SCHEME
        else:
            meta["onnx"].pop("int8_scheme", None)
        card = tmp / "MODEL_CARD.md"
        if card.is_file():
            text = card.read_text(encoding="utf-8").split("\n## Precision\n")[0].rstrip()
            card.write_text(text + "\n\n" + _precision_card(precision, evaluation) + "\n", encoding="utf-8")
        _write_meta(tmp, meta)
    return path


def set_card_section(path: str | Path, title: str, text: str) -> Path:
    """Write the model card section ``## title`` of the bundle at ``path`` (in place, atomically), replacing one of
    that title; a new one goes before the Precision section (which :func:`set_default_precision` rewrites).
    ``meta.json``'s checksums follow the card."""
    path = Path(path)
    _, _, _, meta = read_bundle(path, keras_model=False)
    if "MODEL_CARD.md" not in meta.get("files", {}):
        raise BundleError(f"{path} has no MODEL_CARD.md; export the model with a card first (`sentiment export`)")
    heading = f"## {title}\n"
    section = heading + text.strip() + "\n"
    with _staging(path) as tmp:
        for name in meta["files"]:
            shutil.copy2(path / name, tmp / name)
        card = tmp / "MODEL_CARD.md"
        body, precision, rest = card.read_text(encoding="utf-8").partition("\n## Precision\n")
        parts = body.rstrip("\n").split("\n\n## ")
        parts = [parts[0]] + ["## " + p for p in parts[1:]]
        kept = [p if not (p + "\n").startswith(heading) else section.rstrip("\n") for p in parts]
        if section.rstrip("\n") not in kept:
            kept.append(section.rstrip("\n"))
        card.write_text("\n\n".join(kept) + "\n" + (precision + rest if precision else ""), encoding="utf-8")
        _write_meta(tmp, meta)
    return path


def _precision_card(precision: str, evaluation: dict[str, Any]) -> str:
    """The model card section on int8 against fp32."""
    lines = [
        "## Precision",
        f"- Scoring uses the ONNX graph in **{precision}** by default (`--precision fp32` or `int8` chooses). "
        "Both give a comment the same probability alone, in any batch, chunk, engine or service micro-batch; "
        "int8 (statically quantized when the model is loaded) takes about half the inference CPU. The two on "
        "each domain's test split (benchmarks/precision.py --record):",
        "",
        "| data | rows | accuracy fp32 | accuracy int8 | macro-F1 fp32 | macro-F1 int8 | labels changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in evaluation.get("results", {}).items():
        lines.append(
            f"| {name} | {r['rows']:,} | {r['fp32']['accuracy']:.4f} | {r['int8']['accuracy']:.4f} | "
            f"{r['fp32']['macro_f1']:.4f} | {r['int8']['macro_f1']:.4f} | {r['label_changes']:,} |"
        )
    return "\n".join(lines)


def add_onnx(path: str | Path, output: str | Path | None = None, overwrite: bool = False) -> Path:
    """Copy the bundle at ``path`` to ``output`` (default: replace it in place) with ``model.onnx`` added.

    The bundle is verified first; the new one is written into a temporary
    sibling and renamed into place, with ``meta.json``'s checksums and ``onnx``
    entry updated. Other files are copied byte for byte.
    """
    path = Path(path)
    target = path if output is None else Path(output)
    if target != path and target.exists() and not overwrite:
        raise BundleError(f"{target} already exists; pass overwrite=True (--overwrite) to replace it")
    config, _, model, meta = read_bundle(path)
    with _staging(target) as tmp:
        for name in meta["files"]:
            if name != ONNX_FILE:
                shutil.copy2(path / name, tmp / name)
        meta["onnx"] = write_onnx(tmp, model, config)
        meta["versions"] = {
            **meta.get("versions", {}),
            **{k: v for k, v in package_versions().items() if k in ("onnx", "onnxruntime")},
        }
        _write_meta(tmp, meta)
    return target


def backend(runtime: str, precision: str, meta: dict[str, Any]) -> tuple[bool, str]:
    """``(Keras?, precision)`` that ``SentimentClassifier.load`` runs a bundle with (``meta``: its meta.json):
    Keras when asked, or for "auto" when the bundle has no ONNX graph; ``precision`` resolved as
    :func:`sentiment.model.runtime.resolve_precision` does (the bundle's recorded default applies to its ONNX
    graph only)."""
    from .runtime import resolve_precision

    use_keras = runtime == "keras" or (runtime == "auto" and ONNX_FILE not in meta.get("files", {}))
    return use_keras, resolve_precision(precision, None if use_keras else meta.get("onnx"))


def bundle_int8_graph(path: str | Path, runtime: str = "auto", precision: str = "auto") -> Int8Graph | None:
    """The int8 graph that ``SentimentClassifier.load(path, runtime=..., precision=...)`` builds, built here
    (to be built once and handed to every loader: ``int8_graph``); None when that load runs fp32 or Keras,
    or would refuse the bundle (the load says why)."""
    from .onnx_int8 import build_int8_graph
    from .runtime import check_runtime

    check_runtime(runtime, precision)
    meta = read_meta(path, defer=("model.keras", ONNX_FILE))  # the graph is hashed once, by read_verified
    use_keras, resolved = backend(runtime, precision, meta)
    if use_keras or resolved != "int8" or ONNX_FILE not in meta.get("files", {}):
        return None
    return build_int8_graph(read_verified(path, ONNX_FILE, meta))
