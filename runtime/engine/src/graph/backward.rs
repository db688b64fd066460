//! Reverse-mode differentiation over the recorded DAG.

use std::collections::HashMap;

use petgraph::Direction;
use petgraph::graph::NodeIndex;
use petgraph::visit::{Dfs, EdgeRef, Reversed};

use super::{Graph, NodeKind, Var};
use crate::error::{EngineError, Result};
use crate::tensor::Tensor;

/// Gradients of the leaves (parameters and [`Graph::leaf`] values) that the differentiated value depends on.
pub struct Gradients {
    graph_id: u64,
    by_node: HashMap<NodeIndex, Tensor>,
    by_param: Vec<((u64, String), Tensor)>,
}

impl Gradients {
    /// The gradient of a leaf (None if the output did not depend on it).
    pub fn get(&self, leaf: &Var) -> Option<&Tensor> {
        match leaf.node {
            Some((g, idx)) if g == self.graph_id => self.by_node.get(&idx),
            _ => None,
        }
    }

    /// The gradient of a parameter by name (of the first store used with that name; see [`Gradients::of`] when
    /// several stores in one graph share names).
    pub fn param(&self, name: &str) -> Option<&Tensor> {
        self.by_param
            .iter()
            .find(|((_, n), _)| n == name)
            .map(|(_, t)| t)
    }

    /// The gradient of parameter `name` of `store`.
    pub fn of(&self, store: &crate::ParamStore, name: &str) -> Option<&Tensor> {
        self.by_param
            .iter()
            .find(|((id, n), _)| *id == store.id() && n == name)
            .map(|(_, t)| t)
    }

    /// All parameter gradients (name, gradient), in the order the parameters were first used.
    pub fn params(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.by_param.iter().map(|((_, n), t)| (n.as_str(), t))
    }

    /// The parameter gradients of one store (name, gradient), in the order the parameters were first used.
    pub fn params_of<'a>(
        &'a self,
        store: &crate::ParamStore,
    ) -> impl Iterator<Item = (&'a str, &'a Tensor)> {
        let id = store.id();
        self.by_param
            .iter()
            .filter(move |((i, _), _)| *i == id)
            .map(|((_, n), t)| (n.as_str(), t))
    }
}

impl Graph {
    /// Differentiates a scalar (one-element) value with respect to every leaf it depends on.
    pub fn backward(self, loss: &Var) -> Result<Gradients> {
        if loss.value.numel() != 1 {
            return Err(EngineError::Autodiff(format!(
                "backward needs a one-element loss, got shape {:?} (reduce it first, or use backward_with_grad)",
                loss.value.shape()
            )));
        }
        let seed = Tensor::ones(loss.value.shape(), loss.value.device())?;
        self.backward_with_grad(loss, seed)
    }

    /// Differentiates `output` seeded with `grad` (∂L/∂output) with respect to every leaf it depends on.
    pub fn backward_with_grad(mut self, output: &Var, grad: Tensor) -> Result<Gradients> {
        let Some((gid, root)) = output.node else {
            return Err(EngineError::Autodiff(
                "the value does not depend on any parameter or leaf that needs a gradient".into(),
            ));
        };
        if gid != self.id {
            return Err(EngineError::ForeignVar { op: "backward" });
        }
        if grad.shape() != output.value.shape() {
            return Err(EngineError::Autodiff(format!(
                "seed gradient {:?} does not match the output {:?}",
                grad.shape(),
                output.value.shape()
            )));
        }
        // Nodes the root depends on.
        let n = self.dag.node_count();
        let mut reachable = vec![false; n];
        let rev = Reversed(&self.dag);
        let mut dfs = Dfs::new(rev, root);
        while let Some(idx) = dfs.next(rev) {
            reachable[idx.index()] = true;
        }
        let mut grads: Vec<Option<Tensor>> = vec![None; n];
        grads[root.index()] = Some(grad);
        let mut out = Gradients {
            graph_id: self.id,
            by_node: HashMap::new(),
            by_param: Vec::new(),
        };
        // Node indices follow execution order, which is topological: walk it backwards.
        for i in (0..=root.index()).rev() {
            if !reachable[i] {
                continue;
            }
            let idx = NodeIndex::new(i);
            let Some(g) = grads[i].take() else { continue };
            let node = &mut self.dag[idx];
            match &mut node.kind {
                NodeKind::Leaf { param } => {
                    if let Some(p) = param {
                        out.by_param.push((p.clone(), g.clone()));
                    }
                    out.by_node.insert(idx, g);
                }
                NodeKind::Op { backward, arity } => {
                    let label = node.label;
                    let arity = *arity;
                    let Some(rule) = backward.take() else {
                        return Err(EngineError::Autodiff(format!(
                            "{label}: backward already ran"
                        )));
                    };
                    let inputs: Vec<(usize, NodeIndex)> = self
                        .dag
                        .edges_directed(idx, Direction::Incoming)
                        .map(|e| (*e.weight(), e.source()))
                        .collect();
                    let mut needs = vec![false; arity];
                    for &(pos, _) in &inputs {
                        needs[pos] = true;
                    }
                    let input_grads = rule(&g, &needs)?;
                    drop(g);
                    for (pos, src) in inputs {
                        let Some(Some(gi)) = input_grads.get(pos) else {
                            return Err(EngineError::Autodiff(format!(
                                "{label}: no gradient for input {pos}"
                            )));
                        };
                        let expected = &self.dag[src].shape;
                        if gi.shape() != expected.as_slice() {
                            return Err(EngineError::Autodiff(format!(
                                "{label}: gradient of input {pos} has shape {:?}, expected {expected:?}",
                                gi.shape()
                            )));
                        }
                        match &mut grads[src.index()] {
                            Some(acc) => acc.axpby_(1.0, 1.0, gi)?,
                            slot => *slot = Some(gi.clone()),
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}
