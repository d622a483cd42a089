//! `TreeEnsembleClassifier` and `TreeEnsembleRegressor`: decision trees
//! given as parallel `nodes_*` arrays, leaf weights as `class_*` /
//! `target_*` arrays.
//!
//! scikit-learn's decision trees, random forests, extra trees and gradient
//! boosting export to these. Trees are walked in tree-id order and leaf
//! weights summed in `f32`, as onnxruntime does, so near-ties between
//! classes break the same way.

use std::collections::BTreeMap;

use super::{Attributes, OperatorError, PostTransform, logistic, probit};
use crate::tensor::{ClassLabels, Tensor};

/// How a branch node compares the feature with its threshold; true goes
/// to the true child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    mode: Mode,
    feature: usize,
    threshold: f32,
    true_child: usize,
    false_child: usize,
    missing_goes_true: bool,
    /// (target or class index, weight) pairs, for leaves.
    weights: Vec<(usize, f32)>,
}

/// The trees of one ensemble, each a vector of nodes with its root first.
#[derive(Debug, Clone, PartialEq)]
struct Forest {
    trees: Vec<Vec<Node>>,
    features: usize,
}

fn attribute_problem(name: &'static str, problem: impl Into<String>) -> OperatorError {
    OperatorError::Attribute {
        name,
        problem: problem.into(),
    }
}

fn index(value: i64, name: &'static str) -> Result<usize, OperatorError> {
    usize::try_from(value).map_err(|_| attribute_problem(name, format!("negative index {value}")))
}

impl Forest {
    /// Builds the trees; `leaf` names the `class_*` or `target_*` family.
    fn new(attributes: &Attributes<'_>, leaf: &'static str) -> Result<Forest, OperatorError> {
        let tree_ids = attributes.ints("nodes_treeids");
        let node_ids = attributes.ints("nodes_nodeids");
        let features = attributes.ints("nodes_featureids");
        let values = attributes.floats("nodes_values");
        let modes = attributes.texts("nodes_modes");
        let trues = attributes.ints("nodes_truenodeids");
        let falses = attributes.ints("nodes_falsenodeids");
        let missing = attributes.ints("nodes_missing_value_tracks_true");
        let count = tree_ids.len();
        if count == 0 {
            return Err(attribute_problem(
                "nodes_treeids",
                "the ensemble has no nodes",
            ));
        }
        for (name, len) in [
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", features.len()),
            ("nodes_values", values.len()),
            ("nodes_modes", modes.len()),
            ("nodes_truenodeids", trues.len()),
            ("nodes_falsenodeids", falses.len()),
        ] {
            if len != count {
                return Err(attribute_problem(
                    name,
                    format!("{len} entries for {count} nodes"),
                ));
            }
        }
        // (tree id, node id) → position in its tree.
        let mut positions: BTreeMap<i64, BTreeMap<i64, usize>> = BTreeMap::new();
        for (&tree, &node) in tree_ids.iter().zip(&node_ids) {
            let tree_nodes = positions.entry(tree).or_default();
            let position = tree_nodes.len();
            if tree_nodes.insert(node, position).is_some() {
                return Err(attribute_problem(
                    "nodes_nodeids",
                    format!("node {node} appears twice in tree {tree}"),
                ));
            }
        }
        let mut trees: BTreeMap<i64, Vec<Node>> = BTreeMap::new();
        let mut max_feature = 0;
        for i in 0..count {
            let tree = tree_ids[i];
            let mode = match modes[i].as_str() {
                "BRANCH_LEQ" => Mode::Leq,
                "BRANCH_LT" => Mode::Lt,
                "BRANCH_GTE" => Mode::Gte,
                "BRANCH_GT" => Mode::Gt,
                "BRANCH_EQ" => Mode::Eq,
                "BRANCH_NEQ" => Mode::Neq,
                "LEAF" => Mode::Leaf,
                other => {
                    return Err(attribute_problem(
                        "nodes_modes",
                        format!("unknown mode {other:?}"),
                    ));
                }
            };
            let child = |id: i64, name: &'static str| -> Result<usize, OperatorError> {
                if mode == Mode::Leaf {
                    return Ok(0);
                }
                positions[&tree]
                    .get(&id)
                    .copied()
                    .ok_or_else(|| attribute_problem(name, format!("tree {tree} has no node {id}")))
            };
            let feature = index(features[i], "nodes_featureids")?;
            if mode != Mode::Leaf {
                max_feature = max_feature.max(feature + 1);
            }
            trees.entry(tree).or_default().push(Node {
                mode,
                feature,
                threshold: values[i],
                true_child: child(trues[i], "nodes_truenodeids")?,
                false_child: child(falses[i], "nodes_falsenodeids")?,
                missing_goes_true: missing.get(i).is_some_and(|&flag| flag != 0),
                weights: Vec::new(),
            });
        }
        let (ids_name, weights_name) = match leaf {
            "class" => ("class_ids", "class_weights"),
            _ => ("target_ids", "target_weights"),
        };
        let weight_trees = attributes.ints(if leaf == "class" {
            "class_treeids"
        } else {
            "target_treeids"
        });
        let weight_nodes = attributes.ints(if leaf == "class" {
            "class_nodeids"
        } else {
            "target_nodeids"
        });
        let weight_ids = attributes.ints(ids_name);
        let weights = attributes.floats(weights_name);
        if [weight_nodes.len(), weight_ids.len(), weights.len()]
            .iter()
            .any(|&len| len != weight_trees.len())
        {
            return Err(attribute_problem(
                weights_name,
                "the leaf weight arrays differ in length",
            ));
        }
        for i in 0..weights.len() {
            let tree = weight_trees[i];
            let position = positions
                .get(&tree)
                .and_then(|nodes| nodes.get(&weight_nodes[i]))
                .copied()
                .ok_or_else(|| {
                    attribute_problem(
                        ids_name,
                        format!(
                            "weight for tree {tree} node {}, which does not exist",
                            weight_nodes[i]
                        ),
                    )
                })?;
            let target = index(weight_ids[i], ids_name)?;
            if let Some(node) = trees
                .get_mut(&tree)
                .and_then(|nodes| nodes.get_mut(position))
            {
                node.weights.push((target, weights[i]));
            }
        }
        // Each tree's root is the node no other node points to; move it
        // first so evaluation starts at 0.
        let mut ordered = Vec::with_capacity(trees.len());
        for (tree, mut nodes) in trees {
            let mut is_child = vec![false; nodes.len()];
            for node in nodes.iter().filter(|node| node.mode != Mode::Leaf) {
                is_child[node.true_child] = true;
                is_child[node.false_child] = true;
            }
            let roots: Vec<usize> = (0..nodes.len()).filter(|&i| !is_child[i]).collect();
            let [root] = roots[..] else {
                return Err(attribute_problem(
                    "nodes_truenodeids",
                    format!("tree {tree} has {} roots", roots.len()),
                ));
            };
            if root != 0 {
                nodes.swap(0, root);
                for node in &mut nodes {
                    for child in [&mut node.true_child, &mut node.false_child] {
                        if *child == 0 {
                            *child = root;
                        } else if *child == root {
                            *child = 0;
                        }
                    }
                }
            }
            ordered.push(nodes);
        }
        Ok(Forest {
            trees: ordered,
            features: max_feature,
        })
    }

    /// The leaf `row` reaches in `tree`.
    fn leaf<'a>(tree: &'a [Node], row: &[f32]) -> &'a Node {
        let mut node = &tree[0];
        // A well-formed tree ends in a leaf within `len` steps; the bound
        // turns a cyclic one into a wrong answer instead of a hang.
        for _ in 0..tree.len() {
            if node.mode == Mode::Leaf {
                break;
            }
            let x = row.get(node.feature).copied().unwrap_or(f32::NAN);
            let t = node.threshold;
            let goes_true = if x.is_nan() {
                node.missing_goes_true
            } else {
                match node.mode {
                    Mode::Leq => x <= t,
                    Mode::Lt => x < t,
                    Mode::Gte => x >= t,
                    Mode::Gt => x > t,
                    Mode::Eq => x == t,
                    Mode::Neq => x != t,
                    Mode::Leaf => false,
                }
            };
            node = &tree[if goes_true {
                node.true_child
            } else {
                node.false_child
            }];
        }
        node
    }

    /// Sums the leaf weights of each target over all trees: (score, whether
    /// any leaf gave it one) per target.
    fn sum(&self, row: &[f32], targets: usize) -> Vec<(f32, bool)> {
        let mut scores = vec![(0.0f32, false); targets];
        for tree in &self.trees {
            for &(target, weight) in &Self::leaf(tree, row).weights {
                if let Some(score) = scores.get_mut(target) {
                    score.0 += weight;
                    score.1 = true;
                }
            }
        }
        scores
    }

    fn check_columns(&self, columns: usize) -> Result<(), OperatorError> {
        if columns < self.features {
            return Err(OperatorError::Input(format!(
                "{columns} features per row; the trees split on feature {}",
                self.features - 1
            )));
        }
        Ok(())
    }
}

/// `ai.onnx.ml.TreeEnsembleClassifier`.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEnsembleClassifier {
    forest: Forest,
    labels: ClassLabels,
    base_values: Vec<f32>,
    post_transform: PostTransform,
    /// Two labels, but leaves weigh only one class: the score is the
    /// positive class's, and the other column is derived from it.
    binary: bool,
    weights_all_positive: bool,
}

impl TreeEnsembleClassifier {
    pub(crate) fn new(
        attributes: &Attributes<'_>,
    ) -> Result<TreeEnsembleClassifier, OperatorError> {
        let labels = attributes.class_labels("classlabels_int64s")?;
        let forest = Forest::new(attributes, "class")?;
        let mut classes_weighted: Vec<usize> = forest
            .trees
            .iter()
            .flatten()
            .flat_map(|node| node.weights.iter().map(|&(class, _)| class))
            .collect();
        classes_weighted.sort_unstable();
        classes_weighted.dedup();
        if let Some(&class) = classes_weighted
            .last()
            .filter(|&&class| class >= labels.len())
        {
            return Err(attribute_problem(
                "class_ids",
                format!("class {class}, but only {} labels", labels.len()),
            ));
        }
        let weights_all_positive = attributes.floats("class_weights").iter().all(|&w| w >= 0.0);
        Ok(TreeEnsembleClassifier {
            binary: labels.len() == 2 && classes_weighted.len() == 1,
            forest,
            labels,
            base_values: attributes.floats("base_values"),
            post_transform: attributes.post_transform()?,
            weights_all_positive,
        })
    }

    /// The class labels, in score-column order.
    pub fn labels(&self) -> &ClassLabels {
        &self.labels
    }

    /// Labels `[rows]` and scores `[rows, classes]`.
    pub(crate) fn run(
        &self,
        rows: usize,
        columns: usize,
        x: &[f32],
    ) -> Result<Vec<Tensor>, OperatorError> {
        self.forest.check_columns(columns)?;
        let classes = self.labels.len();
        let mut indices = Vec::with_capacity(rows);
        let mut out = Vec::with_capacity(rows * classes);
        for row in x.chunks_exact(columns.max(1)).take(rows) {
            let mut scores = self.forest.sum(row, classes);
            let (index, row_scores) = if classes > 2 {
                self.multiclass(&mut scores)?
            } else {
                self.two_class(&mut scores)?
            };
            indices.push(index);
            out.extend(row_scores);
        }
        Ok(vec![
            self.labels.select(&indices),
            Tensor::matrix(rows, classes, out),
        ])
    }

    fn multiclass(&self, scores: &mut [(f32, bool)]) -> Result<(usize, Vec<f32>), OperatorError> {
        for (score, &base) in scores.iter_mut().zip(&self.base_values) {
            score.0 = if score.1 { score.0 + base } else { base };
            score.1 = true;
        }
        let mut best: Option<usize> = None;
        for (i, &(score, has)) in scores.iter().enumerate() {
            if has && best.is_none_or(|b| score > scores[b].0) {
                best = Some(i);
            }
        }
        let best = best.ok_or_else(|| OperatorError::Input("no tree scored any class".into()))?;
        let mut row: Vec<f32> = scores.iter().map(|&(score, _)| score).collect();
        self.post_transform.apply_row(&mut row);
        Ok((best, row))
    }

    /// onnxruntime's two-label rules (`TreeAggregatorClassifier`).
    fn two_class(&self, scores: &mut [(f32, bool)]) -> Result<(usize, Vec<f32>), OperatorError> {
        let mut single = false;
        match self.base_values[..] {
            [_, base1] => {
                if scores[1].1 {
                    scores[1].0 = base1 + scores[0].0;
                    scores[0].0 = -scores[1].0;
                } else {
                    scores[1].0 += base1;
                    scores[0].0 += self.base_values[0];
                }
            }
            [base0] => {
                scores[0].0 += base0;
                single = !scores[1].1;
            }
            _ => single = !scores[1].1,
        }
        let positive = if scores[1].1 {
            scores[1].0
        } else if scores[0].1 {
            scores[0].0
        } else {
            0.0
        };
        // Which of onnxruntime's `add_second_class` cases applies: whether
        // all weights are positive (scores are probabilities) or not
        // (scores are margins).
        let (index, probabilities_like) = if self.binary {
            if self.weights_all_positive {
                (usize::from(positive > 0.5), true)
            } else {
                (usize::from(positive > 0.0), false)
            }
        } else {
            (usize::from(positive > 0.0), false)
        };
        let row = if single {
            let s = scores[0].0;
            match self.post_transform {
                PostTransform::Probit => {
                    return Err(OperatorError::Input(
                        "PROBIT on a single-score binary classifier is not supported".into(),
                    ));
                }
                _ if probabilities_like => vec![1.0 - s, s],
                PostTransform::Logistic => vec![logistic(-s), logistic(s)],
                _ if index == 1 => vec![-s, s],
                _ => vec![s, -s],
            }
        } else {
            let mut row = vec![scores[0].0, scores[1].0];
            self.post_transform.apply_row(&mut row);
            row
        };
        Ok((index, row))
    }
}

/// How a regressor combines its trees (`aggregate_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// `ai.onnx.ml.TreeEnsembleRegressor`.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEnsembleRegressor {
    forest: Forest,
    targets: usize,
    aggregate: Aggregate,
    base_values: Vec<f32>,
    post_transform: PostTransform,
}

impl TreeEnsembleRegressor {
    pub(crate) fn new(attributes: &Attributes<'_>) -> Result<TreeEnsembleRegressor, OperatorError> {
        let targets = index(attributes.int("n_targets").unwrap_or(1), "n_targets")?.max(1);
        let aggregate = match attributes
            .text("aggregate_function")
            .as_deref()
            .unwrap_or("SUM")
        {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => {
                return Err(attribute_problem(
                    "aggregate_function",
                    format!("unknown function {other:?}"),
                ));
            }
        };
        Ok(TreeEnsembleRegressor {
            forest: Forest::new(attributes, "target")?,
            targets,
            aggregate,
            base_values: attributes.floats("base_values"),
            post_transform: attributes.post_transform()?,
        })
    }

    /// Values `[rows, targets]`.
    pub(crate) fn run(
        &self,
        rows: usize,
        columns: usize,
        x: &[f32],
    ) -> Result<Tensor, OperatorError> {
        self.forest.check_columns(columns)?;
        let trees = self.forest.trees.len() as f32;
        let mut out = Vec::with_capacity(rows * self.targets);
        for row in x.chunks_exact(columns.max(1)).take(rows) {
            let mut scores = vec![(0.0f32, false); self.targets];
            for tree in &self.forest.trees {
                let leaf = Forest::leaf(tree, row);
                // With one target onnxruntime reads only a leaf's first weight.
                let weights = if self.targets == 1 {
                    &leaf.weights[..leaf.weights.len().min(1)]
                } else {
                    &leaf.weights[..]
                };
                for &(target, weight) in weights {
                    let target = if self.targets == 1 { 0 } else { target };
                    let Some(score) = scores.get_mut(target) else {
                        continue;
                    };
                    score.0 = match self.aggregate {
                        Aggregate::Sum | Aggregate::Average => score.0 + weight,
                        Aggregate::Min if score.1 => score.0.min(weight),
                        Aggregate::Max if score.1 => score.0.max(weight),
                        Aggregate::Min | Aggregate::Max => weight,
                    };
                    score.1 = true;
                }
            }
            let mut values: Vec<f32> = if self.targets == 1 {
                let origin = match self.base_values[..] {
                    [base] => base,
                    _ => 0.0,
                };
                let (score, _) = scores[0];
                let score = match self.aggregate {
                    Aggregate::Average => score / trees,
                    _ => score,
                };
                vec![score + origin]
            } else {
                let use_base = self.base_values.len() == self.targets;
                scores
                    .iter()
                    .enumerate()
                    .map(|(i, &(score, _))| {
                        let base = if use_base { self.base_values[i] } else { 0.0 };
                        match self.aggregate {
                            Aggregate::Average => score / trees + base,
                            _ => score + base,
                        }
                    })
                    .collect()
            };
            if self.targets == 1 {
                if self.post_transform == PostTransform::Probit {
                    values[0] = probit(values[0]);
                }
            } else {
                self.post_transform.apply_row(&mut values);
            }
            out.extend(values);
        }
        Ok(Tensor::matrix(rows, self.targets, out))
    }
}
