"""{{name}}: a Weir transform in Python. It stamps every record with a
configured field and value, and rejects records without an `id`.

Edit `tag` (and `configure`) to make it yours; see README.md for the loop of
editing, testing and building.
"""

import weir_guest


def configure(config: dict) -> dict:
    """Checks the configuration (`config.json`) once per instance. An
    exception here fails the run before any output is written."""
    unknown = set(config) - {"field", "value"}
    if unknown:
        raise ValueError(f"unknown config keys: {sorted(unknown)}")
    if not isinstance(config.get("field"), str):
        raise ValueError("`field` must be a string")
    return config


def tag(record: dict, config: dict) -> dict | None:
    """Stamps one record. An exception quarantines this record alone; return
    None to filter it out, or a list of dicts to emit several."""
    if "id" not in record:
        raise KeyError("record has no `id`")
    record[config["field"]] = config.get("value")
    return record


# componentize-py exports `WitWorld`.
WitWorld = weir_guest.export(tag, init=configure)
