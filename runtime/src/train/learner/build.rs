//! Creating a [`Learner`]: the network (backbone, projection, the objective's predictor), its initialisation from
//! the seed, the objective's own state, and the momentum encoder. The order of the random draws is part of the
//! determinism contract: backbone, projection, predictor, then the objective (MoCo's queue, SwAV's prototypes).

use std::collections::HashMap;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vst_engine::{Device, ParamKind, ParamStore};
use vst_spec::{BackboneSpec, ObjectiveSpec, ScheduleSpec};

use super::Learner;
use crate::distributed::Solo;
use crate::model::{MlpHead, ModelSummary, ParamRoles, SlowResNetModel};
use crate::objective::{self, ObjectiveInit};
use crate::train::checkpoint::ONLINE_PREFIX;
use crate::train::error::{TrainError, invalid_setting};
use crate::train::optim::Optimizer;
use crate::train::schedule::Schedule;

/// Module path of the projection head (PySlowFast's `backbone.head.projection`).
const PROJECTION: &str = "backbone.head.projection";
/// Module path of the predictor (BYOL; PySlowFast's `backbone.head.predictors.0`).
const PREDICTOR: &str = "backbone.head.predictors.0";

/// Whether an online entry has a twin in the momentum encoder: the backbone and projection, not the predictor.
fn is_target_entry(name: &str) -> bool {
    name.starts_with(ONLINE_PREFIX) && !name.starts_with("backbone.head.predictors.")
}

impl Learner {
    /// A freshly initialised learner for `objective` on `backbone` at `crop`² clips, training for `total_steps`
    /// steps of `schedule`, initialised from `seed`, on `device`.
    pub fn new(
        backbone: &BackboneSpec,
        crop: u32,
        objective: &ObjectiveSpec,
        schedule: &ScheduleSpec,
        total_steps: u64,
        seed: u64,
        device: &Device,
    ) -> Result<Learner, TrainError> {
        let mut method = objective::from_spec(objective);
        let model = SlowResNetModel::new(backbone, crop, ONLINE_PREFIX)?;
        let features = model.feature_dim();
        let projection = MlpHead::new(method.head(), features, PROJECTION, true)?;
        let dim = projection.out_dim();
        let predictor = match method.predictor() {
            Some(spec) => {
                if spec.out as usize != dim {
                    return invalid_setting(format!(
                        "{}'s predictor must output the projection's {dim} dimensions, not {}",
                        method.title(),
                        spec.out
                    ));
                }
                Some(MlpHead::new(spec, dim, PREDICTOR, false)?)
            }
            None => None,
        };
        let schedule_model = Schedule::new(schedule, total_steps)?;
        let optimizer = Optimizer::new(&schedule.optimizer)?;

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut online = ParamStore::new();
        let mut roles = ParamRoles::new();
        model.init(&mut online, &mut roles, &mut rng, device)?;
        projection.init(&mut online, &mut roles, &mut rng, device)?;
        if let Some(p) = &predictor {
            p.init(&mut online, &mut roles, &mut rng, device)?;
        }
        method.init(ObjectiveInit {
            dim,
            rng: &mut rng,
            device,
            online: &mut online,
            roles: &mut roles,
            batch: schedule.batch,
            steps_per_epoch: schedule_model.steps_per_epoch(),
        })?;

        let target = if method.target_momentum().is_some() {
            let mut t = ParamStore::new();
            for (name, tensor, kind) in online.iter() {
                if !is_target_entry(name) {
                    continue;
                }
                match kind {
                    ParamKind::Trainable => t.insert_param(name, tensor.deep_clone()?)?,
                    ParamKind::Buffer => t.insert_buffer(name, tensor.deep_clone()?)?,
                }
            }
            Some(t)
        } else {
            None
        };
        let config = serde_json::json!({
            "backbone": backbone,
            "crop": crop,
            "objective": objective,
            "schedule": schedule,
            "total_steps": total_steps,
            "seed": seed,
        });
        let summary = ModelSummary::new(backbone, crop)?.with_objective(objective)?;
        Ok(Learner {
            device: device.clone(),
            backbone: model,
            projection,
            predictor,
            objective: method,
            online,
            roles,
            target,
            optimizer,
            schedule: schedule_model,
            steps_done: 0,
            rng,
            config,
            summary,
            world: Arc::new(Solo),
            bn_videos: None,
            sync_groups: HashMap::new(),
            low_memory: false,
        })
    }
}
