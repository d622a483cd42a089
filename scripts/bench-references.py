#!/usr/bin/env python3
"""The Python references `scripts/bench transforms` measures Weir's
transforms against, each on the same NDJSON records `weir run` reads. Run
with the test venv (scripts/requirements-test.txt):

    bench-references.py spellcheck RECORDS.ndjson DICTIONARY.txt
    bench-references.py spellcheck-memo RECORDS.ndjson DICTIONARY.txt
    bench-references.py fit-categorize MODEL.joblib      (once, before measuring)
    bench-references.py categorize RECORDS.ndjson MODEL.joblib
    bench-references.py model-apply RECORDS.ndjson MODEL.onnx

- spellcheck: symspellpy's `SymSpell(2, 7)` with the dictionary loaded, then
  `lookup(word.lower(), Verbosity.TOP, max_edit_distance=2)` on every word
  of each record's `text` (a run of letters, apostrophes inside it allowed),
  one word at a time.
- spellcheck-memo: the same, with the one memo the transform keeps
  (transforms/spellcheck/src/dictionary.rs, `memo_words`) and nothing more:
  a word in the dictionary (`word in speller.words`, the transform's
  one-probe `contains`) is looked up as above, every time; any other word's
  answer is remembered in a dict keyed by the lowercased word, which is
  emptied when it holds 65,536 words before the next is added, as the
  transform's memo is at its default size.
- categorize: the scikit-learn pipeline behind examples/nlp's categorize
  asset (fitted as examples/nlp/train.py does by `fit-categorize`, loaded
  with joblib as the init), on a pandas frame from `pd.read_json(lines=True)`:
  `predict_proba` of subject and text joined by a newline, the labels by
  argmax of it (what `predict` computes, without vectorizing twice).
- model-apply: onnxruntime on one thread (`intra_op_num_threads = 1`), the
  nine features examples/nlp's score step reads gathered into one float32
  matrix, and the whole matrix run in one batch.

Prints one line of space-separated numbers: records, then wall and CPU
seconds of the init (loading the dictionary or model), of reading the
records (parsing them into what the library takes), and of the work itself;
then the growth of the resident set over the init, and the process's peak
resident set, in KiB. Nothing is written out.
"""

import json
import os
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("account", "billing", "returns", "shipping", "technical")
# The score step's inputs, in the order of examples/nlp/pipeline.toml.
FEATURES = [("category_scores", c) for c in CATEGORIES] + [
    ("customer", "tenure_months"), ("order", "total"), ("order", "days_since_order"),
    ("previous_contacts",)]


class Timed:
    """Wall and CPU seconds of a `with` block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def load_speller(records, dictionary):
    """symspellpy loaded (the timed init) and the records' texts (the timed
    read), as both spellcheck references start."""
    from symspellpy import SymSpell
    before = rss_kib()
    with Timed() as init:
        speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        if not speller.load_dictionary(dictionary, term_index=0, count_index=1):
            sys.exit(f"cannot load {dictionary}")
    grown = rss_kib() - before
    with Timed() as read, open(records, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    return speller, texts, init, read, grown


WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")


def spellcheck(records, dictionary):
    from symspellpy import Verbosity
    word = WORD
    speller, texts, init, read, grown = load_speller(records, dictionary)
    with Timed() as work:
        for text in texts:
            for w in word.findall(text):
                speller.lookup(w.lower(), Verbosity.TOP, max_edit_distance=2)
    return len(texts), init, read, work, grown


# The transform's default `memo_words` (transforms/spellcheck/src/dictionary.rs).
MEMO_WORDS = 1 << 16


def spellcheck_memo(records, dictionary):
    from symspellpy import Verbosity
    word = WORD
    speller, texts, init, read, grown = load_speller(records, dictionary)
    words, memo = speller.words, {}
    with Timed() as work:
        for text in texts:
            for w in word.findall(text):
                w = w.lower()
                if w in words:
                    speller.lookup(w, Verbosity.TOP, max_edit_distance=2)
                    continue
                if w in memo:
                    continue
                if len(memo) >= MEMO_WORDS:
                    memo.clear()
                memo[w] = speller.lookup(w, Verbosity.TOP, max_edit_distance=2)
    return len(texts), init, read, work, grown


def fit_categorize(out):
    """Fits the categorize pipeline and pickles it (before the measurements,
    so that fitting shows in no figure)."""
    import joblib
    sys.path.insert(0, str(ROOT / "examples" / "nlp"))
    import train
    train_set, texts = train.training_set()
    joblib.dump(train.categorizer(texts, [t["category"] for t in train_set]), out)


def categorize(records, model):
    import joblib
    import numpy as np
    import pandas as pd
    import sklearn.feature_extraction.text  # noqa: F401  (imports are not the init)
    import sklearn.naive_bayes  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    before = rss_kib()
    with Timed() as init:
        pipeline = joblib.load(model)
    grown = rss_kib() - before
    with Timed() as read:
        frame = pd.read_json(records, lines=True, dtype=False)
    with Timed() as work:
        probabilities = pipeline.predict_proba(frame["subject"] + "\n" + frame["text"])
        labels = pipeline.classes_[np.argmax(probabilities, axis=1)]
    assert len(labels) == len(frame)
    return len(frame), init, read, work, grown


def model_apply(records, model):
    import numpy as np
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    before = rss_kib()
    with Timed() as init:
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    grown = rss_kib() - before
    with Timed() as read, open(records, encoding="utf-8") as f:
        rows = []
        for line in f:
            record = json.loads(line)
            row = []
            for path in FEATURES:
                value = record
                for key in path:
                    value = value[key]
                row.append(value)
            rows.append(row)
        X = np.array(rows, dtype=np.float32)
    with Timed() as work:
        label, probabilities = session.run(None, {session.get_inputs()[0].name: X})
    assert len(label) == len(X)
    return len(X), init, read, work, grown


def main(argv):
    measures = {"spellcheck": (spellcheck, 2), "spellcheck-memo": (spellcheck_memo, 2),
                "categorize": (categorize, 2),
                "model-apply": (model_apply, 2), "fit-categorize": (fit_categorize, 1)}
    if len(argv) < 2 or argv[1] not in measures or len(argv) != 2 + measures[argv[1]][1]:
        sys.exit(__doc__.split("\n\n")[1])
    if argv[1] == "fit-categorize":
        return fit_categorize(argv[2])
    n, init, read, work, grown = measures[argv[1]][0](*argv[2:])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(n, *(f"{t:.4f}" for p in (init, read, work) for t in (p.wall, p.cpu)), grown, peak)


if __name__ == "__main__":
    main(sys.argv)
