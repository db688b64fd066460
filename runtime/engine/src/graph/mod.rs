//! The op graph: a petgraph DAG recorded while the forward pass runs eagerly, and differentiated in reverse.
//!
//! Every op computes its value at once (so a model can branch on values, print them, run Sinkhorn on them) and,
//! if any input needs a gradient, adds a node to the DAG holding a backward rule with exactly the tensors that rule
//! needs. Edges run from inputs to outputs and carry the argument position. Values that need no gradient (data,
//! frozen parameters, anything downstream of `detach`) add no node at all, so a no-grad forward costs nothing.
//!
//! Why a recorded graph (a "tape" that is a DAG) rather than a symbolic graph transformed ahead of time: the four
//! objectives are dynamic (queues, Sinkhorn iterations, ρ-dependent loops), and eager values make the model code
//! ordinary Rust. Node indices are assigned in execution order, so that order is already topological and the
//! backward pass walks it in reverse over the nodes reachable from the loss (found with a petgraph DFS).
//!
//! Memory plan: a backward rule owns its saved tensors and is dropped right after it runs, and a node's gradient is
//! dropped as soon as it has been passed on, so every activation and gradient buffer is released at its last use
//! and returns to the backend's buffer pool, where the next allocation of that size picks it up.

mod backward;
mod ops_conv;
mod ops_elementwise;
mod ops_layout;
mod ops_loss;
mod ops_matmul;
mod ops_norm;
mod ops_reduce;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use petgraph::graph::{DiGraph, NodeIndex};

pub use backward::Gradients;

use crate::error::{EngineError, Result};
use crate::params::ParamStore;
use crate::tensor::Tensor;

/// A backward rule: from the output gradient, the gradient of each input (in argument order; `None` where the
/// input needs none — `needs[i]` says which do).
pub(crate) type BackwardFn =
    Box<dyn FnOnce(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send>;

/// What a node is.
pub(crate) enum NodeKind {
    /// A leaf whose gradient the caller wants (parameters, or tensors passed to [`Graph::leaf`]).
    Leaf { param: Option<(u64, String)> },
    /// The result of an op.
    Op {
        backward: Option<BackwardFn>,
        arity: usize,
    },
}

pub(crate) struct Node {
    pub label: &'static str,
    pub shape: Vec<usize>,
    pub kind: NodeKind,
}

/// A value in a graph: its tensor, and (when it needs a gradient) its node.
#[derive(Clone, Debug)]
pub struct Var {
    value: Tensor,
    node: Option<(u64, NodeIndex)>,
}

impl Var {
    /// A value that needs no gradient (data, targets, constants). Usable in any graph.
    pub fn constant(value: Tensor) -> Var {
        Var { value, node: None }
    }
    /// The computed value.
    pub fn value(&self) -> &Tensor {
        &self.value
    }
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }
    /// Whether gradients flow back through this value.
    pub fn requires_grad(&self) -> bool {
        self.node.is_some()
    }
}

impl From<Tensor> for Var {
    fn from(t: Tensor) -> Var {
        Var::constant(t)
    }
}

static NEXT_GRAPH_ID: AtomicU64 = AtomicU64::new(1);

/// One forward pass's op graph (build one per training step; [`Graph::backward`] consumes it).
pub struct Graph {
    id: u64,
    dag: DiGraph<Node, usize>,
    grad_enabled: bool,
    /// Parameter leaves by (store id, name).
    params: HashMap<(u64, String), Var>,
}

impl Default for Graph {
    fn default() -> Self {
        Self::new()
    }
}

impl Graph {
    /// A graph that records what gradients need.
    pub fn new() -> Graph {
        Graph {
            id: NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed),
            dag: DiGraph::new(),
            grad_enabled: true,
            params: HashMap::new(),
        }
    }

    /// A graph that records nothing: every value is a constant (inference, momentum encoders, feature extraction).
    pub fn no_grad() -> Graph {
        Graph {
            grad_enabled: false,
            ..Graph::new()
        }
    }

    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled
    }

    /// Number of recorded nodes.
    pub fn node_count(&self) -> usize {
        self.dag.node_count()
    }

    /// A leaf whose gradient [`Gradients::get`] will return (constant in a no-grad graph).
    pub fn leaf(&mut self, value: Tensor) -> Var {
        if !self.grad_enabled {
            return Var::constant(value);
        }
        let idx = self.dag.add_node(Node {
            label: "leaf",
            shape: value.shape().to_vec(),
            kind: NodeKind::Leaf { param: None },
        });
        Var {
            value,
            node: Some((self.id, idx)),
        }
    }

    /// The parameter or buffer `name` of `store`. Trainable parameters become gradient leaves (once per graph and
    /// store: asking again returns the same variable, so uses accumulate); buffers and no-grad graphs give
    /// constants. Two stores may use the same names (online and momentum encoders): each store has its own leaves.
    pub fn param(&mut self, store: &ParamStore, name: &str) -> Result<Var> {
        let key = (store.id(), name.to_string());
        if let Some(v) = self.params.get(&key) {
            return Ok(v.clone());
        }
        let (value, trainable) = store.entry(name)?;
        let var = if trainable && self.grad_enabled {
            let idx = self.dag.add_node(Node {
                label: "param",
                shape: value.shape().to_vec(),
                kind: NodeKind::Leaf {
                    param: Some(key.clone()),
                },
            });
            Var {
                value: value.clone(),
                node: Some((self.id, idx)),
            }
        } else {
            Var::constant(value.clone())
        };
        self.params.insert(key, var.clone());
        Ok(var)
    }

    /// The same value with gradients stopped.
    pub fn detach(&self, x: &Var) -> Var {
        Var::constant(x.value.clone())
    }

    /// Records an op's result. `make_backward` runs only when some input needs a gradient.
    pub(crate) fn record(
        &mut self,
        label: &'static str,
        inputs: &[&Var],
        value: Tensor,
        make_backward: impl FnOnce(&Tensor) -> BackwardFn,
    ) -> Result<Var> {
        let mut any = false;
        for v in inputs {
            if let Some((gid, _)) = v.node {
                if gid != self.id {
                    return Err(EngineError::ForeignVar { op: label });
                }
                any = true;
            }
        }
        if !any || !self.grad_enabled {
            return Ok(Var::constant(value));
        }
        let backward = make_backward(&value);
        let idx = self.dag.add_node(Node {
            label,
            shape: value.shape().to_vec(),
            kind: NodeKind::Op {
                backward: Some(backward),
                arity: inputs.len(),
            },
        });
        for (pos, v) in inputs.iter().enumerate() {
            if let Some((_, src)) = v.node {
                self.dag.add_edge(src, idx, pos);
            }
        }
        Ok(Var {
            value,
            node: Some((self.id, idx)),
        })
    }

    /// The recorded DAG in Graphviz DOT (op names and shapes), for debugging a model.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph vst_engine {\n");
        for idx in self.dag.node_indices() {
            let n = &self.dag[idx];
            let name = match &n.kind {
                NodeKind::Leaf {
                    param: Some((_, p)),
                } => format!("{p} {:?}", n.shape),
                _ => format!("{} {:?}", n.label, n.shape),
            };
            let _ = writeln!(
                s,
                "  n{} [label=\"{}\"];",
                idx.index(),
                name.replace('"', "'")
            );
        }
        for e in self.dag.raw_edges() {
            let _ = writeln!(
                s,
                "  n{} -> n{} [label=\"{}\"];",
                e.source().index(),
                e.target().index(),
                e.weight
            );
        }
        s.push_str("}\n");
        s
    }
}
