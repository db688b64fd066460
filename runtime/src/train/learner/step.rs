//! One training step: momentum encoder, forward passes (each view its own batch-norm batch), the objective's loss,
//! backward and update, then the commit of batch-norm statistics, momentum encoder and queue. Nothing changes
//! unless the whole step succeeds. The order of operations is that of the official trainer (see the module docs
//! of [`super`]); changing it changes the floating-point results.

use vst_engine::{Graph, ParamKind, ParamStore, Tensor, Var};

use super::{Learner, StepStats};
use crate::model::{BnUpdates, Mode};
use crate::objective::{ClipLayout, Embeddings, NORMALIZE_EPS};
use crate::train::error::{TrainError, input_err};

/// A shallow copy of a store (tensors share storage until one side writes: copy on write).
fn clone_store(store: &ParamStore) -> Result<ParamStore, TrainError> {
    let mut out = ParamStore::new();
    for (name, tensor, kind) in store.iter() {
        match kind {
            ParamKind::Trainable => out.insert_param(name, tensor.clone())?,
            ParamKind::Buffer => out.insert_buffer(name, tensor.clone())?,
        }
    }
    Ok(out)
}

/// Mean over dimensions of the per-dimension std (across rows) of the L2-normalised rows of `z`.
fn embedding_std(z: &Tensor) -> Result<f64, TrainError> {
    let zn = z.l2_normalize(NORMALIZE_EPS)?;
    let mean = zn.mean(&[0], true)?;
    let var = zn.sub(&mean)?.square()?.mean(&[0], false)?;
    let std = var.sqrt()?.mean(&[], false)?.to_scalar()?;
    Ok(f64::from(std))
}

impl Learner {
    /// Online (and, with a momentum encoder, target) embeddings of every view, each view its own BN batch.
    fn embed(
        &self,
        g: &mut Graph,
        views: &[Tensor],
        layout: &ClipLayout,
        target: Option<&ParamStore>,
        online_bn: &mut BnUpdates,
        target_bn: &mut BnUpdates,
    ) -> Result<Embeddings, TrainError> {
        let reorder = layout.video_major_from_view_major();
        let mut z_parts = Vec::with_capacity(views.len());
        let mut p_parts = Vec::new();
        let mut t_parts = Vec::new();
        for view in views {
            let x = Var::constant(view.clone());
            let f = self
                .backbone
                .forward(g, &self.online, &x, Mode::Train, online_bn)?;
            let z = self
                .projection
                .forward(g, &self.online, &f, Mode::Train, online_bn)?;
            if let Some(pred) = &self.predictor {
                p_parts.push(pred.forward(g, &self.online, &z, Mode::Train, online_bn)?);
            }
            z_parts.push(z);
            if let Some(t) = target {
                let mut tg = Graph::no_grad();
                let f = self
                    .backbone
                    .forward(&mut tg, t, &x, Mode::Train, target_bn)?;
                let k = self
                    .projection
                    .forward(&mut tg, t, &f, Mode::Train, target_bn)?;
                t_parts.push(k.value().clone());
            }
        }
        let video_major = |g: &mut Graph, parts: &[Var]| -> Result<Var, TrainError> {
            let refs: Vec<&Var> = parts.iter().collect();
            let all = g.concat(&refs, 0)?;
            Ok(g.index_select(&all, 0, &reorder)?)
        };
        let z = video_major(g, &z_parts)?;
        let predictions = if p_parts.is_empty() {
            None
        } else {
            Some(video_major(g, &p_parts)?)
        };
        let (target, target_view_major) = if t_parts.is_empty() {
            (None, None)
        } else {
            let refs: Vec<&Tensor> = t_parts.iter().collect();
            let all = Tensor::concat(&refs, 0)?;
            (Some(all.index_select(0, &reorder)?), Some(all))
        };
        Ok(Embeddings {
            z,
            predictions,
            target,
            target_view_major,
        })
    }

    /// One training step on `clips` ((N·V)×T×H×W×3, view j of video i at row i·V + j; V = `views_per_video`,
    /// at least 2) as step `step_index` of the schedule. On error nothing is changed.
    pub fn step(
        &mut self,
        clips: &Tensor,
        views_per_video: usize,
        step_index: u64,
    ) -> Result<StepStats, TrainError> {
        self.check_clips(clips)?;
        if step_index >= self.schedule.total_steps() {
            return input_err(format!(
                "step {step_index} is past the schedule's {} steps",
                self.schedule.total_steps()
            ));
        }
        let layout = ClipLayout::from_rows(clips.shape()[0], views_per_video)?;
        if layout.videos() < 2 {
            return input_err(format!(
                "a training batch needs at least 2 videos (batch norm and negatives), got {}",
                layout.videos()
            ));
        }
        let epoch = self.schedule.epoch_at(step_index);
        let lr = self.schedule.lr_at(step_index);
        let momentum = self
            .objective
            .target_momentum()
            .map(|m| self.schedule.key_momentum_at(m, step_index));

        // The momentum encoder's update goes into a copy, committed only if the step succeeds.
        let target_next = match (&self.target, momentum) {
            (Some(target), Some(m)) => {
                let mut next = clone_store(target)?;
                for name in target.trainable_names() {
                    next.get_mut(&name)?.axpby_(
                        m as f32,
                        (1.0 - m) as f32,
                        self.online.get(&name)?,
                    )?;
                }
                Some(next)
            }
            _ => None,
        };
        // Idempotent, so harmless even if the step fails below.
        self.objective.before_step(&mut self.online)?;

        let views: Vec<Tensor> = (0..layout.views())
            .map(|j| clips.index_select(0, &layout.view_rows(j)))
            .collect::<Result<_, _>>()?;
        let mut g = Graph::new();
        let mut online_bn = BnUpdates::new();
        let mut target_bn = BnUpdates::new();
        let emb = self.embed(
            &mut g,
            &views,
            &layout,
            target_next.as_ref(),
            &mut online_bn,
            &mut target_bn,
        )?;

        let updated = self.objective.updates_at(step_index);
        let loss = self
            .objective
            .loss(&mut g, &emb, &layout, epoch, &self.online)?;
        let loss_value = f64::from(loss.value().to_scalar()?);
        if !loss_value.is_finite() {
            return Err(TrainError::NonFinite {
                step: step_index,
                what: "loss",
                value: loss_value,
            });
        }
        if !(online_bn.all_finite()? && target_bn.all_finite()?) {
            return Err(TrainError::NonFinite {
                step: step_index,
                what: "batch-norm statistics",
                value: f64::NAN,
            });
        }
        let embedding_std = embedding_std(emb.z.value())?;
        let dim = emb.z.shape()[1];

        let mut grad_norm = None;
        if updated {
            let grads = g.backward(&loss)?;
            let frozen = self.objective.frozen(epoch);
            let mut list: Vec<(String, Tensor)> = Vec::new();
            // Summed on the device, read back once.
            let mut sum_sq: Option<Tensor> = None;
            for (name, grad) in grads.params() {
                let s = grad.square()?.sum(&[], false)?;
                sum_sq = Some(match sum_sq {
                    Some(t) => t.add(&s)?,
                    None => s,
                });
                if frozen.contains(&name) {
                    continue;
                }
                list.push((name.to_string(), grad.clone()));
            }
            let norm = match sum_sq {
                Some(t) => f64::from(t.to_scalar()?).sqrt(),
                None => 0.0,
            };
            if !norm.is_finite() {
                return Err(TrainError::NonFinite {
                    step: step_index,
                    what: "gradient norm",
                    value: norm,
                });
            }
            grad_norm = Some(norm);
            // Nothing but `list` may hold the gradients now: the optimiser turns them into updates in place.
            drop(grads);
            self.optimizer
                .step(&mut self.online, list, &self.roles, lr)?;
        }

        // Commit the rest of the step.
        online_bn.apply(&mut self.online)?;
        if let Some(mut next) = target_next {
            target_bn.apply(&mut next)?;
            self.target = Some(next);
        }
        let enqueue = self.objective.queue_rows(&emb, &layout)?;
        if let (Some(rows), Some(queue)) = (enqueue, self.objective.queue_mut()) {
            queue.push(&rows)?;
        }
        self.steps_done = step_index + 1;
        Ok(StepStats {
            step: step_index,
            epoch,
            loss: loss_value,
            lr,
            momentum,
            embedding_std,
            embedding_std_uniform: 1.0 / (dim as f64).sqrt(),
            grad_norm,
            updated,
        })
    }
}
