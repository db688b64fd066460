//! One training step: momentum encoder, forward passes (each view in its batch-norm batches), the objective's loss
//! on the whole batch, backward and update, then the commit of batch-norm statistics, momentum encoder and queue.
//! Nothing changes unless the whole step succeeds. The order of operations is that of the official trainer (see
//! the module docs of [`super`]); changing it changes the floating-point results.
//!
//! With several replicas the step runs in two graphs: the encoders' graph on this replica's videos, and the loss
//! graph on the embeddings gathered from every replica (identical everywhere, so every replica computes the loss
//! one replica would). The loss graph's gradient of this replica's embeddings seeds the encoders' backward pass,
//! and the replicas' parameter gradients are summed: together exactly the gradient of the whole batch's loss.

use std::sync::Arc;

use vst_engine::{Graph, ParamKind, ParamStore, ReplicaSum, Tensor, Var};

use super::replicas::{BnPlan, inverse, permutation};
use super::{Learner, StepStats};
use crate::distributed::{
    Communicator, GroupSum, all_gather_rows, all_reduce_tensors, check_agree,
};
use crate::model::{BnUpdates, Mode};
use crate::objective::{ClipLayout, Embeddings, NORMALIZE_EPS};
use crate::train::error::{TrainError, input_err};

/// With several replicas, how often (in steps, and at step 0) they compare a hash of their parameters.
const PARAMETER_CHECK_EVERY: u64 = 50;

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

/// The per-view parts (view-major) as one video-major variable.
fn video_major(g: &mut Graph, parts: &[Var], reorder: &[usize]) -> Result<Var, TrainError> {
    let refs: Vec<&Var> = parts.iter().collect();
    let all = g.concat(&refs, 0)?;
    Ok(g.index_select(&all, 0, reorder)?)
}

/// Replaces recorded batch-norm statistics by their mean over the replicas.
fn average_over(world: &dyn Communicator, updates: &mut BnUpdates) -> Result<(), TrainError> {
    if world.size() == 1 || updates.is_empty() {
        return Ok(());
    }
    let mut tensors = updates.tensors();
    all_reduce_tensors(world, &mut tensors)?;
    updates.set_tensors(&tensors, 1.0 / world.size() as f32)?;
    Ok(())
}

/// A hash of every value of a store, in its order (replicas must agree on it bit for bit).
fn store_hash(store: &ParamStore) -> Result<u64, TrainError> {
    let mut hasher = blake3::Hasher::new();
    for (name, tensor, _) in store.iter() {
        hasher.update(name.as_bytes());
        for v in tensor.to_vec()? {
            hasher.update(&v.to_le_bytes());
        }
    }
    let bytes = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    Ok(u64::from_le_bytes(first))
}

impl Learner {
    /// The SyncBN hook of a plan's forward passes (none when a BN batch lies on one replica).
    fn sync_of(plan: &BnPlan) -> Option<Arc<dyn ReplicaSum>> {
        plan.sync
            .clone()
            .map(|group| Arc::new(GroupSum(group)) as Arc<dyn ReplicaSum>)
    }

    /// One batch-norm batch through a network — online: backbone, projection and predictor (when `predict`);
    /// momentum encoder: backbone and projection. Returns the projections, the predictions and the statistics.
    fn encode_batch(
        &self,
        g: &mut Graph,
        store: &ParamStore,
        x: Tensor,
        sync: Option<Arc<dyn ReplicaSum>>,
        predict: bool,
    ) -> Result<(Var, Option<Var>, BnUpdates), TrainError> {
        let mut updates = BnUpdates::synced(sync);
        let input = Var::constant(x);
        let f = self
            .backbone
            .forward(g, store, &input, Mode::Train, &mut updates)?;
        let z = self
            .projection
            .forward(g, store, &f, Mode::Train, &mut updates)?;
        let p = match (&self.predictor, predict) {
            (Some(pred), true) => Some(pred.forward(g, store, &z, Mode::Train, &mut updates)?),
            _ => None,
        };
        Ok((z, p, updates))
    }

    /// The rows of `x` (one view of this replica's videos) in forward pass `pass` of the plan.
    fn batch_rows(x: &Tensor, plan: &BnPlan, pass: usize) -> Result<Tensor, TrainError> {
        let rows = x.shape()[0];
        if plan.chunk >= rows {
            return Ok(x.clone());
        }
        let idx: Vec<usize> = (pass * plan.chunk..(pass + 1) * plan.chunk).collect();
        Ok(x.index_select(0, &idx)?)
    }

    /// One view (`x`, its rows in BN-batch order) through a network in forward passes of `plan.chunk` videos,
    /// each its own batch-norm batch. Returns the projections, the predictions, and the statistics the running
    /// averages take (the mean over the passes).
    fn encode_view(
        &self,
        g: &mut Graph,
        store: &ParamStore,
        x: &Tensor,
        plan: &BnPlan,
        predict: bool,
    ) -> Result<(Var, Option<Var>, BnUpdates), TrainError> {
        let passes = x.shape()[0].div_ceil(plan.chunk.max(1));
        let (mut zs, mut ps, mut stats) = (Vec::new(), Vec::new(), Vec::new());
        for pass in 0..passes {
            let part = Self::batch_rows(x, plan, pass)?;
            let (z, p, updates) =
                self.encode_batch(g, store, part, Self::sync_of(plan), predict)?;
            zs.push(z);
            ps.extend(p);
            stats.push(updates);
        }
        let join = |g: &mut Graph, mut parts: Vec<Var>| -> Result<Option<Var>, TrainError> {
            Ok(match parts.len() {
                0 => None,
                1 => parts.pop(),
                _ => {
                    let refs: Vec<&Var> = parts.iter().collect();
                    Some(g.concat(&refs, 0)?)
                }
            })
        };
        let z = join(g, zs)?.ok_or_else(|| TrainError::Input("a view with no clips".into()))?;
        let p = join(g, ps)?;
        Ok((z, p, BnUpdates::average(stats)?))
    }

    /// The momentum encoder's projections of one view of the whole batch, in video order, from this replica's
    /// videos `view`, and the statistics of its BN batches. With `perm` (shuffle-BN), the whole batch's inputs are
    /// gathered and permuted, this replica encodes its share of the permuted batch, and the keys are gathered and
    /// put back in video order (PySlowFast's `_batch_shuffle` / `_batch_unshuffle`).
    fn view_keys(
        &self,
        target: &ParamStore,
        view: &Tensor,
        plan: &BnPlan,
        perm: Option<&[usize]>,
    ) -> Result<(Tensor, BnUpdates), TrainError> {
        let world = self.world.as_ref();
        let mut g = Graph::no_grad();
        match perm {
            Some(perm) => {
                let local = view.shape()[0];
                let rank = world.rank();
                let all = all_gather_rows(world, view)?;
                let mine = all.index_select(0, &perm[rank * local..(rank + 1) * local])?;
                let (k, _, stats) = self.encode_view(&mut g, target, &mine, plan, false)?;
                let keys = all_gather_rows(world, k.value())?.index_select(0, &inverse(perm))?;
                Ok((keys, stats))
            }
            None => {
                let (k, _, stats) = self.encode_view(&mut g, target, view, plan, false)?;
                Ok((all_gather_rows(world, k.value())?, stats))
            }
        }
    }

    /// The momentum encoder's projections of one view, as [`Learner::step`] computes them (in the BN batches of
    /// [`Learner::with_bn_batch`], on this learner's replicas), with `perm` as the shuffle-BN permutation of the
    /// whole batch's videos: for tests against a reference of the official shuffle. Nothing is changed.
    #[doc(hidden)]
    pub fn momentum_keys(
        &mut self,
        view: &Tensor,
        perm: Option<&[usize]>,
    ) -> Result<Tensor, TrainError> {
        self.check_clips(view)?;
        let plan = self.bn_plan(view.shape()[0])?;
        let Some(target) = &self.target else {
            return input_err("this objective has no momentum encoder");
        };
        Ok(self.view_keys(target, view, &plan, perm)?.0)
    }

    /// The low-memory backward pass: every batch-norm batch of every view again through the online network, now
    /// with gradients, back-propagated at once from its rows of the embeddings' gradient (`dz`, `dp`: this
    /// replica's rows, video-major) and dropped — so a device holds one BN batch's activations, not all of them.
    /// The forward passes repeat the first ones exactly (same inputs, same statistics), so the gradients are those
    /// of the one-graph backward pass, summed in another order. Returns the summed parameter gradients.
    fn backward_by_batch(
        &self,
        views: &[Tensor],
        layout: &ClipLayout,
        plan: &BnPlan,
        dz: &Tensor,
        dp: Option<&Tensor>,
    ) -> Result<Vec<(String, Tensor)>, TrainError> {
        let mut sums: Vec<(String, Tensor)> = Vec::new();
        for (j, view) in views.iter().enumerate() {
            let passes = layout.videos().div_ceil(plan.chunk.max(1));
            for pass in 0..passes {
                let first = pass * plan.chunk;
                let videos = plan.chunk.min(layout.videos() - first);
                let rows: Vec<usize> = (first..first + videos).map(|i| layout.row(i, j)).collect();
                let mut g = Graph::new();
                let part = Self::batch_rows(view, plan, pass)?;
                let (z, p, _) =
                    self.encode_batch(&mut g, &self.online, part, Self::sync_of(plan), true)?;
                let (output, seed) = match (p, dp) {
                    (Some(p), Some(dp)) => (
                        g.concat(&[&z, &p], 1)?,
                        Tensor::concat(
                            &[&dz.index_select(0, &rows)?, &dp.index_select(0, &rows)?],
                            1,
                        )?,
                    ),
                    _ => (z, dz.index_select(0, &rows)?),
                };
                let grads = g.backward_with_grad(&output, seed)?;
                for (name, grad) in grads.params() {
                    match sums.iter_mut().find(|(n, _)| n == name) {
                        Some(entry) => entry.1 = entry.1.add(grad)?,
                        None => sums.push((name.to_string(), grad.clone())),
                    }
                }
            }
        }
        Ok(sums)
    }

    /// One training step on this replica's `clips` ((N·V)×T×H×W×3, view j of video i at row i·V + j; V =
    /// `views_per_video`, at least 2; replica r of R holds videos r·N..(r+1)·N of the global batch) as step
    /// `step_index` of the schedule. On error nothing is changed.
    pub fn step(
        &mut self,
        clips: &Tensor,
        views_per_video: usize,
        step_index: u64,
    ) -> Result<StepStats, TrainError> {
        // Hundreds of kernels with short serial stretches between them: the pool's other workers spin between
        // them rather than sleep and be woken for each (11 % of the mini model's step at 2 threads).
        vst_engine::cpu::with_workers_awake(|| self.step_awake(clips, views_per_video, step_index))
    }

    fn step_awake(
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
        let world = self.world.clone();
        let (rank, replicas) = (world.rank(), world.size());
        let layout = ClipLayout::from_rows(clips.shape()[0], views_per_video)?;
        let local = layout.videos();
        let global = ClipLayout::new(local * replicas, layout.views())?;
        if global.videos() < 2 {
            return input_err(format!(
                "a training batch needs at least 2 videos (batch norm and negatives), got {}",
                global.videos()
            ));
        }
        let plan = self.bn_plan(local)?;
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
        // Shuffle-BN draws from a copy of the generator, committed with the step.
        let shuffle =
            target_next.is_some() && self.objective.shuffles_key_batch() && plan.batches > 1;
        let mut rng = self.rng.clone();

        // The encoders, view by view: this replica's projections in `g`, the whole batch's keys as tensors. In
        // low-memory mode `g` records nothing: the backward pass recomputes one BN batch at a time.
        let mut g = if self.low_memory {
            Graph::no_grad()
        } else {
            Graph::new()
        };
        let mut online_bn = BnUpdates::new();
        let mut target_bn = BnUpdates::new();
        let (mut z_parts, mut p_parts, mut key_parts) = (Vec::new(), Vec::new(), Vec::new());
        for view in &views {
            let (z, p, stats) = self.encode_view(&mut g, &self.online, view, &plan, true)?;
            online_bn.extend(stats);
            z_parts.push(z);
            p_parts.extend(p);
            if let Some(target) = &target_next {
                let perm = shuffle.then(|| permutation(global.videos(), &mut rng));
                let (keys, stats) = self.view_keys(target, view, &plan, perm.as_deref())?;
                target_bn.extend(stats);
                key_parts.push(keys);
            }
        }
        let reorder = layout.video_major_from_view_major();
        let z_local = video_major(&mut g, &z_parts, &reorder)?;
        let p_local = if p_parts.is_empty() {
            None
        } else {
            Some(video_major(&mut g, &p_parts, &reorder)?)
        };
        average_over(world.as_ref(), &mut online_bn)?;
        average_over(world.as_ref(), &mut target_bn)?;

        // The loss on the whole batch, from leaves holding every replica's embeddings.
        let mut lg = Graph::new();
        let z_all = lg.leaf(all_gather_rows(world.as_ref(), z_local.value())?);
        let p_all = match &p_local {
            Some(p) => Some(lg.leaf(all_gather_rows(world.as_ref(), p.value())?)),
            None => None,
        };
        let (target, target_view_major) = if key_parts.is_empty() {
            (None, None)
        } else {
            let refs: Vec<&Tensor> = key_parts.iter().collect();
            let all = Tensor::concat(&refs, 0)?;
            (
                Some(all.index_select(0, &global.video_major_from_view_major())?),
                Some(all),
            )
        };
        let emb = Embeddings {
            z: z_all.clone(),
            predictions: p_all.clone(),
            target,
            target_view_major,
        };

        let updated = self.objective.updates_at(step_index);
        let loss = self
            .objective
            .loss(&mut lg, &emb, &global, epoch, &self.online)?;
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
            let loss_grads = lg.backward(&loss)?;
            // This replica's rows of the embeddings' gradient (zero for an embedding the loss does not use).
            let own_rows: Vec<usize> = (rank * layout.rows()..(rank + 1) * layout.rows()).collect();
            let own = |leaf: &Var| -> Result<Tensor, TrainError> {
                Ok(match loss_grads.get(leaf) {
                    Some(d) => d.index_select(0, &own_rows)?,
                    None => Tensor::zeros(&[layout.rows(), leaf.shape()[1]], clips.device())?,
                })
            };
            let dz = own(&z_all)?;
            let dp = match &p_all {
                Some(pa) => Some(own(pa)?),
                None => None,
            };
            // Parameters of the loss itself (SwAV's prototypes): the same whole-batch gradient on every replica.
            let loss_params: Vec<(String, Tensor)> = loss_grads
                .params()
                .map(|(name, grad)| (name.to_string(), grad.clone()))
                .collect();
            drop(loss_grads);
            let (mut names, mut tensors) = (Vec::new(), Vec::new());
            if self.low_memory {
                drop(g);
                for (name, grad) in
                    self.backward_by_batch(&views, &layout, &plan, &dz, dp.as_ref())?
                {
                    names.push(name);
                    tensors.push(grad);
                }
            } else {
                let (output, seed) = match (&p_local, dp) {
                    (Some(p), Some(dp)) => (
                        g.concat(&[&z_local, p], 1)?,
                        Tensor::concat(&[&dz, &dp], 1)?,
                    ),
                    _ => (z_local.clone(), dz),
                };
                let grads = g.backward_with_grad(&output, seed)?;
                for (name, grad) in grads.params() {
                    names.push(name.to_string());
                    tensors.push(grad.clone());
                }
            }
            // Each replica's share of the whole batch's gradient: their sum is the gradient.
            all_reduce_tensors(world.as_ref(), &mut tensors)?;
            let mut all: Vec<(String, Tensor)> = names.into_iter().zip(tensors).collect();
            for (name, grad) in loss_params {
                match all.iter_mut().find(|(n, _)| *n == name) {
                    Some(entry) => entry.1 = entry.1.add(&grad)?,
                    None => all.push((name, grad)),
                }
            }

            let frozen = self.objective.frozen(epoch);
            let mut list: Vec<(String, Tensor)> = Vec::new();
            // Summed on the device, read back once.
            let mut sum_sq: Option<Tensor> = None;
            for (name, grad) in all {
                let s = grad.square()?.sum(&[], false)?;
                sum_sq = Some(match sum_sq {
                    Some(t) => t.add(&s)?,
                    None => s,
                });
                if frozen.contains(&name.as_str()) {
                    continue;
                }
                list.push((name, grad));
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
            self.optimizer
                .step(&mut self.online, list, &self.roles, lr)?;
        }

        // Commit the rest of the step.
        online_bn.apply(&mut self.online)?;
        if let Some(mut next) = target_next {
            target_bn.apply(&mut next)?;
            self.target = Some(next);
        }
        let enqueue = self.objective.queue_rows(&emb, &global)?;
        if let (Some(rows), Some(queue)) = (enqueue, self.objective.queue_mut()) {
            queue.push(&rows)?;
        }
        self.rng = rng;
        self.steps_done = step_index + 1;
        if replicas > 1 && step_index.is_multiple_of(PARAMETER_CHECK_EVERY) {
            check_agree(
                world.as_ref(),
                &format!("the parameters after step {step_index}"),
                store_hash(&self.online)?,
            )?;
        }
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
