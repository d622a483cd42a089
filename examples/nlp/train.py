#!/usr/bin/env python3
"""Trains the NLP example's two models and writes them as the assets its
pipeline uses. Run with the test venv (scikit-learn, skl2onnx; scripts/setup
makes it):

    .venv/bin/python examples/nlp/train.py            # rewrites assets/categorize/ and assets/score/
    .venv/bin/python examples/nlp/train.py --check    # exit 1 unless that reproduces the committed files

Both are trained on 3,000 labeled tickets from `gen_tickets.tickets` (a seed
of their own, without typos: past tickets whose category and priority the
support team settled):

- assets/categorize/tickets-nb.json, for the `categorize` step:
  `TfidfVectorizer(stop_words="english", min_df=2)` + `MultinomialNB(alpha=0.1)`
  on the subject and text joined by a newline (what the transform does with
  `fields = ["subject", "text"]`), exported by
  transforms/categorize/export_sklearn.py.
- assets/score/priority.onnx, for the `score` step: a
  `GradientBoostingClassifier` (40 trees of depth 2) predicting "high" or
  "normal" priority from nine numbers: the five category probabilities the
  categorize step writes (here out-of-fold, from 5-fold cross-validation, so
  they are as sure as on unseen tickets), then `customer.tenure_months`,
  `order.total`, `order.days_since_order` and `previous_contacts`; exported
  with skl2onnx (float input, no ZipMap).

Naive Bayes and trees need no BLAS and the splits are seeded, so the files
come out byte for byte the same for the pinned versions
(scripts/requirements-test.txt); `--check` is how the end-to-end test knows
the committed files are what this script makes.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import make_pipeline
from skl2onnx import to_onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "transforms" / "categorize"))
import export_sklearn  # noqa: E402
from gen_tickets import CATEGORIES, tickets  # noqa: E402

TRAIN_SEED = 7
TRAIN_TICKETS = 3000
CATEGORIZE = Path("categorize") / "tickets-nb.json"
SCORE = Path("score") / "priority.onnx"
# The score model's input columns, in order: the `inputs` of the score step.
NUMERIC = [("customer", "tenure_months"), ("order", "total"), ("order", "days_since_order"),
           ("previous_contacts",)]


def field(record, path):
    for key in path:
        record = record[key]
    return record


def training_set():
    """The labeled tickets, and their text as the categorize step sees it."""
    train_set = tickets(TRAIN_SEED, TRAIN_TICKETS)
    return train_set, [f"{t['subject']}\n{t['text']}" for t in train_set]


def categorizer(texts, categories):
    """The fitted scikit-learn pipeline behind assets/categorize/ (also what
    scripts/bench measures the transform against)."""
    pipeline = make_pipeline(TfidfVectorizer(stop_words="english", min_df=2),
                             MultinomialNB(alpha=0.1))
    pipeline.fit(texts, categories)
    assert list(pipeline.classes_) == sorted(CATEGORIES)
    return pipeline


def train(assets):
    """Fits both models on the training tickets and writes them under `assets`."""
    train_set, texts = training_set()
    categories = [t["category"] for t in train_set]
    categorize = categorizer(texts, categories)
    (assets / CATEGORIZE).parent.mkdir(parents=True, exist_ok=True)
    export_sklearn.export(categorize, str(assets / CATEGORIZE))

    probabilities = cross_val_predict(categorize, texts, categories, method="predict_proba",
                                      cv=KFold(5, shuffle=True, random_state=TRAIN_SEED))
    numbers = np.array([[field(t, path) for path in NUMERIC] for t in train_set], dtype=float)
    X = np.hstack([probabilities, numbers]).astype(np.float32)
    y = np.array([t["priority"] for t in train_set])
    score = GradientBoostingClassifier(n_estimators=40, max_depth=2, random_state=TRAIN_SEED)
    score.fit(X, y)
    onx = to_onnx(score, X[:1], options={id(score): {"zipmap": False}})
    # skl2onnx lists the opsets in the order of a Python set, which changes
    # with the interpreter's hash seed: put them in a fixed order.
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)
    (assets / SCORE).parent.mkdir(parents=True, exist_ok=True)
    (assets / SCORE).write_bytes(onx.SerializeToString())

    accuracy = (categorize.predict(texts) == np.array(categories)).mean()
    print(f"categorize: {len(categorize[0].vocabulary_)} terms, training accuracy {accuracy:.3f}")
    print(f"score: priority high in {(y == 'high').mean():.0%} of tickets, "
          f"training accuracy {score.score(X, y):.3f}")


def main(argv):
    if argv[1:] == ["--check"]:
        with tempfile.TemporaryDirectory() as tmp:
            train(Path(tmp))
            stale = [str(HERE / "assets" / f) for f in (CATEGORIZE, SCORE)
                     if (Path(tmp) / f).read_bytes() != (HERE / "assets" / f).read_bytes()]
        if stale:
            sys.exit(f"not what train.py makes: {', '.join(stale)} (run it and commit the result)")
        print("the committed assets are what train.py makes")
    elif argv[1:]:
        sys.exit("usage: train.py [--check]")
    else:
        train(HERE / "assets")


if __name__ == "__main__":
    main(sys.argv)
