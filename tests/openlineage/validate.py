"""Validates OpenLineage events (one JSON object per line of a file) against
the spec's JSON schemas: the event against `RunEvent` of OpenLineage.json,
and every facet against the schema its `_schemaURL` names, which must be one
of the vendored files (tests/openlineage/spec) or Weir's own facet schema
(docs/openlineage/WeirRunFacet.json). Formats (uuid, date-time, uri) are
checked. Exits 1 naming the event, the facet and the violation.

    python validate.py EVENTS.ndjson
"""

import json
import pathlib
import sys

import jsonschema
from referencing import Registry, Resource

HERE = pathlib.Path(__file__).resolve().parent
WEIR_FACET = HERE.parent.parent / "docs" / "openlineage" / "WeirRunFacet.json"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def schemas():
    out = {}
    for path in sorted((HERE / "spec").rglob("*.json")):
        doc = json.loads(path.read_text())
        out[doc["$id"]] = doc
    return out


def facets(event):
    """(where, name, facet) for every facet of the event."""
    for name, f in (event["run"].get("facets") or {}).items():
        yield "run", name, f
    for name, f in (event["job"].get("facets") or {}).items():
        yield "job", name, f
    for side in ("inputs", "outputs"):
        for i, d in enumerate(event.get(side) or []):
            for key in ("facets", "inputFacets", "outputFacets"):
                for name, f in (d.get(key) or {}).items():
                    yield f"{side}[{i}].{key}", name, f


def main(path):
    docs = schemas()
    weir = json.loads(WEIR_FACET.read_text())
    errors = []
    lines = pathlib.Path(path).read_text().splitlines()
    for n, line in enumerate(lines, 1):
        event = json.loads(line)
        by_id = dict(docs)
        url = (event["run"].get("facets") or {}).get("weir", {}).get("_schemaURL", "")
        if url:
            base = url.split("#")[0]
            if not base.endswith("/docs/openlineage/WeirRunFacet.json"):
                errors.append(f"event {n}: weir facet's _schemaURL {url} is not docs/openlineage/WeirRunFacet.json")
            by_id[base] = {**weir, "$id": base}
        registry = Registry().with_resources(
            (i, Resource.from_contents(d)) for i, d in by_id.items()
        )

        def check(instance, ref, what):
            validator = jsonschema.Draft202012Validator(
                {"$ref": ref},
                registry=registry,
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            )
            for e in validator.iter_errors(instance):
                errors.append(f"event {n} ({event.get('eventType')}) {what}: {e.message} at {list(e.absolute_path)}")

        if event.get("schemaURL") != RUN_EVENT:
            errors.append(f"event {n}: schemaURL {event.get('schemaURL')!r} is not {RUN_EVENT}")
        check(event, RUN_EVENT, "event")
        for where, name, f in facets(event):
            ref = f.get("_schemaURL", "")
            if ref.split("#")[0] not in by_id:
                errors.append(f"event {n} {where}.{name}: _schemaURL {ref!r} names no known schema")
                continue
            # A facet schema's top level maps the facet's key to its definition.
            top = by_id[ref.split("#")[0]].get("properties", {})
            if name not in top:
                errors.append(f"event {n} {where}.{name}: the schema {ref} names the facet {sorted(top)}, not {name!r}")
                continue
            check({name: f}, ref.split("#")[0], f"{where}.{name}")
    if errors:
        print("\n".join(errors))
        sys.exit(1)
    print(f"{len(lines)} events valid")


if __name__ == "__main__":
    main(sys.argv[1])
