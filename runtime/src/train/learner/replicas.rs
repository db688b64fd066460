//! How a step's batch-norm batches are realised on the replicas of the run, and MoCo's shuffled key batch.
//!
//! The BN batch is b videos of the global batch B (every view normalised in B/b batches). With R replicas of
//! n = B/R videos each: b ≤ n runs n/b forward passes per view on each replica (micro-batches, each its own BN
//! batch); b > n forms SyncBN groups of b/n replicas that sum their statistics. Either way the batches are the same
//! contiguous runs of videos, so the model does not depend on R.
//!
//! Running statistics: every forward pass records its BN batches' statistics; the running mean and variance take,
//! per view, the mean over all of the view's BN batches (across micro-batches and replicas). PyTorch DDP instead
//! keeps replica 0's running statistics (its buffers are broadcast), which would make the model depend on R.
//!
//! Shuffle-BN (MoCo): as PySlowFast's `_batch_shuffle`/`_batch_unshuffle`, the key encoder's input of every view is
//! gathered, permuted by a random permutation of the B videos (the same on every replica: drawn from the learner's
//! generator, which all replicas share), each replica encodes its share of the permuted batch, and the keys are
//! gathered and put back in video order. The official code draws the permutation on rank 0 and broadcasts it;
//! with one BN batch per view shuffling changes nothing, and no permutation is drawn.

use std::sync::Arc;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::Learner;
use crate::distributed::Communicator;
use crate::train::error::{TrainError, input_err};

/// The forward passes of one view on this replica.
pub(super) struct BnPlan {
    /// Videos per forward pass (one BN batch, or this replica's share of one).
    pub chunk: usize,
    /// BN batches of one view over the whole global batch.
    pub batches: usize,
    /// The replicas whose statistics a forward pass sums (SyncBN), when a BN batch spans several.
    pub sync: Option<Arc<dyn Communicator>>,
}

impl Learner {
    /// The plan for steps whose replicas each hold `local` videos.
    pub(super) fn bn_plan(&mut self, local: usize) -> Result<BnPlan, TrainError> {
        let replicas = self.world.size();
        let global = local * replicas;
        let b = self.bn_videos.unwrap_or(global);
        if b == 0 || b > global || !global.is_multiple_of(b) {
            return input_err(format!(
                "the batch-norm batch of {b} videos does not divide the global batch of {global} videos"
            ));
        }
        if b <= local {
            if !local.is_multiple_of(b) {
                return input_err(format!(
                    "the batch-norm batch of {b} videos does not divide a replica's {local} videos"
                ));
            }
            return Ok(BnPlan {
                chunk: b,
                batches: global / b,
                sync: None,
            });
        }
        if !b.is_multiple_of(local) {
            return input_err(format!(
                "a batch-norm batch of {b} videos cannot be spread over replicas of {local} videos each"
            ));
        }
        let group = b / local;
        let sync = if group == replicas {
            self.world.clone()
        } else if let Some(g) = self.sync_groups.get(&group) {
            g.clone()
        } else {
            // Collective: every replica reaches its first step with the same shapes, so all split together.
            let g = self.world.split(self.world.rank() / group)?;
            self.sync_groups.insert(group, g.clone());
            g
        };
        Ok(BnPlan {
            chunk: local,
            batches: global / b,
            sync: Some(sync),
        })
    }
}

/// A uniformly random permutation of 0..n (Fisher–Yates).
pub(super) fn permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        p.swap(i, j);
    }
    p
}

/// The permutation that undoes `p`: `inverse(p)[p[i]] = i`.
pub(super) fn inverse(p: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; p.len()];
    for (i, &v) in p.iter().enumerate() {
        inv[v] = i;
    }
    inv
}

impl From<crate::distributed::CommError> for TrainError {
    fn from(e: crate::distributed::CommError) -> TrainError {
        TrainError::Replicas(e.to_string())
    }
}
