//! MLP heads (projection and predictor) as PySlowFast's `MLPHead` builds them: `layers` linear layers; between
//! two linear layers a batch norm (when `bn`) and a ReLU; hidden linear layers drop their bias when a batch norm
//! follows; optionally a batch norm on the output (`final_bn`, which then replaces the last layer's bias).
//!
//! Names follow PySlowFast: an `MLPHead` module keeps its layers in an `nn.Sequential` called `projection`, so a
//! head at module path `m` has `m.projection.0.weight`, `m.projection.1.running_mean` for the BN after it,
//! `m.projection.3.weight`, ... A one-layer projection is a bare `nn.Linear` there (`head.projection.weight`);
//! [`MlpHead::new`] takes that naming when `bare_single_layer` is set.

use rand::Rng;
use vst_engine::{Device, Graph, ParamStore, Result as EngineResult, Tensor, Var};
use vst_spec::MlpSpec;

use super::init::{add_batch_norm, xavier_linear};
use super::norm::{BnUpdates, Mode, batch_norm};
use super::roles::{ParamRole, ParamRoles};
use super::{ModelError, invalid};

#[derive(Debug, Clone)]
struct LinearLayer {
    /// Prefix of `.weight` / `.bias`.
    name: String,
    inp: usize,
    out: usize,
    bias: bool,
    /// Batch norm after this layer, and whether a ReLU follows it.
    bn: Option<String>,
    relu: bool,
}

/// A multi-layer perceptron on N×C features.
#[derive(Debug, Clone)]
pub struct MlpHead {
    spec: MlpSpec,
    in_dim: usize,
    layers: Vec<LinearLayer>,
}

impl MlpHead {
    /// The head `spec` on `in_dim` inputs at module path `module` (parameters `{module}.projection.{i}.*`, or
    /// `{module}.*` for a bare single layer without final BN).
    pub fn new(
        spec: &MlpSpec,
        in_dim: usize,
        module: &str,
        bare_single_layer: bool,
    ) -> Result<Self, ModelError> {
        let prefix = format!("{module}.projection");
        let prefix = prefix.as_str();
        if spec.layers == 0 {
            return invalid(format!("MLP head `{module}` needs at least 1 layer"));
        }
        if spec.out == 0 || (spec.layers > 1 && spec.hidden == 0) || in_dim == 0 {
            return invalid(format!(
                "MLP head `{module}` needs positive widths (input {in_dim}, hidden {}, out {})",
                spec.hidden, spec.out
            ));
        }
        let n = spec.layers as usize;
        let mut layers = Vec::with_capacity(n);
        let mut index = 0;
        let mut inp = in_dim;
        for i in 0..n {
            let last = i + 1 == n;
            let out = if last {
                spec.out as usize
            } else {
                spec.hidden as usize
            };
            let name = if n == 1 && bare_single_layer && !spec.final_bn {
                module.to_string()
            } else {
                format!("{prefix}.{index}")
            };
            index += 1;
            let (bn, relu) = if last {
                let bn = spec.final_bn.then(|| format!("{prefix}.{index}"));
                (bn, false)
            } else {
                let bn = spec.bn.then(|| format!("{prefix}.{index}"));
                if spec.bn {
                    index += 1;
                }
                index += 1; // the ReLU's position
                (bn, true)
            };
            layers.push(LinearLayer {
                name,
                inp,
                out,
                bias: bn.is_none(),
                bn,
                relu,
            });
            inp = out;
        }
        Ok(MlpHead {
            spec: spec.clone(),
            in_dim,
            layers,
        })
    }

    pub fn spec(&self) -> &MlpSpec {
        &self.spec
    }

    pub fn in_dim(&self) -> usize {
        self.in_dim
    }

    pub fn out_dim(&self) -> usize {
        self.spec.out as usize
    }

    /// Number of trainable values (weights, biases, BN scales and shifts).
    pub fn parameters(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| {
                let (i, o) = (l.inp as u64, l.out as u64);
                i * o + if l.bias { o } else { 0 } + if l.bn.is_some() { 2 * o } else { 0 }
            })
            .sum()
    }

    /// Creates the parameters (Xavier-filled weights, zero biases, unit batch norms) and records their roles.
    pub fn init(
        &self,
        store: &mut ParamStore,
        roles: &mut ParamRoles,
        rng: &mut impl Rng,
        device: &Device,
    ) -> EngineResult<()> {
        for layer in &self.layers {
            let w = format!("{}.weight", layer.name);
            store.insert_param(&w, xavier_linear(layer.out, layer.inp, rng, device)?)?;
            roles.set(&w, ParamRole::Weight);
            if layer.bias {
                let b = format!("{}.bias", layer.name);
                store.insert_param(&b, Tensor::zeros(&[layer.out], device)?)?;
                roles.set(&b, ParamRole::Bias);
            }
            if let Some(bn) = &layer.bn {
                add_batch_norm(store, roles, bn, layer.out, device)?;
            }
        }
        Ok(())
    }

    /// The head's output (N×out) for features N×in.
    pub fn forward(
        &self,
        g: &mut Graph,
        store: &ParamStore,
        x: &Var,
        mode: Mode,
        updates: &mut BnUpdates,
    ) -> Result<Var, ModelError> {
        if x.shape().len() != 2 || x.shape()[1] != self.in_dim {
            return invalid(format!(
                "MLP head takes N×{} features, got {:?}",
                self.in_dim,
                x.shape()
            ));
        }
        let mut y = x.clone();
        for layer in &self.layers {
            let w = g.param(store, &format!("{}.weight", layer.name))?;
            let b = if layer.bias {
                Some(g.param(store, &format!("{}.bias", layer.name))?)
            } else {
                None
            };
            y = g.linear(&y, &w, b.as_ref())?;
            match &layer.bn {
                Some(bn) => y = batch_norm(g, store, &y, bn, layer.relu, mode, updates)?,
                None if layer.relu => y = g.relu(&y)?,
                None => {}
            }
        }
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spec: MlpSpec, bare: bool) -> Vec<String> {
        let head = MlpHead::new(&spec, 8, "head.projection", bare).unwrap();
        let mut store = ParamStore::new();
        let mut roles = ParamRoles::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        head.init(&mut store, &mut roles, &mut rng, &Device::cpu())
            .unwrap();
        assert_eq!(store.trainable_numel() as u64, head.parameters());
        store.names().map(str::to_string).collect()
    }

    #[test]
    fn names_follow_pyslowfast_sequential_positions() {
        // 3 layers with BN: Linear(0) BN(1) ReLU(2) Linear(3) BN(4) ReLU(5) Linear(6).
        let spec = MlpSpec {
            layers: 3,
            hidden: 16,
            out: 4,
            bn: true,
            final_bn: false,
        };
        assert_eq!(
            names(spec, true),
            [
                "head.projection.projection.0.weight",
                "head.projection.projection.1.weight",
                "head.projection.projection.1.bias",
                "head.projection.projection.1.running_mean",
                "head.projection.projection.1.running_var",
                "head.projection.projection.3.weight",
                "head.projection.projection.4.weight",
                "head.projection.projection.4.bias",
                "head.projection.projection.4.running_mean",
                "head.projection.projection.4.running_var",
                "head.projection.projection.6.weight",
                "head.projection.projection.6.bias",
            ]
        );
        // Without BN: Linear(0) ReLU(1) Linear(2), all with biases.
        let spec = MlpSpec {
            layers: 2,
            hidden: 16,
            out: 4,
            bn: false,
            final_bn: false,
        };
        assert_eq!(
            names(spec, true),
            [
                "head.projection.projection.0.weight",
                "head.projection.projection.0.bias",
                "head.projection.projection.2.weight",
                "head.projection.projection.2.bias",
            ]
        );
        // One layer: a bare linear layer, as PySlowFast's `nn.Linear` projection.
        let mut spec = MlpSpec {
            layers: 1,
            hidden: 0,
            out: 4,
            bn: false,
            final_bn: false,
        };
        assert_eq!(
            names(spec.clone(), true),
            ["head.projection.weight", "head.projection.bias"]
        );
        // With a final BN (which replaces the bias) it is a sequence again.
        spec.final_bn = true;
        assert_eq!(
            names(spec, true),
            [
                "head.projection.projection.0.weight",
                "head.projection.projection.1.weight",
                "head.projection.projection.1.bias",
                "head.projection.projection.1.running_mean",
                "head.projection.projection.1.running_var",
            ]
        );
    }

    #[test]
    fn rejects_empty_heads() {
        let spec = MlpSpec {
            layers: 0,
            hidden: 4,
            out: 4,
            bn: false,
            final_bn: false,
        };
        let err = MlpHead::new(&spec, 8, "h", false).unwrap_err();
        assert!(err.to_string().contains("at least 1 layer"), "{err}");
    }
}
