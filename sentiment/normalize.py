"""Light Korean text normalization applied before tagging.

Collapses whitespace, shortens long runs of one character (ㅋㅋㅋㅋㅋ, !!!!!,
ㅠㅠㅠㅠ; some KoNLPy taggers take tens of seconds on such runs), strips
URLs and HTML, and truncates very long texts. Pure Python, deterministic, safe
on any Unicode input.
"""

from __future__ import annotations

import html
import re
import unicodedata

from .config import NormalizeConfig

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^<>]{0,200}>")
_WHITESPACE = re.compile(r"\s+")
# Control and format characters (zero-width spaces, BOMs, directional marks) and
# unpaired surrogates confuse the taggers; they are replaced by a space.
_DROP_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _repeat_pattern(max_repeat: int) -> re.Pattern[str]:
    return re.compile(r"(.)\1{%d,}" % max_repeat, re.DOTALL)


class Normalizer:
    """Callable text normalizer configured by a :class:`NormalizeConfig`."""

    def __init__(self, config: NormalizeConfig) -> None:
        self.config = config
        self._repeat = _repeat_pattern(config.max_repeat)

    def __call__(self, text: str) -> str:
        cfg = self.config
        if not cfg.enabled:
            return text
        # Cut early so that pathological inputs (100,000 characters) stay cheap;
        # the final cut below applies the exact limit.
        text = text[: cfg.max_chars * 4]
        text = unicodedata.normalize("NFC", text)
        if cfg.strip_html:
            text = html.unescape(_HTML_TAG.sub(" ", text))
        if cfg.strip_urls:
            text = _URL.sub(" ", text)
        if not text.isprintable():  # rare: only then look at each character
            text = "".join(" " if unicodedata.category(ch) in _DROP_CATEGORIES else ch for ch in text)
        if cfg.lowercase:
            text = text.lower()
        text = self._repeat.sub(lambda m: m.group(1) * cfg.max_repeat, text)
        text = _WHITESPACE.sub(" ", text).strip()
        return text[: cfg.max_chars].strip()
