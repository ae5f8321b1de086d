"""Token-level explanations: which morphemes made the model call a text what it did.

Method: leave-one-token-out occlusion. For a text of ``n`` tokens, the model
scores ``n + 1`` id sequences in one batch: the text, and the text with each
token removed. A token's contribution is

    p(predicted class | text) - p(predicted class | text without the token)

so a positive value means the token pushed the model towards its prediction,
a negative one away from it. It is faithful by construction (it is what the
model does when the token is absent) and cheap: one batched forward pass of
``n + 1`` short sequences per text, through the same
:meth:`SentimentClassifier.predict_ids` as scoring. Tokens that the sequence
length cut (``sequence.maxlen``) does not let the model see contribute exactly 0.

Each token carries its ``[start, end)`` in the original text
(:meth:`Tokenizer.spans`; see there for the approximations).
:func:`deletion_test` measures faithfulness: deleting the top-k tokens by
attribution against deleting k random tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..text.vocab import OOV_ID

if TYPE_CHECKING:
    from ..model.fitted import FittedClassifier


@dataclass(frozen=True)
class TokenContribution:
    """One token: its morpheme, where it is in the original text, and its contribution to the prediction."""

    token: str
    start: int
    end: int
    text: str  # the original text's characters at [start, end)
    contribution: float


@dataclass(frozen=True)
class Explanation:
    """The prediction for one text and each token's contribution to it."""

    text: str
    label: Any  # the predicted class (a value of ``classes_``)
    probability: float  # of ``label``
    probabilities: dict[str, float]
    tokens: tuple[TokenContribution, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tokens": [asdict(t) for t in self.tokens]}


def explain(clf: FittedClassifier, texts: Iterable[str], batch_size: int = 1024) -> list[Explanation]:
    """Leave-one-token-out explanations of ``clf``'s predictions for ``texts`` (one batched pass)."""
    from ..text.checks import check_texts

    texts = check_texts(texts)
    spans = [clf.tokenizer_.spans(text) for text in texts]
    ids = [clf.vocabulary_.encode([s.token for s in text_spans]) for text_spans in spans]
    windows = [
        visible(len(text_spans), clf.config_.sequence.maxlen, clf.config_.sequence.truncating) for text_spans in spans
    ]
    sequences: list[np.ndarray] = []
    for seq, window in zip(ids, windows):
        sequences.append(seq)
        sequences.extend(without(seq, [i]) for i in window)
    proba = clf.predict_ids(sequences, batch_size=batch_size) if sequences else np.zeros((0, clf.n_classes_))
    out, row = [], 0
    for text, text_spans, window in zip(texts, spans, windows):
        full = proba[row]
        pred = int(full.argmax())
        contributions = np.zeros(len(text_spans))
        contributions[window] = full[pred] - proba[row + 1 : row + 1 + len(window), pred]
        row += 1 + len(window)
        tokens = tuple(
            TokenContribution(s.token, s.start, s.end, text[s.start : s.end], round(float(c), 6))
            for s, c in zip(text_spans, contributions)
        )
        out.append(
            Explanation(
                text,
                _plain(clf.classes_[pred]),
                round(float(full[pred]), 6),
                {str(c): round(float(p), 6) for c, p in zip(clf.classes_.tolist(), full)},
                tokens,
            )
        )
    return out


def visible(n: int, maxlen: int, truncating: str) -> list[int]:
    """Positions of an ``n``-token text that the model sees after truncation to ``maxlen`` ('pre' keeps the end)."""
    if n <= maxlen:
        return list(range(n))
    return list(range(n - maxlen, n)) if truncating == "pre" else list(range(maxlen))


def without(seq: np.ndarray, positions: Sequence[int]) -> np.ndarray:
    """``seq`` with the tokens at ``positions`` removed; removing all leaves the encoding of no tokens ([OOV])."""
    rest = np.delete(seq, list(positions))
    return rest if len(rest) else np.asarray([OOV_ID], dtype=np.int32)


def deletion_test(
    clf: FittedClassifier, texts: Iterable[str], k: int = 3, repeats: int = 10, seed: int = 0
) -> dict[str, Any]:
    """Faithfulness: how far the predicted class's probability falls when each text loses its top-``k`` tokens
    by attribution, against losing ``k`` tokens drawn at random (``repeats`` draws per text).

    Only texts with more than ``k`` tokens take part. Returns the mean drops, their ratio and the share of
    texts where the top-k deletion moved the probability more than the mean random deletion.
    """
    rng = np.random.default_rng(seed)
    explanations = [e for e in explain(clf, texts) if len(e.tokens) > k]
    if not explanations:
        raise ValueError(f"no text has more than k={k} tokens")
    label_index = {str(c): j for j, c in enumerate(clf.classes_.tolist())}
    sequences, preds = [], []
    for e in explanations:
        seq = clf.vocabulary_.encode([t.token for t in e.tokens])
        order = np.argsort([-t.contribution for t in e.tokens], kind="stable")
        sequences.append(seq)
        sequences.append(without(seq, order[:k]))
        sequences.extend(without(seq, rng.choice(len(seq), size=k, replace=False)) for _ in range(repeats))
        preds.append(label_index[str(e.label)])
    proba = clf.predict_ids(sequences).reshape(len(explanations), 2 + repeats, -1)
    p = proba[np.arange(len(explanations)), :, preds]  # (texts, 2 + repeats): full, top-k removed, random removed
    top_drop = p[:, 0] - p[:, 1]
    random_drop = (p[:, :1] - p[:, 2:]).mean(axis=1)
    return {
        "k": k,
        "texts": len(explanations),
        "repeats": repeats,
        "top_k_drop_mean": float(top_drop.mean()),
        "random_k_drop_mean": float(random_drop.mean()),
        "ratio": float(top_drop.mean() / random_drop.mean()) if random_drop.mean() > 0 else float("inf"),
        "share_top_k_larger": float((top_drop > random_drop).mean()),
    }


# -- output ---------------------------------------------------------------------------
def to_json(explanations: Sequence[Explanation]) -> str:
    return json.dumps([e.to_dict() for e in explanations], ensure_ascii=False, indent=2)


def format_terminal(explanations: Sequence[Explanation], colour: bool = True, top: int = 5) -> str:
    """Each text with its tokens coloured (green: towards the predicted label, red: away from it), then the
    strongest tokens with their contributions."""
    lines = []
    for e in explanations:
        lines.append(f"{e.label} (p={e.probability:.3f})  {highlight_ansi(e) if colour else e.text}")
        ranked = sorted(e.tokens, key=lambda t: -abs(t.contribution))[:top]
        lines.append("    " + "  ".join(f"{t.token} {t.contribution:+.3f}" for t in ranked))
    if colour and explanations:
        lines.append("(green: pushes towards the predicted label, red: away from it)")
    return "\n".join(lines)


def highlight_ansi(e: Explanation) -> str:
    """The original text with each token's span on a 256-colour background scaled by its contribution."""
    scale = max((abs(t.contribution) for t in e.tokens), default=0.0) or 1.0
    greens, reds = (22, 28, 34, 40), (52, 88, 124, 160)
    parts, cursor = [], 0
    for t in e.tokens:
        if t.start < cursor or abs(t.contribution) < 0.05 * scale:  # shared span already drawn, or negligible
            continue
        level = min(3, int(4 * abs(t.contribution) / scale))
        code = (greens if t.contribution > 0 else reds)[level]
        parts.append(e.text[cursor : t.start])
        parts.append(f"\x1b[48;5;{code}m\x1b[97m{e.text[t.start : t.end]}\x1b[0m")
        cursor = t.end
    parts.append(e.text[cursor:])
    return "".join(parts)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
