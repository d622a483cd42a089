//! The lineage graph between stages, from the manifests' `lineage` entries.
//!
//! Owns the graph the page draws: one node per stage (those of the report,
//! and inputs named by their manifests that the report was not asked
//! about), one edge per input stage → stage with how many intervals name
//! it and how many of those were made from a commit since replaced, and
//! each node's layer (the longest path to it from a stage with no inputs)
//! for drawing left to right. Pure.

use crate::model::StageReport;

/// A stage in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The stage's URL.
    pub url: String,
    /// Whether the report covers it (else only its manifests' readers name it).
    pub in_report: bool,
    /// Its column, 0 for a stage with no inputs.
    pub layer: usize,
}

/// Input stage → stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index of the input's node.
    pub from: usize,
    /// Index of the stage's node.
    pub to: usize,
    /// Intervals of the stage that name the input.
    pub intervals: u64,
    /// Of those, made from an input commit since replaced.
    pub stale: u64,
}

/// Stages and the inputs between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineageGraph {
    /// The stages, those of the report first, in its order.
    pub nodes: Vec<Node>,
    /// The edges.
    pub edges: Vec<Edge>,
}

impl LineageGraph {
    /// The graph of the report's stages and their inputs.
    pub fn of(stages: &[StageReport]) -> Self {
        let mut g = LineageGraph {
            nodes: stages
                .iter()
                .map(|s| Node {
                    url: s.url.clone(),
                    in_report: true,
                    layer: 0,
                })
                .collect(),
            edges: vec![],
        };
        for (to, s) in stages.iter().enumerate() {
            for (input, intervals) in &s.inputs {
                let from = match g.nodes.iter().position(|n| n.url == *input) {
                    Some(i) => i,
                    None => {
                        g.nodes.push(Node {
                            url: input.clone(),
                            in_report: false,
                            layer: 0,
                        });
                        g.nodes.len() - 1
                    }
                };
                let stale = s
                    .timeline
                    .iter()
                    .filter(|r| r.stale_inputs.contains(input))
                    .count() as u64;
                g.edges.push(Edge {
                    from,
                    to,
                    intervals: *intervals,
                    stale,
                });
            }
        }
        // Longest path, relaxed at most once per node: a cycle (which
        // manifests cannot make, but a hand-edited one could) stops there.
        for _ in 0..g.nodes.len() {
            let mut moved = false;
            for e in &g.edges {
                if e.from != e.to && g.nodes[e.to].layer < g.nodes[e.from].layer + 1 {
                    g.nodes[e.to].layer = g.nodes[e.from].layer + 1;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        g
    }
}
