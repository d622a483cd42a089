"""The data and the symspellpy side of `scripts/bench spelling`.

  bench-spelling.py prepare DIR   writes DIR/misspellings.tsv and DIR/corpus.txt
  bench-spelling.py report DIR    runs symspellpy on the same words and prints the
                                  markdown table (with DIR/weir.json, which
                                  `cargo bench -p spellcheck --bench accuracy -- DIR` writes)

Misspellings: codespell's dictionary (`codespell_lib/data/dictionary.txt`, the
`codespell` package on PYTHONPATH), the entries whose misspelling is one word of
ASCII letters and that have exactly one correction, itself one word. Correct
text: the licence texts every Debian system ships in /usr/share/common-licenses
(the GPL, LGPL, GFDL, Apache, Artistic, MPL, BSD and CC0 texts; the files, not
their symlinked aliases), a paragraph a line: English prose nobody here wrote.
"""

import importlib.resources
import json
import os
import re
import sys
import time

LICENSES = "/usr/share/common-licenses"


def prepare(out):
    import codespell_lib  # noqa: F401 (the package must be importable)

    data = importlib.resources.files("codespell_lib") / "data" / "dictionary.txt"
    entries = 0
    with open(os.path.join(out, "misspellings.tsv"), "w") as f:
        for line in data.read_text().splitlines():
            word, _, fixes = line.partition("->")
            fixes = [x.strip() for x in fixes.split(",") if x.strip()]
            if len(fixes) != 1 or not re.fullmatch(r"[a-z]+", word):
                continue
            if not re.fullmatch(r"[a-z]+(?:'[a-z]+)*", fixes[0]):
                continue
            f.write(f"{word}\t{fixes[0]}\n")
            entries += 1
    paragraphs = 0
    with open(os.path.join(out, "corpus.txt"), "w") as f:
        for name in sorted(os.listdir(LICENSES)):
            path = os.path.join(LICENSES, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            text = open(path, encoding="utf-8", errors="replace").read()
            for block in re.split(r"\n\s*\n", text):
                block = " ".join(block.split())
                if block:
                    f.write(block + "\n")
                    paragraphs += 1
    print(f"bench: {entries} misspellings, {paragraphs} paragraphs of licence text", file=sys.stderr)


def report(out):
    from symspellpy import SymSpell, Verbosity

    path = str(importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt")
    sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    sym.load_dictionary(path, term_index=0, count_index=1)

    def top(word):
        found = sym.lookup(word, Verbosity.TOP, max_edit_distance=2)
        return found[0].term if found else word

    started = time.perf_counter()
    right = wrong = kept = 0
    misspellings = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "misspellings.tsv"))]
    for word, fix in misspellings:
        got = top(word)
        if got == fix:
            right += 1
        elif got != word:
            wrong += 1
        else:
            kept += 1
    words = open(os.path.join(out, "corpus-words.txt")).read().split("\n")[:-1]
    damaged = {}
    for word in words:
        lower = word.lower().replace("\u2019", "'")
        if len(lower) < 3:
            continue
        got = top(lower)
        if got != lower:
            damaged[(word, got)] = damaged.get((word, got), 0) + 1
    rows = [json.loads(l) for l in open(os.path.join(out, "weir.json"))]
    rows.append({
        "name": "symspellpy 6.10.1 (`lookup(word.lower(), TOP, 2)`, words of 3 letters or more)",
        "misspellings": len(misspellings), "right": right, "wrong": wrong, "kept": kept,
        "corpus_words": len(words), "damaged": sum(damaged.values()),
        "damaged_examples": [f"{w}→{g} ×{n}" for (w, g), n in
                             sorted(damaged.items(), key=lambda x: (-x[1], x[0]))[:15]],
        "seconds": time.perf_counter() - started,
    })
    print("| corrector | misspellings right | wrong | kept | correct words damaged |")
    print("|---|---|---|---|---|")
    for r in rows:
        n, c = r["misspellings"], r["corpus_words"]
        print(f"| {r['name']} | {r['right']} (**{100 * r['right'] / n:.1f}%**) | "
              f"{r['wrong']} ({100 * r['wrong'] / n:.1f}%) | {r['kept']} ({100 * r['kept'] / n:.1f}%) | "
              f"{r['damaged']} of {c} (**{100 * r['damaged'] / c:.2f}%**) |")
    print()
    print("The correct words each changed most often (word→what it became ×times):")
    print()
    for r in rows:
        print(f"- {r['name']}: {', '.join(r['damaged_examples']) or 'none'}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("prepare", "report"):
        sys.exit(__doc__)
    os.makedirs(sys.argv[2], exist_ok=True)
    (prepare if sys.argv[1] == "prepare" else report)(sys.argv[2])
