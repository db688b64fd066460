//! What the [`crate::train::Learner`] asks of an objective: the one trait every objective implements, the
//! embeddings it gets, and what it may use to create its own state. The learner itself knows no objective by
//! name; everything that differs between SimCLR, MoCo, BYOL and SwAV is answered here.

use rand_chacha::ChaCha8Rng;
use vst_engine::{Device, Graph, ParamStore, Tensor, Var};
use vst_spec::{MlpSpec, MomentumSpec};

use super::{ClipLayout, RowQueue};
use crate::model::{ModelError, ParamRoles, invalid};
use crate::train::TrainError;

/// What the encoders produced for one batch: the input of every loss.
pub struct Embeddings {
    /// Online projections, video-major, in the graph.
    pub z: Var,
    /// Predictions of the online predictor (see [`Objective::predictor`]), video-major, in the graph.
    pub predictions: Option<Var>,
    /// Momentum-encoder projections (see [`Objective::target_momentum`]), video-major.
    pub target: Option<Tensor>,
    /// Momentum-encoder projections in view-major order (the order a queue takes them in).
    pub target_view_major: Option<Tensor>,
}

/// What an objective may use in [`Objective::init`], after the learner has initialised its network.
pub struct ObjectiveInit<'a> {
    /// Width of the projections.
    pub dim: usize,
    /// The learner's generator: every draw changes what comes after, so an objective draws exactly what it did.
    pub rng: &'a mut ChaCha8Rng,
    pub device: &'a Device,
    /// The online network, for parameters the objective owns (SwAV's prototypes).
    pub online: &'a mut ParamStore,
    pub roles: &'a mut ParamRoles,
    /// Videos per step.
    pub batch: u32,
    pub steps_per_epoch: f64,
}

/// One training objective, as the learner drives it. Each implementation lives next to its loss function.
///
/// A step calls, in this order: [`Objective::target_momentum`] (the momentum encoder is updated with it),
/// [`Objective::before_step`], the encoders (with a predictor when [`Objective::predictor`] says so),
/// [`Objective::updates_at`], [`Objective::loss`], [`Objective::frozen`] (while back-propagating), and, once the
/// step has succeeded, [`Objective::queue_rows`] into [`Objective::queue_mut`].
pub trait Objective: Send {
    /// As the papers write it (`SimCLR`, `MoCo`, ...), for messages.
    fn title(&self) -> &'static str;

    /// The projection head on the pool5 features.
    fn head(&self) -> &MlpSpec;

    /// A predictor on the projections (BYOL); it is not part of the momentum encoder.
    fn predictor(&self) -> Option<&MlpSpec> {
        None
    }

    /// A layer of its own on the projections, for `vst model`'s table: its name and how many rows of the
    /// projection's width it has (SwAV's prototypes; created by [`Objective::init`]).
    fn own_layer(&self) -> Option<(&'static str, usize)> {
        None
    }

    /// The momentum of the target ("key") encoder, when the objective has one: the learner then keeps a copy of the
    /// backbone and projection moved towards the online one at the start of every step.
    fn target_momentum(&self) -> Option<&MomentumSpec> {
        None
    }

    /// Whether the key encoder's batch is shuffled across batch-norm batches before its forward pass and
    /// unshuffled after (MoCo's shuffle-BN, PySlowFast's `_batch_shuffle` / `_batch_unshuffle`): a query and its
    /// key are then not normalised with the same batch statistics. Only acts when a view spans several BN batches.
    fn shuffles_key_batch(&self) -> bool {
        false
    }

    /// Checks the settings and creates the objective's own state (queue, parameters); called once, after the
    /// network is initialised, and before anything else below.
    fn init(&mut self, init: ObjectiveInit<'_>) -> Result<(), TrainError>;

    /// Work on the online network before the step's forward pass (must be idempotent: the step may still fail).
    fn before_step(&self, _online: &mut ParamStore) -> Result<(), TrainError> {
        Ok(())
    }

    /// Whether step `step` updates the parameters (false: forward and queue only).
    fn updates_at(&self, _step: u64) -> bool {
        true
    }

    /// The loss of one batch at fractional epoch `epoch`.
    fn loss(
        &self,
        g: &mut Graph,
        emb: &Embeddings,
        layout: &ClipLayout,
        epoch: f64,
        online: &ParamStore,
    ) -> Result<Var, TrainError>;

    /// Parameters that get no update at `epoch` (their gradient still counts in the reported norm).
    fn frozen(&self, _epoch: f64) -> &'static [&'static str] {
        &[]
    }

    /// The queue and its checkpoint entry name, when the objective keeps one.
    fn queue(&self) -> Option<(&'static str, &RowQueue)> {
        None
    }

    fn queue_mut(&mut self) -> Option<&mut RowQueue> {
        None
    }

    /// The rows a successful step pushes into the queue.
    fn queue_rows(
        &self,
        _emb: &Embeddings,
        _layout: &ClipLayout,
    ) -> Result<Option<Tensor>, TrainError> {
        Ok(None)
    }

    /// Whether [`crate::train::Learner::load_weights`] takes the queue from a converted file (PySlowFast's MoCo
    /// checkpoints hold its queue).
    fn queue_in_converted_weights(&self) -> bool {
        false
    }
}

/// `value` as f32 when it is finite and positive.
pub(crate) fn check_positive(what: &str, value: f64) -> Result<f32, ModelError> {
    if !(value.is_finite() && value > 0.0) {
        return invalid(format!("{what} must be positive, got {value}"));
    }
    Ok(value as f32)
}

/// A target encoder's base momentum must be in [0, 1].
pub(crate) fn check_momentum(what: &str, m: &MomentumSpec) -> Result<(), ModelError> {
    if !(0.0..=1.0).contains(&m.base) {
        return invalid(format!("{what} momentum must be in [0, 1], got {}", m.base));
    }
    Ok(())
}

/// A state [`Objective::init`] creates, read before it exists: a bug of the caller.
pub(crate) fn not_initialised<T>(what: &str) -> Result<T, TrainError> {
    Err(TrainError::Input(format!(
        "internal: {what} used before init"
    )))
}
