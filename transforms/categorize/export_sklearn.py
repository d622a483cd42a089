#!/usr/bin/env python3
"""Export a fitted scikit-learn text-classification pipeline as a model asset
for Weir's `categorize` transform.

Supported pipelines (`sklearn.pipeline.Pipeline`, e.g. from `make_pipeline`):

    CountVectorizer | TfidfVectorizer | CountVectorizer + TfidfTransformer
    followed by MultinomialNB | ComplementNB | LogisticRegression | LinearSVC | SGDClassifier

The vectorizer must use the char or char_wb analyzer, or the word analyzer with the default `token_pattern`
(`(?u)\\b\\w\\w+\\b`), no custom `preprocessor` or `tokenizer`, and
`strip_accents` None, "unicode" or "ascii"; `lowercase`, `ngram_range`, `stop_words` (a list or
"english"), `binary`, `min_df`/`max_df`/`max_features` (they only shape
the vocabulary), and for tf-idf `norm` ("l1", "l2" or None), `use_idf`,
`smooth_idf` and `sublinear_tf` are all carried over. LogisticRegression
must be binary or multinomial (any solver but liblinear for three or more
classes). Anything else raises `UnsupportedPipeline` naming the setting.

The asset is one JSON document:

    {"format": "weir-categorize/sklearn", "version": 1,
     "sklearn_version": "1.9.1",
     "vectorizer": {"analyzer": "word" | "char" | "char_wb", "lowercase": true, "token_pattern": "(?u)\\\\b\\\\w\\\\w+\\\\b",
                    "ngram_range": [1, 2], "stop_words": ["a", ...] | null,
                    "strip_accents": null | "unicode" | "ascii",
                    "binary": false,
                    "vocabulary": ["term for column 0", "term for column 1", ...],
                    "tfidf": null | {"idf": [...] | null, "sublinear_tf": false,
                                     "norm": "l2" | "l1" | null}},
     "classifier": {"kind": "multinomial_nb", "classes": [...],
                    "class_log_prior": [...], "feature_log_prob": [[...], ...]}
                 | {"kind": "complement_nb", "classes": [...],
                    "feature_log_prob": [[...], ...]}
                 | {"kind": "logistic_regression" | "linear_decision", "classes": [...],
                    "coef": [[...], ...], "intercept": [...]}}

Floats are written with Python's shortest round-trip repr, so the transform
reads back exactly the fitted values.

Use it from Python:

    from export_sklearn import export
    export(pipeline, "assets/model.json")

or on a pickled pipeline (joblib or pickle):

    python export_sklearn.py pipeline.joblib assets/model.json

`python export_sklearn.py --word-table` prints `src/word_table.rs`, the
table of characters Python's `re` counts as `\\w`, for the running CPython.
"""

import json
import math
import sys

FORMAT = "weir-categorize/sklearn"
VERSION = 1
DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


class UnsupportedPipeline(ValueError):
    """The pipeline uses a step or setting the transform does not implement."""


def _floats(values, what):
    out = [float(v) for v in values]
    if not all(math.isfinite(v) for v in out):
        raise UnsupportedPipeline(f"{what} holds a value that is not finite")
    return out


def _labels(classes):
    labels = classes.tolist()
    for label in labels:
        if not isinstance(label, (str, int, bool)):
            raise UnsupportedPipeline(f"class label {label!r} is not a string or integer")
    return labels


def _function_name(function):
    """``module.qualname`` of a function (or a callable object's class)."""
    target = function if hasattr(function, "__qualname__") else type(function)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", repr(function))
    return f"{module}.{qualname}" if module else qualname


def _vectorizer(vectorizer):
    name = type(vectorizer).__name__
    if callable(vectorizer.analyzer):
        raise UnsupportedPipeline(
            f"{name}.analyzer is the function {_function_name(vectorizer.analyzer)}; the transform "
            "has only scikit-learn's own analyzers ('word', 'char', 'char_wb')"
        )
    analyzer = vectorizer.analyzer
    if analyzer not in ("word", "char", "char_wb"):
        raise UnsupportedPipeline(f"{name}.analyzer={analyzer!r}; only 'word', 'char' or 'char_wb'")
    # A custom function first: it usually comes with token_pattern=None,
    # and the pattern is not what the user needs to hear about.
    for setting in ("preprocessor", "tokenizer"):
        function = getattr(vectorizer, setting)
        if function is not None:
            raise UnsupportedPipeline(
                f"{name}.{setting} is the function {_function_name(function)}; the transform cannot "
                f"run Python, so it has only scikit-learn's own (no {setting}, the default token_pattern)"
            )
    if analyzer == "word" and vectorizer.token_pattern != DEFAULT_TOKEN_PATTERN:
        raise UnsupportedPipeline(
            f"{name}.token_pattern={vectorizer.token_pattern!r}; only the default {DEFAULT_TOKEN_PATTERN!r}"
        )
    strip_accents = vectorizer.strip_accents
    if callable(strip_accents):
        raise UnsupportedPipeline(
            f"{name}.strip_accents is the function {_function_name(strip_accents)}; only 'unicode', "
            "'ascii' or None"
        )
    if strip_accents not in (None, "unicode", "ascii"):
        raise UnsupportedPipeline(f"{name}.strip_accents={strip_accents!r}; only 'unicode', 'ascii' or None")
    if vectorizer.input != "content":
        raise UnsupportedPipeline(f"{name}.input={vectorizer.input!r}; only 'content'")
    stop_words = vectorizer.get_stop_words()
    vocabulary = [None] * len(vectorizer.vocabulary_)
    for term, column in vectorizer.vocabulary_.items():
        vocabulary[column] = term
    word = analyzer == "word"
    return {
        "analyzer": analyzer,
        "lowercase": bool(vectorizer.lowercase),
        # Character analyzers use neither (scikit-learn ignores them).
        "token_pattern": vectorizer.token_pattern if word else None,
        "ngram_range": [int(n) for n in vectorizer.ngram_range],
        "stop_words": None if stop_words is None or not word else sorted(stop_words),
        "strip_accents": strip_accents,
        "binary": bool(vectorizer.binary),
        "vocabulary": vocabulary,
        "tfidf": None,
    }


def _tfidf(transformer):
    norm = transformer.norm
    if norm not in ("l1", "l2", None):
        raise UnsupportedPipeline(f"norm={norm!r}; only 'l1', 'l2' or None")
    return {
        "idf": _floats(transformer.idf_, "idf_") if transformer.use_idf else None,
        "sublinear_tf": bool(transformer.sublinear_tf),
        "norm": norm,
    }


def _classifier(classifier):
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.svm import LinearSVC
    from sklearn.naive_bayes import ComplementNB, MultinomialNB

    classes = _labels(classifier.classes_)
    if isinstance(classifier, ComplementNB):
        # Its joint log-likelihood is the features against
        # `feature_log_prob_` alone: scikit-learn adds the class prior only
        # for a single class, which a classifier here never has.
        if len(classes) < 2:
            raise UnsupportedPipeline("ComplementNB fitted on a single class")
        return {
            "kind": "complement_nb",
            "classes": classes,
            "feature_log_prob": [
                _floats(row, "feature_log_prob_") for row in classifier.feature_log_prob_
            ],
        }
    if isinstance(classifier, MultinomialNB):
        return {
            "kind": "multinomial_nb",
            "classes": classes,
            "class_log_prior": _floats(classifier.class_log_prior_, "class_log_prior_"),
            "feature_log_prob": [
                _floats(row, "feature_log_prob_") for row in classifier.feature_log_prob_
            ],
        }
    if isinstance(classifier, LogisticRegression):
        multi_class = getattr(classifier, "multi_class", "deprecated")
        ovr = multi_class == "ovr" or (
            multi_class == "auto" and classifier.solver == "liblinear"
        )
        if len(classes) > 2 and ovr:
            raise UnsupportedPipeline(
                "LogisticRegression is one-vs-rest; fit it multinomial (a solver other than liblinear)"
            )
        return {
            "kind": "logistic_regression",
            "classes": classes,
            "coef": [_floats(row, "coef_") for row in classifier.coef_],
            "intercept": _floats(classifier.intercept_, "intercept_"),
        }
    if isinstance(classifier, (LinearSVC, SGDClassifier)):
        # decision_function: features against coef_ plus intercept_, as
        # LogisticRegression's; one-vs-rest for three or more classes.
        return {
            "kind": "linear_decision",
            "classes": classes,
            "coef": [_floats(row, "coef_") for row in classifier.coef_],
            "intercept": _floats(classifier.intercept_, "intercept_"),
        }
    raise UnsupportedPipeline(
        f"classifier {type(classifier).__name__}; only MultinomialNB, ComplementNB, "
        "LogisticRegression, LinearSVC or SGDClassifier"
    )


def to_asset(pipeline):
    """The model asset for a fitted pipeline, as a JSON-ready dict."""
    import sklearn
    from sklearn.feature_extraction.text import (
        CountVectorizer,
        TfidfTransformer,
        TfidfVectorizer,
    )

    steps = [step for _, step in pipeline.steps if step not in (None, "passthrough")]
    if len(steps) == 3 and type(steps[0]) is CountVectorizer and isinstance(steps[1], TfidfTransformer):
        vectorizer = _vectorizer(steps[0])
        vectorizer["tfidf"] = _tfidf(steps[1])
    elif len(steps) == 2 and isinstance(steps[0], TfidfVectorizer):
        vectorizer = _vectorizer(steps[0])
        vectorizer["tfidf"] = _tfidf(steps[0]._tfidf)
    elif len(steps) == 2 and type(steps[0]) is CountVectorizer:
        vectorizer = _vectorizer(steps[0])
    else:
        raise UnsupportedPipeline(
            "steps " + ", ".join(type(s).__name__ for s in steps)
            + "; expected a vectorizer (and TfidfTransformer) then a classifier"
        )
    if vectorizer["tfidf"] is not None:
        import numpy as np

        # Integer counts become float64 in TfidfTransformer; a float dtype stays.
        dtype = np.dtype(steps[0].dtype)
        if np.issubdtype(dtype, np.floating) and dtype != np.float64:
            raise UnsupportedPipeline(
                f"{type(steps[0]).__name__}(dtype={dtype.name}): scikit-learn computes this tf-idf in "
                f"{dtype.name}, the transform in float64, and the weights would differ (by up to 3e-7 "
                "for float32); fit it with the default dtype (float64)"
            )
    classifier = _classifier(steps[-1])
    if len(classifier.get("coef", classifier.get("feature_log_prob"))[0]) != len(vectorizer["vocabulary"]):
        raise UnsupportedPipeline("the classifier's features do not match the vocabulary")
    return {
        "format": FORMAT,
        "version": VERSION,
        "sklearn_version": sklearn.__version__,
        "vectorizer": vectorizer,
        "classifier": classifier,
    }


def export(pipeline, path):
    """Write the model asset for a fitted pipeline to `path`."""
    asset = to_asset(pipeline)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(asset, f, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        f.write("\n")


def word_table():
    """`src/word_table.rs` for the running CPython."""
    import re
    import unicodedata

    word = re.compile(r"\w")
    ranges, start = [], None
    for cp in range(0x110000):
        is_word = word.match(chr(cp)) is not None
        if is_word and start is None:
            start = cp
        elif not is_word and start is not None:
            ranges.append((start, cp - 1))
            start = None
    if start is not None:
        ranges.append((start, 0x10FFFF))
    lines = [
        "//! The characters Python's `re` module counts as `\\w` in a `str`",
        "//! pattern (`str.isalnum()` or `_`), as inclusive code-point ranges.",
        "//!",
        f"//! Generated with CPython {sys.version.split()[0]} (Unicode {unicodedata.unidata_version}) by",
        "//! `transforms/categorize/export_sklearn.py --word-table`; do not edit by hand.",
        "",
        "/// Sorted, disjoint, inclusive ranges of `\\w` code points.",
        f"pub const WORD_RANGES: [(u32, u32); {len(ranges)}] = [",
    ]
    lines += [f"    (0x{a:04X}, 0x{b:04X})," for a, b in ranges]
    lines.append("];")
    return "\n".join(lines) + "\n"


def main(argv):
    if argv == ["--word-table"]:
        sys.stdout.write(word_table())
        return 0
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    try:
        import joblib

        pipeline = joblib.load(argv[0])
    except ImportError:
        import pickle

        with open(argv[0], "rb") as f:
            pipeline = pickle.load(f)
    export(pipeline, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
