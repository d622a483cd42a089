"""py-redact: a Weir transform, in Python, that hides e-mail addresses and
phone numbers in the configured text fields, or drops the records that hold
any. See README.md for the configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import weir_guest

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A phone number candidate: an optional +, then digits in groups separated by
# single spaces, dots, dashes or parentheses. `is_phone` then asks for 7 to 15
# digits (E.164 allows at most 15) and rules out dates such as 2026-11-26.
PHONE = re.compile(r"(?<![\w+])(?:\+|\(\d)?\d*(?:[ .\-]?\(?\d+\)?)+(?!\w)")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    return 7 <= digits <= 15 and not DATE.fullmatch(text)


@dataclass
class Config:
    """The parsed configuration; `init` fails on anything it does not know."""

    fields: list[list[str]]
    email: bool = True
    phone: bool = True
    email_mask: str = "[email]"
    phone_mask: str = "[phone]"
    action: str = "redact"
    count_field: str | None = None

    @classmethod
    def parse(cls, raw: dict) -> "Config":
        known = set(cls.__dataclass_fields__)
        unknown = [k for k in raw if k not in known]
        if unknown:
            raise ValueError(f"unknown key `{unknown[0]}` (known: {', '.join(sorted(known))})")
        fields = raw.get("fields")
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
            raise ValueError("`fields` must be a non-empty list of field names (dotted paths)")
        config = cls(fields=[f.split(".") for f in fields])
        for key, kind in [("email", bool), ("phone", bool), ("email_mask", str), ("phone_mask", str)]:
            if key in raw:
                if not isinstance(raw[key], kind):
                    raise ValueError(f"`{key}` must be a {kind.__name__}")
                setattr(config, key, raw[key])
        action = raw.get("action", "redact")
        if action not in ("redact", "drop"):
            raise ValueError(f"`action` must be \"redact\" or \"drop\", not {action!r}")
        config.action = action
        count_field = raw.get("count_field")
        if count_field is not None and not (isinstance(count_field, str) and count_field):
            raise ValueError("`count_field` must be a field name")
        config.count_field = count_field
        return config


def redact_text(text: str, config: Config) -> tuple[str, int]:
    """`text` with every match masked, and how many matches there were."""
    found = 0
    if config.email:
        text, n = EMAIL.subn(config.email_mask, text)
        found += n
    if config.phone:

        def mask(m: re.Match) -> str:
            nonlocal found
            if not is_phone(m.group().strip()):
                return m.group()
            found += 1
            # Keep the whitespace around the number; mask only the number.
            lead = m.group()[: len(m.group()) - len(m.group().lstrip())]
            trail = m.group()[len(m.group().rstrip()) :]
            return lead + config.phone_mask + trail

        text = PHONE.sub(mask, text)
    return text, found


def redact(record: dict, config: Config) -> dict | None:
    found = 0
    for path in config.fields:
        parent = record
        for i, key in enumerate(path[:-1]):
            parent = parent.get(key)
            if parent is None:
                break
            if not isinstance(parent, dict):
                where = ".".join(path[: i + 1])
                raise TypeError(f"field `{'.'.join(path)}`: `{where}` is {kind(parent)}, not an object")
        else:
            value = parent.get(path[-1])
            if value is None and path[-1] not in parent:
                continue
            if not isinstance(value, str):
                raise TypeError(f"field `{'.'.join(path)}` is {kind(value)}, not a string")
            parent[path[-1]], n = redact_text(value, config)
            found += n
    if found and config.action == "drop":
        return None
    if config.count_field is not None:
        record[config.count_field] = found
    return record


def kind(value: object) -> str:
    """The JSON kind of a value, with its article, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


WitWorld = weir_guest.export(redact, init=Config.parse)
