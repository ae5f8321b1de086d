#!/usr/bin/env python
"""Write audits of a model's training files into its model card (section "Label audit of the training data").

    python scripts/audit_card.py --model sentiment/default_model \\
        "NSMC train.tsv.gz=reports/audit/nsmc-train.json" "shopping=reports/audit/shopping.json" ...

Each NAME=JSON is the output of `sentiment audit --data FILE --no-model --json`. The card and meta.json's checksums
are rewritten in place (`sentiment.model.bundle.set_card_section`); `make docs` then copies the packaged card into
docs/model-card.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment.model.bundle import set_card_section
from sentiment.training.audit import card_section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="bundle directory whose card to update")
    parser.add_argument("audits", nargs="+", metavar="NAME=JSON", help="an audit summary and the name of its file")
    args = parser.parse_args()
    summaries = {}
    for spec in args.audits:
        name, sep, path = spec.rpartition("=")
        if not sep:
            parser.error(f"{spec!r}: expected NAME=JSON")
        summaries[name] = json.loads(Path(path).read_text(encoding="utf-8"))
    set_card_section(args.model, "Label audit of the training data", card_section(summaries))
    print(f"wrote the section 'Label audit of the training data' into {args.model}/MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
