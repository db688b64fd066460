//! Typed settings → the runtime's specs: the backbone, heads, objective, optimiser and learning-rate rule.

use super::view::View;
use crate::check::value::{CallValue, Value};
use crate::diagnostic::Kind;
use crate::schema::Pretrain;
use crate::schema::typed::{LearningRate, LrScaling, ObjectiveName};
use vst_spec::*;

fn mlp(call: &CallValue) -> MlpSpec {
    let int = |n: &str| call.int(n).unwrap_or(1).max(1) as u32;
    let flag = |n: &str| call.get(n).and_then(Value::as_bool).unwrap_or(false);
    MlpSpec {
        layers: int("layers"),
        hidden: int("hidden"),
        out: int("out"),
        bn: flag("bn"),
        final_bn: flag("final_bn"),
    }
}

/// Step milestones must increase and fall inside the run: a drop at or after the last epoch would never happen, and
/// one out of order would be read as a different schedule than the recipe shows.
pub(super) fn check_decay(view: &mut View<'_, '_>, key: &str, decay: &Decay, epochs: u32) {
    let Decay::Steps { at, .. } = decay else {
        return;
    };
    let listed = at.iter().map(f64::to_string).collect::<Vec<_>>().join(", ");
    let problem = if at.is_empty() {
        Some("`steps(at: ...)` needs at least one epoch".to_string())
    } else if !at.windows(2).all(|w| w[0] < w[1]) {
        Some(format!(
            "the epochs of `steps(at: [{listed}])` must increase"
        ))
    } else if at.iter().any(|&e| e <= 0.0 || e >= f64::from(epochs)) {
        Some(format!(
            "every epoch of `steps(at: [{listed}])` must fall inside the {epochs} epochs of training (after 0 \
             and before {epochs}; PySlowFast's leading 0 of STEPS is implied)"
        ))
    } else {
        None
    };
    if let Some(message) = problem {
        let d = view.error_at(Kind::IncompatibleSettings, key, message);
        view.report(d);
    }
}

/// The LR at `batch` under the rule.
pub(super) fn scaled_lr(lr: LearningRate, scaling: LrScaling, batch: u32) -> (f64, LrRule) {
    let LearningRate { base, per } = lr;
    match per {
        Some(per) => {
            let ratio = f64::from(batch) / f64::from(per);
            let (lr, scaling) = match scaling {
                LrScaling::Sqrt => (base * ratio.sqrt(), Scaling::Sqrt),
                LrScaling::Linear => (base * ratio, Scaling::Linear),
            };
            (lr, LrRule { base, per, scaling })
        }
        None => (
            base,
            LrRule {
                base,
                per: batch,
                scaling: Scaling::None,
            },
        ),
    }
}

/// The backbone call (`slow_r50(frames: 8, stride: 8, width: 1)`) as a spec; None for a name the schema does not
/// list.
pub(super) fn backbone_spec(call: &CallValue) -> Option<BackboneSpec> {
    let depth = match call.name.as_str() {
        "slow_r18" => 18,
        "slow_r34" => 34,
        "slow_r50" => 50,
        "slow_r101" => 101,
        _ => return None,
    };
    let int = |n: &str| call.int(n).unwrap_or(1).max(1) as u32;
    Some(BackboneSpec {
        depth,
        frames: int("frames"),
        stride: int("stride"),
        width: call.float("width").unwrap_or(1.0),
    })
}

pub(super) fn optimizer_spec(call: &CallValue, weight_decay: f64) -> OptimizerSpec {
    let float = |n: &str, d: f64| call.float(n).unwrap_or(d);
    let flag = |n: &str, d: bool| call.get(n).and_then(Value::as_bool).unwrap_or(d);
    if call.name == "sgd" {
        OptimizerSpec::Sgd {
            momentum: float("momentum", 0.9),
            weight_decay,
            nesterov: flag("nesterov", true),
        }
    } else {
        OptimizerSpec::Lars {
            momentum: float("momentum", 0.9),
            weight_decay,
            trust: float("trust", 0.001),
            exclude_bn_bias: flag("exclude_bn_bias", true),
            nesterov: flag("nesterov", true),
        }
    }
}

pub(super) fn objective_spec(name: ObjectiveName, settings: &Pretrain) -> ObjectiveSpec {
    match name {
        ObjectiveName::Moco => {
            let moco = &settings.moco;
            ObjectiveSpec::Moco(MocoSpec {
                temperature: moco.temperature,
                head: mlp(&moco.head),
                queue: moco.queue,
                momentum: MomentumSpec {
                    base: moco.momentum,
                    anneal: moco.anneal,
                },
                shuffle_bn: moco.shuffle_bn,
                pairs: moco.pairs,
                clip_loss: moco.clip_loss,
            })
        }
        ObjectiveName::SimClr => {
            let simclr = &settings.simclr;
            ObjectiveSpec::SimClr(SimClrSpec {
                temperature: simclr.temperature,
                head: mlp(&simclr.head),
                pairs: simclr.pairs,
                clip_loss: simclr.clip_loss,
            })
        }
        ObjectiveName::Swav => {
            let swav = &settings.swav;
            ObjectiveSpec::Swav(SwavSpec {
                temperature: swav.temperature,
                head: mlp(&swav.head),
                prototypes: swav.prototypes,
                sinkhorn_epsilon: swav.sinkhorn_epsilon,
                sinkhorn_iterations: swav.sinkhorn_iterations,
                freeze_prototypes_epochs: swav.freeze_prototypes,
                queue: swav.queue,
                pairs: swav.pairs,
            })
        }
        ObjectiveName::Byol => {
            let byol = &settings.byol;
            ObjectiveSpec::Byol(ByolSpec {
                head: mlp(&byol.head),
                predictor: mlp(&byol.predictor),
                momentum: MomentumSpec {
                    base: byol.momentum,
                    anneal: byol.anneal,
                },
                clip_loss: byol.clip_loss,
            })
        }
    }
}
