"""Light Korean text normalization applied before tagging.

Collapses whitespace, shortens long runs of one character (ㅋㅋㅋㅋㅋ, !!!!!,
ㅠㅠㅠㅠ; some KoNLPy taggers take tens of seconds on such runs), strips
URLs and HTML, and truncates very long texts. Pure Python, deterministic, safe
on any Unicode input.

:meth:`Normalizer.with_offsets` runs the same steps while tracking, for every
character of the result, the span of the original text it came from, so that
morphemes can be shown in the text the user wrote (:mod:`sentiment.analysis.explain`).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import NormalizeConfig

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^<>]{0,200}>")
_WHITESPACE = re.compile(r"\s+")
# The character references html.unescape replaces (the pattern of CPython's html module).
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)")
# Control and format characters (zero-width spaces, BOMs, directional marks) and
# unpaired surrogates confuse the taggers; they are replaced by a space.
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _repeat_pattern(max_repeat: int) -> re.Pattern[str]:
    return re.compile(r"(.)\1{" + str(max_repeat) + ",}", re.DOTALL)


def _blank(ch: str) -> str:
    return " " if unicodedata.category(ch) in _DROP_CATEGORIES else ch


@dataclass
class NormalizedText:
    """A normalized text and, for each of its characters, the ``[start, end)`` it came from in the original."""

    text: str
    starts: list[int]
    ends: list[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that produced ``text[start:end]``."""
        if end <= start:
            at = self.starts[start] if start < len(self.starts) else (self.ends[-1] if self.ends else 0)
            return at, at
        return self.starts[start], self.ends[end - 1]


class _Plain:
    """The normalization steps on a plain string (the fast path of every tokenization)."""

    text = staticmethod(lambda t: t)
    cut = staticmethod(lambda t, n: t[:n])
    nfc = staticmethod(lambda t: unicodedata.normalize("NFC", t))
    unescape = staticmethod(html.unescape)
    sub = staticmethod(lambda pattern, repl, t: pattern.sub(repl, t))
    blank_controls = staticmethod(lambda t: "".join(map(_blank, t)))
    lower = staticmethod(str.lower)
    strip = staticmethod(str.strip)


class _Tracked:
    """The same steps on a :class:`NormalizedText`, carrying each character's original span along."""

    @staticmethod
    def text(t: NormalizedText) -> str:
        return t.text

    @staticmethod
    def cut(t: NormalizedText, n: int) -> NormalizedText:
        return NormalizedText(t.text[:n], t.starts[:n], t.ends[:n])

    @staticmethod
    def strip(t: NormalizedText) -> NormalizedText:
        lead = len(t.text) - len(t.text.lstrip())
        keep = len(t.text.strip())
        return NormalizedText(t.text[lead : lead + keep], t.starts[lead : lead + keep], t.ends[lead : lead + keep])

    @staticmethod
    def sub(pattern: re.Pattern[str], repl: str | Callable[[re.Match[str]], str], t: NormalizedText) -> NormalizedText:
        """``pattern.sub`` where a replacement's characters take the spans of the matched characters in order,
        the last one reaching to the end of the match (a shortened run covers the whole run; a space that
        replaced a URL covers the URL)."""
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        last = 0
        for m in pattern.finditer(t.text):
            a, b = m.span()
            pieces.append(t.text[last:a])
            starts += t.starts[last:a]
            ends += t.ends[last:a]
            new = repl if isinstance(repl, str) else repl(m)
            k = len(new)
            if k <= b - a:
                starts += t.starts[a : a + k]
                ends += t.ends[a : a + k - 1] + [t.ends[b - 1]] if k else []
            else:
                starts += [t.starts[a]] * k
                ends += [t.ends[b - 1]] * k
            pieces.append(new)
            last = b
        pieces.append(t.text[last:])
        starts += t.starts[last:]
        ends += t.ends[last:]
        return NormalizedText("".join(pieces), starts, ends)

    @staticmethod
    def unescape(t: NormalizedText) -> NormalizedText:
        if "&" not in t.text:
            return t
        return _Tracked.sub(_CHARREF, lambda m: html.unescape(m.group(0)), t)

    @staticmethod
    def nfc(t: NormalizedText) -> NormalizedText:
        if unicodedata.is_normalized("NFC", t.text):
            return t
        # Compose cluster by cluster: a cluster starts at a character that combines with nothing before it
        # (combining class 0, not a Hangul medial vowel or final consonant jamo).
        pieces, starts, ends = [], [], []
        i, n = 0, len(t.text)
        while i < n:
            j = i + 1
            while j < n and (unicodedata.combining(t.text[j]) or "\u1160" <= t.text[j] <= "\u11ff"):
                j += 1
            new = unicodedata.normalize("NFC", t.text[i:j])
            pieces.append(new)
            if len(new) == j - i:
                starts += t.starts[i:j]
                ends += t.ends[i:j]
            else:
                starts += [t.starts[i]] * len(new)
                ends += [t.ends[j - 1]] * len(new)
            i = j
        return NormalizedText("".join(pieces), starts, ends)

    @staticmethod
    def blank_controls(t: NormalizedText) -> NormalizedText:
        return NormalizedText("".join(map(_blank, t.text)), t.starts, t.ends)

    @staticmethod
    def lower(t: NormalizedText) -> NormalizedText:
        low = t.text.lower()
        if len(low) == len(t.text):
            return NormalizedText(low, t.starts, t.ends)
        return _spread(t, low)  # a few characters lower-case to two (İ → i̇)


def _spread(t: NormalizedText, new: str) -> NormalizedText:
    """Offsets for a text that does not line up with ``t`` character by character: spread proportionally."""
    if not t.text:
        return NormalizedText(new, [0] * len(new), [0] * len(new))
    index = [min(len(t.text) - 1, i * len(t.text) // max(len(new), 1)) for i in range(len(new))]
    return NormalizedText(new, [t.starts[i] for i in index], [t.ends[i] for i in index])


class Normalizer:
    """Callable text normalizer configured by a :class:`NormalizeConfig`."""

    def __init__(self, config: NormalizeConfig) -> None:
        self.config = config
        self._repeat = _repeat_pattern(config.max_repeat)

    def __call__(self, text: str) -> str:
        return self._run(text, _Plain) if self.config.enabled else text

    def with_offsets(self, text: str) -> NormalizedText:
        """The normalized text (always equal to ``self(text)``) with the original span of each character."""
        identity = NormalizedText(text, list(range(len(text))), list(range(1, len(text) + 1)))
        if not self.config.enabled:
            return identity
        tracked = self._run(identity, _Tracked)
        expected = self(text)
        return tracked if tracked.text == expected else _spread(identity, expected)

    def _run(self, text: Any, ops: Any) -> Any:
        """The normalization steps, on a plain string (``_Plain``) or with offsets (``_Tracked``)."""
        cfg = self.config
        # Cut early so that pathological inputs (100,000 characters) stay cheap;
        # the final cut below applies the exact limit.
        text = ops.cut(text, cfg.max_chars * 4)
        text = ops.nfc(text)
        if cfg.strip_html:
            text = ops.unescape(ops.sub(_HTML_TAG, " ", text))
        if cfg.strip_urls:
            text = ops.sub(_URL, " ", text)
        if not ops.text(text).isprintable():  # rare: only then look at each character
            text = ops.blank_controls(text)
        if cfg.lowercase:
            text = ops.lower(text)
        text = ops.sub(self._repeat, lambda m: m.group(1) * cfg.max_repeat, text)
        text = ops.strip(ops.sub(_WHITESPACE, " ", text))
        return ops.strip(ops.cut(text, cfg.max_chars))
