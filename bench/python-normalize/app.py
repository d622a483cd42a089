"""The benchmark's Python normalize: strip, lowercase and collapse the
whitespace of `text`, the work of the Rust `normalize`. `{"fields": true}`
(the default) runs it in field mode, `{"fields": false}` on whole records;
scripts/bench python-guests times both against the same loop in plain
CPython (scripts/bench-python-normalize.py).
"""

import re

import weir_guest

WHITESPACE = re.compile(r"\s+")


def normalize(record: dict, config: dict) -> dict:
    text = record.get("text")
    if isinstance(text, str):
        record["text"] = WHITESPACE.sub(" ", text.strip()).lower()
    return record


def fields(config: dict) -> list | None:
    return ["text"] if config.get("fields", True) else None


WitWorld = weir_guest.export(normalize, init=dict, reads=fields, writes=fields)
