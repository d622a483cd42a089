"""Writes the small example models the README and the golden cases use.

Run from this directory with the test venv (scripts/requirements-test.txt):
    ../../../.venv/bin/python export_examples.py
Training is seeded, so the files come out the same for the pinned versions.

- iris-species.onnx: LogisticRegression on iris (4 features, in the order
  sepal_length, sepal_width, petal_length, petal_width), with the species
  names as string labels.
- iris-forest.onnx: a RandomForestClassifier (3 trees, depth 3) on iris,
  integer labels 0-2, exported with ZipMap on (probabilities as a map).
- diabetes-linear.onnx: LinearRegression on the diabetes dataset (10
  standardised features, target: disease progression after one year).
"""
import numpy as np
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from skl2onnx import to_onnx

iris = datasets.load_iris()
X = iris.data.astype(np.float32)
species = iris.target_names[iris.target]

logistic = LogisticRegression(max_iter=1000).fit(X, species)
onx = to_onnx(logistic, X[:1], options={id(logistic): {"zipmap": False}})
with open("iris-species.onnx", "wb") as f:
    f.write(onx.SerializeToString())

forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=7).fit(X, iris.target)
onx = to_onnx(forest, X[:1])  # ZipMap on: the exporter's default
with open("iris-forest.onnx", "wb") as f:
    f.write(onx.SerializeToString())

diabetes = datasets.load_diabetes()
linear = LinearRegression().fit(diabetes.data, diabetes.target)
onx = to_onnx(linear, diabetes.data[:1].astype(np.float32))
with open("diabetes-linear.onnx", "wb") as f:
    f.write(onx.SerializeToString())
