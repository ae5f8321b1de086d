"""``sentiment label``: choose comments of a file, then export them (``--export``) or serve the labeling page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import SentimentError
from ..io.durable_csv import remove_stale_temporaries
from ..io.locks import exclusive_lock
from .labeling import LabelStore, label_words, labels_type, prepare_labels

Log = Callable[[str], None]
SERVE_MODULES = {"fastapi", "starlette", "pydantic", "uvicorn"}


def label_file(
    input_path: str,
    output: str,
    *,
    n: int = 300,
    model: str | None = None,
    text_column: str | None = None,
    audit_share: float = 0.3,
    seed: int = 0,
    labels: str = "1,0",
    export: bool = False,
    port: int = 8765,
    workers: int = 0,
    sep: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    log: Log = lambda msg: None,
) -> None:
    """Choose ``n`` comments of ``input_path`` into LABELS ``output`` (or continue an existing one), then, unless
    ``export``, serve the labeling page on 127.0.0.1:``port`` until Ctrl+C / SIGTERM. Everything that can fail
    fast (the label words, LABELS' type, the serve extra, the port) is checked before INPUT is scored."""
    words = label_words(labels)
    labels_type(output, export)
    sock = None
    if not export:
        try:
            from . import labeling_page
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in SERVE_MODULES:
                raise
            raise SentimentError(
                f"the labeling page needs FastAPI and uvicorn (missing: {exc.name}); install them "
                f'with: pip install "sentiment[serve]", or write a table to label elsewhere with '
                f"--export"
            ) from None
        sock = labeling_page.bind(port)
    try:
        with exclusive_lock(output, "labels file"):
            remove_stale_temporaries(Path(output))

            def load_model():
                from ..classifier import SentimentClassifier

                log(f"model: {model or 'default (packaged)'}; scoring {input_path} to choose {n} comments")
                return SentimentClassifier.load(model, workers=workers)

            table = prepare_labels(
                input_path,
                output,
                n=n,
                model=load_model,
                text_column=text_column,
                audit_share=audit_share,
                seed=seed,
                export=export,
                sep=sep,
                encoding=encoding,
                sheet=sheet,
                log=log,
            )
            if export:
                log(
                    f"next: fill in the label column ({words[0]} = positive, {words[1]} = negative, or your own two "
                    f"words; rows left empty are ignored), then: sentiment adapt --texts {input_path} --labeled "
                    f"{output} -o models/adapted"
                )
                return
            store = LabelStore(output, table, words)
            labeling_page.serve(store, sock, title=f"sentiment label · {Path(input_path).name}", log=log)
            sock = None  # serve closed it
    finally:
        if sock is not None:
            sock.close()
