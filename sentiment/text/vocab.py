"""Token vocabulary: index 0 is padding, index 1 is out-of-vocabulary."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

PAD = "<pad>"
OOV = "<unk>"
PAD_ID = 0
OOV_ID = 1


class Vocabulary:
    """Maps tokens to integer ids; saved as JSON inside the model bundle."""

    def __init__(self, tokens: Iterable[str]) -> None:
        tokens = [t for t in tokens if t not in (PAD, OOV)]
        self.tokens: list[str] = [PAD, OOV, *tokens]
        self.index: dict[str, int] = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Token ids (int32); unknown tokens map to 1, an empty text to ``[1]``."""
        get = self.index.get
        ids = [get(token, OOV_ID) for token in tokens] or [OOV_ID]
        return np.asarray(ids, dtype=np.int32)

    def encode_many(self, token_lists: Iterable[Sequence[str]]) -> list[np.ndarray]:
        return [self.encode(tokens) for tokens in token_lists]

    def to_json(self) -> str:
        return json.dumps({"pad_id": PAD_ID, "oov_id": OOV_ID, "tokens": self.tokens}, ensure_ascii=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        tokens = data["tokens"]
        if tokens[:2] != [PAD, OOV]:
            raise ValueError(f"{path}: vocabulary must start with {PAD!r}, {OOV!r}")
        return cls(tokens[2:])
