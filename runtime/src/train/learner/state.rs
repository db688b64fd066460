//! The learner's whole state on disk: [`Learner::save`] / [`Learner::load`] (a resumable checkpoint: weights,
//! buffers, momentum encoder, optimiser state, the objective's queue and its pointer, the step, the RNG position)
//! and [`Learner::load_weights`] (pretrained or converted PySlowFast weights only). The entry names are those of
//! [`crate::train::checkpoint`]; the objective names its queue's entry ([`crate::objective::Objective::queue`]).

use std::collections::BTreeMap;
use std::path::Path;

use vst_engine::{ParamKind, ParamStore, Tensor};

use super::Learner;
use crate::objective::RowQueue;
use crate::train::checkpoint::{
    CheckpointFile, CheckpointMeta, FORMAT_VERSION, ONLINE_PREFIX, OPTIMIZER_PREFIX, QueueState,
    RngState, TARGET_PREFIX, read_checkpoint, target_file_name, write_checkpoint,
};
use crate::train::error::TrainError;

impl Learner {
    fn meta(&self) -> CheckpointMeta {
        let mut queues = BTreeMap::new();
        if let Some((name, q)) = self.objective.queue() {
            queues.insert(
                name.to_string(),
                QueueState {
                    ptr: q.ptr(),
                    filled: q.filled(),
                },
            );
        }
        CheckpointMeta {
            format: FORMAT_VERSION,
            step: self.steps_done,
            epoch: self.schedule.epoch_at(self.steps_done),
            rng: RngState::capture(&self.rng),
            queues,
            config: self.config.clone(),
        }
    }

    /// Writes the whole training state to `path` (safetensors, atomically).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let mut entries = Vec::new();
        for (name, t, kind) in self.online.iter() {
            entries.push((name.to_string(), t.clone(), kind == ParamKind::Buffer));
        }
        if let Some(target) = &self.target {
            for (name, t, kind) in target.iter() {
                entries.push((target_file_name(name), t.clone(), kind == ParamKind::Buffer));
            }
        }
        for (name, t) in self.optimizer.state() {
            entries.push((format!("{OPTIMIZER_PREFIX}{name}"), t.clone(), true));
        }
        if let Some((name, q)) = self.objective.queue() {
            entries.push((name.to_string(), q.tensor().clone(), true));
        }
        write_checkpoint(path, &entries, &self.meta())
    }

    /// Restores the whole training state from a checkpoint [`Learner::save`] wrote for the same configuration.
    /// Nothing changes if the file does not fit.
    pub fn load(&mut self, path: &Path) -> Result<(), TrainError> {
        let err = |message: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            message,
        };
        let mut file = read_checkpoint(path, &self.device)?;
        let Some(meta) = file.meta.take() else {
            return Err(err(
                "has no training state (converted weights? use `load_weights`)".into(),
            ));
        };
        if meta.config != self.config {
            let differ: Vec<String> = match (meta.config.as_object(), self.config.as_object()) {
                (Some(a), Some(b)) => b
                    .iter()
                    .filter(|(k, v)| a.get(*k) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => vec!["everything".into()],
            };
            return Err(err(format!(
                "belongs to another configuration (differs in: {})",
                differ.join(", ")
            )));
        }
        let take =
            |file: &mut CheckpointFile, name: &str, like: &Tensor| -> Result<Tensor, TrainError> {
                let t = file
                    .tensors
                    .remove(name)
                    .ok_or_else(|| err(format!("entry `{name}` is missing")))?;
                if t.shape() != like.shape() {
                    return Err(err(format!(
                        "entry `{name}` has shape {:?}, expected {:?}",
                        t.shape(),
                        like.shape()
                    )));
                }
                Ok(t)
            };
        // Read everything first; assign only once all of it fits.
        let mut online = Vec::new();
        for (name, t, _) in self.online.iter() {
            online.push((name.to_string(), take(&mut file, name, t)?));
        }
        let mut target = Vec::new();
        if let Some(store) = &self.target {
            for (name, t, _) in store.iter() {
                target.push((
                    name.to_string(),
                    take(&mut file, &target_file_name(name), t)?,
                ));
            }
        }
        let mut momentum_buffers = BTreeMap::new();
        let optimizer_names: Vec<String> = file
            .tensors
            .keys()
            .filter(|k| k.starts_with(OPTIMIZER_PREFIX))
            .cloned()
            .collect();
        for file_name in optimizer_names {
            let name = file_name[OPTIMIZER_PREFIX.len()..].to_string();
            let like = self
                .online
                .get(&name)
                .map_err(|_| err(format!("momentum buffer for unknown parameter `{name}`")))?
                .clone();
            momentum_buffers.insert(name, take(&mut file, &file_name, &like)?);
        }
        let queue = match self.objective.queue() {
            Some((name, q)) => {
                let rows = take(&mut file, name, q.tensor())?;
                let state = meta
                    .queues
                    .get(name)
                    .ok_or_else(|| err(format!("no pointer for queue `{name}`")))?;
                Some(RowQueue::restore(rows, state.ptr, state.filled)?)
            }
            None => None,
        };
        let rng = meta
            .rng
            .restore()
            .ok_or_else(|| err("RNG state is malformed".into()))?;
        if let Some(extra) = file.tensors.keys().next() {
            return Err(err(format!("unexpected entry `{extra}`")));
        }

        for (name, t) in online {
            self.online.set(&name, t)?;
        }
        if let Some(store) = &mut self.target {
            for (name, t) in target {
                store.set(&name, t)?;
            }
        }
        self.optimizer.restore(momentum_buffers);
        if let (Some(q), Some(slot)) = (queue, self.objective.queue_mut()) {
            *slot = q;
        }
        self.rng = rng;
        self.steps_done = meta.step;
        Ok(())
    }

    /// Loads pretrained weights (e.g. converted from PySlowFast by `scripts/convert_pyslowfast.py`) into the
    /// entries of the same name: online entries under their names, momentum-encoder entries under
    /// `backbone_hist.`, and MoCo's queue from `queue_x` when the file has it (PySlowFast checkpoints do; its
    /// write pointer restarts at 0, as converted files do not keep it). A file without `backbone_hist.` entries
    /// sets the momentum encoder to a copy of the loaded online network. Returns the names of this learner's
    /// entries the file did not have. Shapes must match. The optimiser, the SwAV queue and the step are left alone.
    pub fn load_weights(&mut self, path: &Path) -> Result<Vec<String>, TrainError> {
        let file = read_checkpoint(path, &self.device)?;
        let err = |message: String| TrainError::Checkpoint {
            path: path.display().to_string(),
            message,
        };
        let mut updates = Vec::new();
        let mut missing = Vec::new();
        let mut plan = |store: &ParamStore, file_name: &dyn Fn(&str) -> String, target: bool| {
            let mut out = Vec::new();
            for (name, t, _) in store.iter() {
                match file.tensors.get(&file_name(name)) {
                    Some(v) if v.shape() == t.shape() => {
                        out.push((target, name.to_string(), v.clone()))
                    }
                    Some(v) => {
                        return Err(err(format!(
                            "entry `{}` has shape {:?}, expected {:?}",
                            file_name(name),
                            v.shape(),
                            t.shape()
                        )));
                    }
                    None => missing.push(file_name(name)),
                }
            }
            Ok(out)
        };
        updates.extend(plan(&self.online, &|n| n.to_string(), false)?);
        if let Some(target) = &self.target {
            updates.extend(plan(target, &|n| target_file_name(n), true)?);
        }
        if !file
            .tensors
            .keys()
            .any(|k| k.starts_with(ONLINE_PREFIX) || k.starts_with(TARGET_PREFIX))
        {
            return Err(err(
                "holds no `backbone.` entries: not a vst or converted PySlowFast checkpoint".into(),
            ));
        }
        // PySlowFast's MoCo checkpoints hold the queue (its pointer is not kept: it restarts at 0).
        let converted_queue = match self.objective.queue() {
            Some((name, queue)) if self.objective.queue_in_converted_weights() => {
                match file.tensors.get(name) {
                    Some(rows) if rows.shape() != queue.tensor().shape() => {
                        return Err(err(format!(
                            "entry `{name}` has shape {:?}, expected {:?}",
                            rows.shape(),
                            queue.tensor().shape()
                        )));
                    }
                    Some(rows) => Some(RowQueue::new(rows.deep_clone()?)?),
                    None => None,
                }
            }
            _ => None,
        };
        let target_loaded = updates.iter().any(|(is_target, _, _)| *is_target);
        for (is_target, name, t) in updates {
            match (&mut self.target, is_target) {
                (Some(store), true) => store.set(&name, t)?,
                _ => self.online.set(&name, t)?,
            }
        }
        // A file without a momentum encoder (a supervised or converted online network): the momentum encoder
        // starts as a copy of the loaded online network, as the official code's first key update copies it.
        if let (Some(store), false) = (&mut self.target, target_loaded) {
            let names: Vec<String> = store.iter().map(|(n, _, _)| n.to_string()).collect();
            for name in names {
                store.set(&name, self.online.get(&name)?.deep_clone()?)?;
            }
            missing.retain(|m| !m.starts_with(TARGET_PREFIX));
        }
        if let (Some(loaded), Some(queue)) = (converted_queue, self.objective.queue_mut()) {
            *queue = loaded;
        }
        Ok(missing)
    }
}
