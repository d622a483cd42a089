#!/usr/bin/env python3
"""Writes a deterministic NDJSON benchmark interval for scripts/bench.

Each record is about 300 bytes: an id, a timestamp, a few numeric and
nested fields, and a sentence of English-like text drawn from a fixed
vocabulary with Zipf-like word frequencies (so it compresses about as real
log or event text does, gzip -6 ratio near 2.7).

For speed, one block of distinct records (about 1/10 of the target size) is
drawn with a fixed seed, then written `--copies` times; each copy gets new
ids and timestamps, so no two records are equal. Copies are tens of MB apart,
far beyond deflate's 32 KiB window, so the repetition does not help gzip.

Usage: gen-records.py OUT --bytes 500000000 [--seed 42] [--copies 10]
"""

import argparse
import json
import os
import random
import sys

WORDS = """
the of and to a in is that for it as was with be by on not he this are or his
from at which but have an they you were her she there been one all we their has
would when if so no will more can out up who what about some into them than then
its only other new time could these two may first any like our over also such
after most made way many before must through back years where much your well down
should because each just those people how too little state good very make world
still own see men work long get here between both life being under never day same
another know while last might us great old year off come since against go came
right used take three states himself few house use during without again place
american around however home small found mrs thought went say part once general
high upon school every don does got united left number course war until always
away something fact though water less public put think almost hand enough far
took head yet government system better set told nothing night end why called
didn eyes find going look asked later knew point next program city business give
group toward young days let room president side social given present several
order national possible rather second face per among form important often things
looking early white case john become large big need four within felt children
along saw best church ever least power development light thing seemed family
interest want members mind country area others done turned although open god
service problem certain kind different thus began door help means sense whole
matter perhaps itself york times law human line above name example action company
hands local show whether five history gave today either act feet across taken
past quite anything seen having death experience body word half really week field
car words already themselves information tell together college shall money period
held keep sure probably free seems real behind cannot miss political air question
making office brought whose special heard major problems ago became federal moment
study available known result street economic boy position reason change south
board individual job areas society west close turn love community true court force
full seem am front art table policy building running storage request latency
""".split()

COUNTRIES = ["US", "DE", "FR", "GB", "IN", "BR", "JP", "NL", "SE", "ES", "IT", "CA"]
LEVELS = ["info", "info", "info", "info", "debug", "warn", "error"]
EVENTS = ["click", "view", "search", "purchase", "signup", "logout", "share"]
NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil"]


SYLLABLES = """
ab ac ad al am an ar as at ba be bi bo ca ce ci co da de di do el em en er es
fa fe fi fo ga ge gi go ha he hi ho il im in ir is la le li lo ma me mi mo na
ne ni no ol om on or os pa pe pi po ra re ri ro sa se si so ta te ti to ul um
un ur us va ve vi vo
""".split()


def vocabulary(rng: random.Random) -> list[str]:
    """The common words first, then rarer made-up words, as a real text's long tail."""
    rare = set()
    while len(rare) < 6000:
        rare.add("".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))))
    return WORDS + sorted(rare)


def block(rng: random.Random, target: int) -> list[str]:
    """Record bodies (everything after the id and timestamp), about `target` bytes."""
    words_all = vocabulary(rng)
    weights = [1.0 / (rank + 8) for rank in range(len(words_all))]
    cum = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    bodies = []
    size = 0
    while size < target:
        words = rng.choices(words_all, cum_weights=cum, k=rng.randint(16, 24))
        words[0] = words[0].capitalize()
        body = json.dumps(
            {
                "level": rng.choice(LEVELS),
                "event": rng.choice(EVENTS),
                "session": f"{rng.getrandbits(48):012x}",
                "user": {
                    "name": rng.choice(NAMES) + str(rng.randint(1, 9999)),
                    "country": rng.choice(COUNTRIES),
                    "age": rng.randint(18, 90),
                },
                "score": round(rng.uniform(0, 1000), 2),
                "tags": rng.sample(EVENTS, 2),
                "text": " ".join(words) + ".",
            },
            separators=(",", ":"),
        )
        bodies.append(body[1:])  # without the opening brace
        size += len(body) + 30  # the id, the timestamp and the newline
    return bodies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--bytes", type=int, default=500_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    bodies = block(rng, args.bytes // args.copies)
    base = 1_795_996_800  # 2026-12-01T00:00:00Z
    tmp = args.out + ".tmp"
    written = 0
    records = 0
    with open(tmp, "w", encoding="ascii", buffering=1 << 22) as f:
        for copy in range(args.copies):
            first = copy * len(bodies)
            lines = [
                f'{{"id":{first + i},"ts":{base + (first + i) // 20},{body}\n'
                for i, body in enumerate(bodies)
            ]
            chunk = "".join(lines)
            f.write(chunk)
            written += len(chunk)
            records += len(lines)
    os.replace(tmp, args.out)
    print(f"{args.out}: {records} records, {written} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
