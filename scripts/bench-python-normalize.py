"""The plain CPython reference for scripts/bench python-guests: read gzip
NDJSON, `json.loads` each line, strip, lowercase and collapse the
whitespace of `text` (bench/python-normalize/app.py's work), `json.dumps`
it, write gzip level 6. No Weir code.

    python scripts/bench-python-normalize.py IN.ndjson.gz OUT.ndjson.gz
"""

import gzip
import json
import re
import sys

WHITESPACE = re.compile(r"\s+")


def main(source: str, target: str) -> None:
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    with gzip.open(source, "rt", encoding="utf-8") as lines, gzip.open(
        target, "wt", encoding="utf-8", compresslevel=6
    ) as out:
        for line in lines:
            record = json.loads(line)
            text = record.get("text")
            if isinstance(text, str):
                record["text"] = WHITESPACE.sub(" ", text.strip()).lower()
            out.write(dumps(record) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
