//! SGD with momentum and LARS, as PySlowFast configures them (`slowfast/models/optimizer.py`).
//!
//! Parameter groups (PySlowFast's, with `BN.WEIGHT_DECAY: 0` as in every contrastive config):
//! - **SGD**: batch-norm scale and shift get no weight decay; weights and biases get `weight_decay`.
//! - **LARS** (`exclude_bn_bias`): convolution/linear weights are decayed and rescaled by the trust ratio;
//!   batch-norm parameters and biases are neither (plain SGD with momentum). Without `exclude_bn_bias` every
//!   parameter is decayed and rescaled.
//!
//! The LARS rescaling (NVIDIA's LARC in "scale" mode, as PySlowFast wraps it): for a weight w with gradient g,
//! when ‖w‖ > 0 and ‖g‖ > 0,
//! `g ← (g + wd·w) · trust·‖w‖ / (‖g‖ + wd·‖w‖ + 1e-8)`; otherwise g is used as is (and not decayed). Note the
//! denominator is `‖g‖ + wd·‖w‖`, not `‖g + wd·w‖`.
//!
//! The momentum step is PyTorch's: `buf ← μ·buf + g` (`buf ← g` on the first step), then `w ← w − lr·buf`
//! (Nesterov: `w ← w − lr·(g + μ·buf)`). Every official configuration uses Nesterov (`SOLVER.NESTEROV: True`,
//! also inside LARS, which wraps `torch.optim.SGD`), so the language's default is Nesterov for both.

use std::collections::BTreeMap;

use vst_engine::{ParamStore, Tensor};
use vst_spec::OptimizerSpec;

use super::error::{TrainError, invalid_setting};
use crate::model::{ParamRole, ParamRoles};

/// Added to the LARS denominator (PySlowFast's `eps`).
const LARS_EPS: f64 = 1e-8;

/// An optimiser and its state (one momentum buffer per parameter).
#[derive(Debug, Clone)]
pub struct Optimizer {
    spec: OptimizerSpec,
    momentum_buffers: BTreeMap<String, Tensor>,
}

fn norm(t: &Tensor) -> Result<f64, TrainError> {
    Ok(f64::from(t.square()?.sum(&[], false)?.to_scalar()?).sqrt())
}

impl Optimizer {
    pub fn new(spec: &OptimizerSpec) -> Result<Optimizer, TrainError> {
        let (momentum, weight_decay) = match *spec {
            OptimizerSpec::Sgd {
                momentum,
                weight_decay,
                ..
            } => (momentum, weight_decay),
            OptimizerSpec::Lars {
                momentum,
                weight_decay,
                trust,
                ..
            } => {
                if !(trust.is_finite() && trust > 0.0) {
                    return invalid_setting(format!(
                        "LARS trust coefficient must be positive, got {trust}"
                    ));
                }
                (momentum, weight_decay)
            }
        };
        if !(0.0..1.0).contains(&momentum) {
            return invalid_setting(format!(
                "optimiser momentum must be in [0, 1), got {momentum}"
            ));
        }
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return invalid_setting(format!(
                "weight decay must be finite and non-negative, got {weight_decay}"
            ));
        }
        Ok(Optimizer {
            spec: *spec,
            momentum_buffers: BTreeMap::new(),
        })
    }

    pub fn spec(&self) -> &OptimizerSpec {
        &self.spec
    }

    /// Momentum buffers by parameter name.
    pub fn state(&self) -> &BTreeMap<String, Tensor> {
        &self.momentum_buffers
    }

    /// Replaces the momentum buffers (when resuming).
    pub fn restore(&mut self, buffers: BTreeMap<String, Tensor>) {
        self.momentum_buffers = buffers;
    }

    /// (weight decay, LARS rescaling) for a parameter of `role`.
    fn treatment(&self, role: ParamRole) -> (f64, Option<f64>) {
        match self.spec {
            OptimizerSpec::Sgd { weight_decay, .. } => {
                let wd = if role.is_batch_norm() {
                    0.0
                } else {
                    weight_decay
                };
                (wd, None)
            }
            OptimizerSpec::Lars {
                weight_decay,
                trust,
                exclude_bn_bias,
                ..
            } => {
                if exclude_bn_bias && role != ParamRole::Weight {
                    (0.0, None)
                } else {
                    (weight_decay, Some(trust))
                }
            }
        }
    }

    /// One update of every parameter in `grads` at learning rate `lr`. The gradients are consumed: a gradient
    /// nothing else holds is turned into the update direction in place, without a copy.
    pub fn step(
        &mut self,
        store: &mut ParamStore,
        grads: Vec<(String, Tensor)>,
        roles: &ParamRoles,
        lr: f64,
    ) -> Result<(), TrainError> {
        let (momentum, nesterov) = match self.spec {
            OptimizerSpec::Sgd {
                momentum, nesterov, ..
            } => (momentum, nesterov),
            OptimizerSpec::Lars {
                momentum, nesterov, ..
            } => (momentum, nesterov),
        };
        for (name, grad) in grads {
            let Some(role) = roles.get(&name) else {
                return invalid_setting(format!(
                    "internal: parameter `{name}` has no role for the optimiser"
                ));
            };
            let (wd, trust) = self.treatment(role);
            let fused = trust.is_none() && momentum > 0.0;
            if let Some(mut buf) = fused.then(|| self.momentum_buffers.remove(&name)).flatten() {
                // Plain SGD with a momentum buffer (every step after the first): one fused pass, the same
                // operations as the general path below.
                store.get_mut(&name)?.sgd_momentum_(
                    grad,
                    &mut buf,
                    (wd > 0.0).then_some(wd as f32),
                    momentum as f32,
                    nesterov,
                    lr as f32,
                )?;
                self.momentum_buffers.insert(name, buf);
                continue;
            }
            let weight = store.get(&name)?;
            let d = match trust {
                Some(trust) => {
                    let (w_norm, g_norm) = (norm(weight)?, norm(&grad)?);
                    if w_norm > 0.0 && g_norm > 0.0 {
                        let ratio = trust * w_norm / (g_norm + w_norm * wd + LARS_EPS);
                        let mut d = grad;
                        d.axpby_(ratio as f32, (wd * ratio) as f32, weight)?;
                        d
                    } else {
                        grad
                    }
                }
                None if wd > 0.0 => {
                    let mut d = grad;
                    d.axpby_(1.0, wd as f32, weight)?;
                    d
                }
                None => grad,
            };
            let direction = if momentum > 0.0 {
                let buf = match self.momentum_buffers.remove(&name) {
                    Some(mut buf) => {
                        buf.axpby_(momentum as f32, 1.0, &d)?;
                        buf
                    }
                    None => d.deep_clone()?,
                };
                let direction = if nesterov {
                    let mut n = d;
                    n.axpby_(1.0, momentum as f32, &buf)?;
                    n
                } else {
                    buf.clone()
                };
                self.momentum_buffers.insert(name.clone(), buf);
                direction
            } else {
                d
            };
            store
                .get_mut(&name)?
                .axpby_(1.0, -(lr as f32), &direction)?;
        }
        Ok(())
    }
}
