//! Learning-rate and momentum schedules, as PySlowFast computes them per fractional epoch
//! (`slowfast/utils/lr_policy.py`, `ContrastiveModel.momentum_anneal_cosine`).
//!
//! - Cosine: `lr(e) = lr · (cos(π·e/E) + 1) / 2` over the whole run (E epochs; the warm-up is not cut out of the
//!   cosine, as PySlowFast's default `COSINE_AFTER_WARMUP: False`).
//! - Warm-up: for `e < W`, a straight line from `warmup_start_lr` at e = 0 to the schedule's value at e = W.
//! - Momentum of a target encoder: `m = 1 − (1 − base)·(cos(π·k/K) + 1)/2` when annealed (k/K the fraction of
//!   training done), `base` otherwise.
//! - The LR at the global batch comes from [`LrRule`] (`base × batch/per`, `base × √(batch/per)` or `base`); the
//!   compiler applies it and stores the result in `ScheduleSpec::lr`, which is what the schedule uses.

use std::f64::consts::PI;

use vst_spec::{Anneal, Decay, LrRule, MomentumSpec, OptimizerSpec, Scaling, ScheduleSpec};

use crate::model::{ModelError, invalid};

/// What an evaluation that trains (the linear probe, fine-tuning) sets of its optimiser; the rest is fixed.
#[derive(Debug, Clone)]
pub struct EvalSgd {
    pub epochs: u32,
    pub batch: u32,
    pub lr: f64,
    pub lr_rule: LrRule,
    pub warmup_epochs: f64,
    pub warmup_start_lr: f64,
    pub decay: Decay,
    pub momentum: f64,
    pub weight_decay: f64,
}

impl EvalSgd {
    /// The optimiser and schedule of every official PySlowFast evaluation config: SGD with Nesterov momentum
    /// (SOLVER.NESTEROV defaults to True, and the linear-probe and fine-tuning configs keep it), a linear warm-up
    /// from `warmup_start_lr`, then `decay` (cosine over the whole run of `total_steps`, or steps).
    pub fn setup(&self, total_steps: u64) -> Result<(OptimizerSpec, Schedule), ModelError> {
        let optimizer = OptimizerSpec::Sgd {
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            nesterov: true,
        };
        let schedule = Schedule::new(
            &ScheduleSpec {
                epochs: self.epochs,
                batch: self.batch,
                optimizer,
                lr: self.lr,
                lr_rule: self.lr_rule,
                warmup_epochs: self.warmup_epochs,
                warmup_start_lr: self.warmup_start_lr,
                decay: self.decay.clone(),
            },
            total_steps,
        )?;
        Ok((optimizer, schedule))
    }
}

/// The learning rate at a global batch of `batch` videos under `rule`.
pub fn scaled_lr(rule: &LrRule, batch: u32) -> f64 {
    let ratio = f64::from(batch) / f64::from(rule.per.max(1));
    match rule.scaling {
        Scaling::Linear => rule.base * ratio,
        Scaling::Sqrt => rule.base * ratio.sqrt(),
        Scaling::None => rule.base,
    }
}

/// The learning rate and momentum at every step of a run of `total_steps` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    lr: f64,
    epochs: f64,
    warmup_epochs: f64,
    warmup_start_lr: f64,
    decay: Decay,
    total_steps: u64,
}

impl Schedule {
    /// A schedule of 0 epochs and 0 steps is allowed: a model that is only imported (`weights` with 0 epochs)
    /// and never stepped.
    pub fn new(spec: &ScheduleSpec, total_steps: u64) -> Result<Schedule, ModelError> {
        let import_only = spec.epochs == 0 && total_steps == 0;
        if !import_only && (spec.epochs == 0 || total_steps == 0) {
            return invalid(format!(
                "a schedule needs at least one epoch and one step (epochs {}, steps {total_steps})",
                spec.epochs
            ));
        }
        if !(spec.lr.is_finite() && spec.lr >= 0.0 && spec.warmup_start_lr.is_finite()) {
            return invalid(format!(
                "learning rates must be finite and non-negative (lr {}, warm-up start {})",
                spec.lr, spec.warmup_start_lr
            ));
        }
        let warmup_fits = (0.0..=f64::from(spec.epochs)).contains(&spec.warmup_epochs);
        if !(import_only || warmup_fits) {
            return invalid(format!(
                "warm-up of {} epochs does not fit in {} epochs",
                spec.warmup_epochs, spec.epochs
            ));
        }
        if let Decay::Steps { at, factor } = &spec.decay {
            let increasing = at.windows(2).all(|w| w[0] < w[1]);
            let inside = at.iter().all(|&e| e > 0.0 && e < f64::from(spec.epochs));
            if !(increasing && inside && factor.is_finite() && *factor >= 0.0) {
                return invalid(format!(
                    "step decay needs increasing milestones inside the {} epochs and a finite factor ≥ 0 \
                     (at {at:?}, factor {factor})",
                    spec.epochs
                ));
            }
        }
        Ok(Schedule {
            lr: spec.lr,
            epochs: f64::from(spec.epochs),
            warmup_epochs: spec.warmup_epochs,
            warmup_start_lr: spec.warmup_start_lr,
            decay: spec.decay.clone(),
            total_steps,
        })
    }

    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    pub fn steps_per_epoch(&self) -> f64 {
        if self.epochs == 0.0 {
            return 0.0;
        }
        self.total_steps as f64 / self.epochs
    }

    /// The fractional epoch at the start of step `step` (0-based).
    pub fn epoch_at(&self, step: u64) -> f64 {
        if self.total_steps == 0 {
            return 0.0;
        }
        step as f64 / self.steps_per_epoch()
    }

    fn decayed(&self, epoch: f64) -> f64 {
        match &self.decay {
            Decay::Cosine => self.lr * ((PI * epoch / self.epochs).cos() + 1.0) * 0.5,
            Decay::Constant => self.lr,
            // `get_step_index`: a milestone counts from the epoch it names on.
            Decay::Steps { at, factor } => {
                let passed = at.iter().filter(|&&milestone| epoch >= milestone).count();
                self.lr * factor.powi(passed as i32)
            }
        }
    }

    /// The learning rate at a fractional epoch.
    pub fn lr_at_epoch(&self, epoch: f64) -> f64 {
        if epoch < self.warmup_epochs {
            let end = self.decayed(self.warmup_epochs);
            self.warmup_start_lr + epoch * (end - self.warmup_start_lr) / self.warmup_epochs
        } else {
            self.decayed(epoch)
        }
    }

    /// The learning rate of step `step`.
    pub fn lr_at(&self, step: u64) -> f64 {
        self.lr_at_epoch(self.epoch_at(step))
    }

    /// The momentum the key/target encoder's update of step `step` uses. The official trainer moves the key
    /// encoder (`compute_key_feat`) before the forward pass that anneals the momentum for the current step
    /// (`momentum_anneal_cosine` in `ContrastiveModel.forward`), so step k uses the value annealed for step k − 1
    /// (step 0 the base value). The difference is O(1/K²); we keep the official order.
    pub fn key_momentum_at(&self, momentum: &MomentumSpec, step: u64) -> f64 {
        self.momentum_at(momentum, step.saturating_sub(1))
    }

    /// The momentum of a target/key encoder annealed for step `step`.
    pub fn momentum_at(&self, momentum: &MomentumSpec, step: u64) -> f64 {
        match momentum.anneal {
            Anneal::None => momentum.base,
            Anneal::Cosine => {
                let progress = step as f64 / self.total_steps as f64;
                1.0 - (1.0 - momentum.base) * ((PI * progress).cos() + 1.0) * 0.5
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vst_spec::OptimizerSpec;

    fn spec(decay: Decay) -> ScheduleSpec {
        ScheduleSpec {
            epochs: 200,
            batch: 512,
            optimizer: OptimizerSpec::Sgd {
                momentum: 0.9,
                weight_decay: 1e-4,
                nesterov: true,
            },
            lr: 4.8,
            lr_rule: LrRule {
                base: 4.8,
                per: 512,
                scaling: Scaling::Linear,
            },
            warmup_epochs: 35.0,
            warmup_start_lr: 0.001,
            decay,
        }
    }

    #[test]
    fn warmup_then_half_cosine_as_pyslowfast() {
        // 10 steps per epoch.
        let s = Schedule::new(&spec(Decay::Cosine), 2000).unwrap();
        assert_eq!(s.lr_at(0), 0.001);
        // End of warm-up: the cosine's own value at epoch 35 (the warm-up is not cut out of the cosine).
        let at_35 = 4.8 * ((PI * 35.0 / 200.0).cos() + 1.0) / 2.0;
        assert!((s.lr_at(350) - at_35).abs() < 1e-12);
        assert!((s.lr_at(349) - (0.001 + 34.9 * (at_35 - 0.001) / 35.0)).abs() < 1e-12);
        // Half-way through the cosine and at the end.
        assert!((s.lr_at(1000) - 2.4).abs() < 1e-12);
        assert!(s.lr_at(1999) < 1e-3 && s.lr_at(1999) > 0.0);
        let constant = Schedule::new(&spec(Decay::Constant), 2000).unwrap();
        assert_eq!(constant.lr_at(1500), 4.8);
    }

    /// finetune_SSv2_Slow_R50's schedule as PySlowFast's `lr_policy.py` computes it: `steps_with_relative_lrs`
    /// with STEPS [0, 14, 18], LRS [1, 0.1, 0.01], BASE_LR 0.12, MAX_EPOCH 22, and a linear warm-up over 0.19
    /// epochs from 0.0001 to the policy's value at 0.19 (values worked out by hand from those two functions).
    #[test]
    fn step_decay_as_pyslowfast_steps_with_relative_lrs() {
        let mut ssv2 = spec(Decay::Steps {
            at: vec![14.0, 18.0],
            factor: 0.1,
        });
        ssv2.epochs = 22;
        ssv2.lr = 0.12;
        ssv2.warmup_epochs = 0.19;
        ssv2.warmup_start_lr = 0.0001;
        let s = Schedule::new(&ssv2, 2200).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(s.lr_at_epoch(0.0), 0.0001));
        assert!(close(
            s.lr_at_epoch(0.095),
            0.095 * (0.12 - 0.0001) / 0.19 + 0.0001
        ));
        assert!(close(s.lr_at_epoch(0.19), 0.12));
        assert!(close(s.lr_at_epoch(13.99), 0.12));
        assert!(close(s.lr_at_epoch(14.0), 0.012));
        assert!(close(s.lr_at_epoch(17.99), 0.012));
        assert!(close(s.lr_at_epoch(18.0), 0.0012));
        assert!(close(s.lr_at(2199), 0.0012));
        // Milestones out of order or past the end are refused, not silently reordered or dropped.
        for at in [vec![18.0, 14.0], vec![14.0, 22.0], vec![0.0, 14.0]] {
            let mut bad = ssv2.clone();
            bad.decay = Decay::Steps { at, factor: 0.1 };
            assert!(Schedule::new(&bad, 2200).is_err());
        }
    }

    #[test]
    fn momentum_anneals_from_base_to_one() {
        let s = Schedule::new(&spec(Decay::Cosine), 100).unwrap();
        let m = MomentumSpec {
            base: 0.994,
            anneal: Anneal::Cosine,
        };
        assert!((s.momentum_at(&m, 0) - 0.994).abs() < 1e-15);
        assert!((s.momentum_at(&m, 50) - 0.997).abs() < 1e-12);
        assert!((s.momentum_at(&m, 100) - 1.0).abs() < 1e-15);
        let fixed = MomentumSpec {
            base: 0.99,
            anneal: Anneal::None,
        };
        assert_eq!(s.momentum_at(&fixed, 70), 0.99);
        // The key encoder's update lags the annealing by one step, as the official trainer's.
        assert_eq!(s.key_momentum_at(&m, 0), s.momentum_at(&m, 0));
        assert_eq!(s.key_momentum_at(&m, 1), s.momentum_at(&m, 0));
        assert_eq!(s.key_momentum_at(&m, 51), s.momentum_at(&m, 50));
    }

    #[test]
    fn lr_scaling_rules() {
        let rule = |scaling| LrRule {
            base: 0.6,
            per: 64,
            scaling,
        };
        assert!((scaled_lr(&rule(Scaling::Linear), 512) - 4.8).abs() < 1e-12);
        assert!((scaled_lr(&rule(Scaling::Sqrt), 256) - 1.2).abs() < 1e-12);
        assert_eq!(scaled_lr(&rule(Scaling::None), 512), 0.6);
    }

    #[test]
    fn rejects_impossible_schedules() {
        assert!(Schedule::new(&spec(Decay::Cosine), 0).is_err());
        // 0 epochs and 0 steps: an imported model that is never stepped.
        let mut none = spec(Decay::Cosine);
        none.epochs = 0;
        let imported = Schedule::new(&none, 0).unwrap();
        assert_eq!(imported.epoch_at(0), 0.0);
        assert!(Schedule::new(&none, 10).is_err());
        let mut s = spec(Decay::Cosine);
        s.warmup_epochs = 300.0;
        assert!(
            Schedule::new(&s, 10)
                .unwrap_err()
                .to_string()
                .contains("warm-up")
        );
    }
}
