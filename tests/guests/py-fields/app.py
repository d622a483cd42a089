"""A field-mode Python transform for the end-to-end tests
(tests/it/python.rs): it reads `text` and `n`, writes `text` and `len`,
filters records whose text is `drop`, emits two patched copies for `twice`,
and for `sneak` writes a field it did not declare, which the host refuses.
"""

import weir_guest


def tidy(record: dict) -> dict | list | None:
    text = record.get("text")
    if text == "drop":
        return None
    if text == "twice":
        return [{"text": "one"}, {"text": "two"}]
    if text == "sneak":
        return {"id": 0}
    if not isinstance(text, str):
        return {}
    record["text"] = " ".join(text.split()).lower()
    record["len"] = len(record["text"])
    return record


WitWorld = weir_guest.export(tidy, reads=["text", "n"], writes=["text", "len"])
