//! One cell's resolved settings → the runtime's job configurations ([`PretrainJob`], [`EvalSpec`]), with the checks
//! that involve several settings at once (MoCo's queue and the batch, ρ = 1 and deterministic crops, clip length and
//! video length, crop and frame size, warm-up and epochs, ...) and the cost estimate of each job.
//!
//! `build` receives each cell's typed settings ([`Pretrain`], [`LinearEval`], [`KnnEval`]) and turns them into specs;
//! the files: `view` (one cell's values and where to point), `dataset` (declared datasets), `specs` (settings →
//! spec conversions), `augment` (T, S, C), `checks` (checks across settings), `cost` (the estimate).

mod augment;
mod checks;
mod cost;
mod dataset;
mod finetune;
mod specs;
mod view;

pub use cost::pretrain_cost;
pub use dataset::{DataInfo, datasets};

use crate::check::collect::{Recipe, SPLIT_AXIS, ScopeRef};
use crate::diagnostic::{Diagnostic, Diagnostics, Kind, closest};
use crate::expand::{Cell, Expanded};
use crate::schema::{EvalKind, FinetuneEval, KnnEval, LinearEval, Pretrain};
use augment::{color, spatial, temporal};
use checks::cross_checks;
use cost::full_batches;
use specs::{backbone_spec, check_decay, objective_spec, optimizer_spec, scaled_lr};
use view::View;
use vst_spec::arch::SlowResNet;
use vst_spec::*;

/// One evaluation block's typed settings, by kind.
enum EvalSettings {
    Linear(LinearEval),
    Knn(KnnEval),
    Finetune(FinetuneEval),
}

/// A cell's pre-training job and its evaluations, before job ids exist.
#[derive(Debug, Clone)]
pub struct BuiltCell {
    pub pretrain: PretrainJob,
    pub pretrain_cost: Cost,
    pub data: String,
    pub evals: Vec<BuiltEval>,
}

#[derive(Debug, Clone)]
pub struct BuiltEval {
    /// Index into [`Recipe::evals`].
    pub index: usize,
    pub eval: EvalSpec,
    pub data: String,
    pub dataset: DatasetSpec,
    pub cost: Cost,
}

pub struct CellBuilder<'a> {
    pub recipe: &'a Recipe,
    pub expanded: &'a Expanded,
    pub datasets: &'a [(String, DataInfo)],
    pub diags: &'a mut Diagnostics,
}

impl CellBuilder<'_> {
    fn data(&self, name: &str) -> Option<&DataInfo> {
        self.datasets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
    }

    fn view<'s>(&'s mut self, cell: &'s Cell, scope: ScopeRef) -> View<'s, 's> {
        View::new(self.recipe, self.expanded, cell, scope, self.diags)
    }

    /// The dataset `name` (the cell's `data` in `scope`), with an error when none is declared under that name.
    fn dataset_ref(
        &mut self,
        cell: &Cell,
        scope: ScopeRef,
        name: &str,
    ) -> Option<(String, DataInfo)> {
        let names: Vec<String> = self.datasets.iter().map(|(n, _)| n.clone()).collect();
        let mut view = self.view(cell, scope);
        if view.recipe.dataset(name).is_none() {
            let d = view
                .error_at(Kind::UnknownValue, "data", format!("no dataset named `{name}`"))
                .suggest(closest(name, names.iter().map(String::as_str)))
                .help("declare it with `data NAME = kinetics(...)`, `frames(...)`, `synthetic(...)`, `ucf101(...)`, \
                       `hmdb51(...)`, `ssv2(...)` or `charades(...)`");
            view.report(d);
            return None;
        }
        let info = self.data(name)?;
        // A dataset declared with several splits reads the one the cell's `split` axis names.
        let info = match info.splits.as_slice() {
            [] | [_] => info.clone(),
            _ => {
                let split = self
                    .recipe
                    .axis_named(SPLIT_AXIS)
                    .and_then(|a| {
                        let value = cell.coords.get(a)?;
                        self.recipe.axes[a].values.get(*value)
                    })
                    .and_then(|v| v.label.parse::<u32>().ok())?;
                info.with_split(split)
            }
        };
        Some((name.to_string(), info))
    }

    pub fn build(&mut self, cell: &Cell) -> Option<BuiltCell> {
        let mut view = self.view(cell, ScopeRef::Pretrain);
        let settings = view.read(Pretrain::read)?;
        // Required settings.
        let required = [
            ("data", settings.data.is_some()),
            ("objective", settings.objective.is_some()),
        ];
        for (key, _) in required.iter().filter(|(_, set)| !set) {
            let help = if *key == "data" {
                "add e.g. `data: k400` to `pretrain { ... }`, after `data k400 = kinetics(...)`"
            } else {
                "add e.g. `objective: byol` to `pretrain { ... }`, or sweep it"
            };
            let mut d = Diagnostic::error(Kind::MissingSetting, format!("`{key}` is not set"))
                .at(view.recipe.pretrain.unwrap_or_default())
                .help(help);
            if view.recipe.sweep.is_none() && view.recipe.reports.is_empty() {
                d = d.note("if this file holds settings shared by other recipes, check the recipes that `use` it");
            }
            view.report(d);
        }
        let (Some(data_name), Some(objective_name)) = (&settings.data, settings.objective) else {
            return None;
        };
        let (data_name, data) = self.dataset_ref(cell, ScopeRef::Pretrain, data_name)?;
        let mut view = self.view(cell, ScopeRef::Pretrain);

        let Some(backbone) = backbone_spec(&settings.backbone) else {
            let d = Diagnostic::error(
                Kind::Internal,
                format!(
                    "internal error: no backbone named `{}`",
                    settings.backbone.name
                ),
            )
            .at(view.span("backbone"));
            view.report(d);
            return None;
        };

        // Augmentation.
        let augment = &settings.augment;
        let temporal = temporal(&mut view, &augment.temporal);
        let spatial_aug = spatial(&mut view, &augment.spatial, "augment.S", "S");
        let color = color(&mut view, &augment.color);
        let normalize = Normalize {
            mean: augment.mean,
            std: augment.std,
        };
        if normalize.std.contains(&0.0) {
            let d = view.error_at(
                Kind::OutOfRange,
                "augment.std",
                "a normalisation std of 0 divides by zero".into(),
            );
            view.report(d);
        }

        // Schedule.
        let schedule = &settings.schedule;
        let (lr, lr_rule) = scaled_lr(schedule.lr, schedule.lr_scaling, schedule.batch);
        let (warmup_start_lr, _) =
            scaled_lr(schedule.warmup_start, schedule.lr_scaling, schedule.batch);
        let schedule_spec = ScheduleSpec {
            epochs: schedule.epochs,
            batch: schedule.batch,
            optimizer: optimizer_spec(&schedule.optimizer, schedule.weight_decay),
            lr,
            lr_rule,
            warmup_epochs: schedule.warmup,
            warmup_start_lr,
            decay: schedule.decay.clone(),
        };
        check_decay(
            &mut view,
            "schedule.decay",
            &schedule.decay,
            schedule.epochs,
        );

        let device = match settings.device.name.as_str() {
            "cuda" => DeviceSpec::Cuda {
                index: settings.device.int("index").unwrap_or(0).max(0) as u32,
            },
            _ => DeviceSpec::Cpu,
        };
        let job = PretrainJob {
            dataset: data.spec.clone(),
            backbone: backbone.clone(),
            clips: ClipSpec {
                count: settings.clips,
                span: settings.span,
            },
            augment: AugmentSpec {
                temporal,
                spatial: spatial_aug.clone(),
                color,
                normalize,
            },
            objective: objective_spec(objective_name, &settings),
            schedule: schedule_spec,
            checkpoint_every: settings.checkpoint_every,
            seed: settings.seed,
            device,
            bn_batch: settings.bn_batch,
            weights: settings.weights.clone(),
            precision: settings.precision,
        };

        // Checks across settings.
        cross_checks(&mut view, &job, &data);
        let net = match SlowResNet::new(&backbone, spatial_aug.size.max(1)) {
            Ok(net) => Some(net),
            Err(e) => {
                let at = match e {
                    vst_spec::arch::ArchError::Width { .. } => view.arg_span("backbone", "width"),
                    vst_spec::arch::ArchError::Frames => view.arg_span("backbone", "frames"),
                    _ => view.span("backbone"),
                };
                let d = Diagnostic::error(
                    Kind::BackboneInvalid,
                    format!("the backbone cannot be built: {e}"),
                )
                .at(at);
                view.report(d);
                None
            }
        };
        let ok = view.ok();

        let pretrain_cost = net
            .as_ref()
            .map(|n| pretrain_cost(&job, &data, n.forward_gmacs()))
            .unwrap_or_default();
        let mut evals = Vec::new();
        for index in 0..self.recipe.evals.len() {
            if let Some(e) = self.build_eval(cell, index, &job, &data_name, &data) {
                evals.push(e);
            }
        }
        (ok && net.is_some()).then_some(BuiltCell {
            pretrain: job,
            pretrain_cost,
            data: data_name,
            evals,
        })
    }

    fn build_eval(
        &mut self,
        cell: &Cell,
        index: usize,
        pretrain: &PretrainJob,
        pretrain_data: &str,
        pretrain_info: &DataInfo,
    ) -> Option<BuiltEval> {
        let scope = ScopeRef::Eval(index);
        let kind = self.recipe.evals[index].kind;
        let eval_name = self.recipe.evals[index].name.clone();
        let settings = {
            let mut view = self.view(cell, scope);
            match kind {
                EvalKind::Linear => EvalSettings::Linear(view.read(LinearEval::read)?),
                EvalKind::Knn => EvalSettings::Knn(view.read(KnnEval::read)?),
                EvalKind::Finetune => EvalSettings::Finetune(view.read(FinetuneEval::read)?),
            }
        };
        let (own_data, views, view_size) = match &settings {
            EvalSettings::Linear(s) => (&s.data, s.views, s.view_size),
            EvalSettings::Knn(s) => (&s.data, s.views, s.view_size),
            EvalSettings::Finetune(s) => (&s.data, s.views, s.view_size),
        };
        let (data_name, data) = match own_data {
            Some(name) => self.dataset_ref(cell, scope, name)?,
            None => (pretrain_data.to_string(), pretrain_info.clone()),
        };
        let mut view = self.view(cell, scope);
        supervision_checks(&mut view, &settings, &eval_name, (&data_name, &data));
        let test_views = TestViews {
            temporal: views.0,
            spatial: views.1,
            size: view_size,
        };
        let view_gmacs = SlowResNet::new(&pretrain.backbone, view_size)
            .map(|n| n.forward_gmacs())
            .unwrap_or(0.0);
        let test_clips = data
            .val_videos
            .saturating_mul(u64::from(views.0))
            .saturating_mul(u64::from(views.1));
        let (eval, cost) = match &settings {
            EvalSettings::Linear(linear) => {
                let LinearEval { epochs, batch, .. } = *linear;
                let (lr, lr_rule) = scaled_lr(linear.lr, linear.lr_scaling, batch);
                let train_spatial = spatial(
                    &mut view,
                    &linear.augment,
                    "augment",
                    &format!("the augmentation of `evaluate {eval_name}`"),
                );
                let warmup_epochs = linear.warmup;
                if warmup_epochs > f64::from(epochs) {
                    let d = view.error_at(Kind::IncompatibleSettings, "warmup", format!("the warm-up ({warmup_epochs} epochs) is longer than training ({epochs} epochs)"));
                    view.report(d);
                }
                if u64::from(batch) > data.train_videos {
                    let d = view.error_at(
                        Kind::IncompatibleSettings,
                        "batch",
                        format!("the batch ({batch}) is larger than the training set of `{data_name}` ({} videos)", data.train_videos),
                    );
                    view.report(d);
                }
                let spec = LinearEvalSpec {
                    epochs,
                    batch,
                    lr,
                    lr_rule,
                    warmup_epochs,
                    weight_decay: linear.weight_decay,
                    momentum: linear.momentum,
                    train_spatial: train_spatial.clone(),
                    views: test_views,
                };
                let train_gmacs = SlowResNet::new(&pretrain.backbone, train_spatial.size.max(1))
                    .map(|n| n.forward_gmacs())
                    .unwrap_or(0.0);
                let train_clips =
                    u64::from(epochs).saturating_mul(full_batches(data.train_videos, batch));
                let cost = Cost {
                    clips: train_clips + test_clips,
                    gmacs: train_clips as f64 * train_gmacs + test_clips as f64 * view_gmacs,
                };
                (EvalSpec::Linear(spec), cost)
            }
            EvalSettings::Knn(knn) => {
                let k = knn.k;
                if u64::from(k) > data.train_videos {
                    let d = Diagnostic::warning(Kind::Suspicious, format!(
                        "k = {k} neighbours, but `{data_name}` has {} training videos: every vote uses them all",
                        data.train_videos
                    ))
                    .at(view.span("k"));
                    view.report(d);
                }
                let spec = KnnEvalSpec {
                    k,
                    temperature: knn.temperature,
                    views: test_views,
                };
                let clips = data.train_videos.saturating_add(test_clips);
                (
                    EvalSpec::Knn(spec),
                    Cost {
                        clips,
                        gmacs: clips as f64 * view_gmacs,
                    },
                )
            }
            EvalSettings::Finetune(finetune) => finetune::finetune_eval(
                &mut view,
                finetune,
                &eval_name,
                &pretrain.backbone,
                (&data_name, &data),
                test_views,
            ),
        };
        let ok = view.ok();
        ok.then_some(BuiltEval {
            index,
            eval,
            data: data_name,
            dataset: data.spec,
            cost,
        })
    }
}

/// What a dataset's labels allow a supervised evaluation: no horizontal flip where it changes the label
/// (Something-Something v2), and only fine-tuning (per-class sigmoids, mAP) on multi-label data (Charades).
fn supervision_checks(
    view: &mut View<'_, '_>,
    settings: &EvalSettings,
    eval_name: &str,
    (data_name, data): (&str, &DataInfo),
) {
    let source = &data.spec.source;
    let augment = match settings {
        EvalSettings::Linear(s) => Some(&s.augment),
        EvalSettings::Finetune(s) => Some(&s.augment),
        EvalSettings::Knn(_) => None,
    };
    let flip = augment.and_then(|ops| ops.iter().find(|op| op.name == "flip"));
    if let Some(flip) = flip
        && !source.flip_preserves_labels()
        && flip.float("p").is_none_or(|p| p > 0.0)
    {
        // Point at the `flip` the recipe wrote; a default augmentation points at the evaluation's block.
        let written = view.user_span("augment").is_some();
        let at = match written {
            true => flip.span,
            false => view.span("augment"),
        };
        let mut d = Diagnostic::error(
            Kind::IncompatibleSettings,
            format!(
                "`evaluate {eval_name}` flips its training clips horizontally, but `{data_name}` is {}, whose labels a \
                 flip changes (`Pushing something from left to right`)",
                source.title()
            ),
        )
        .at(at)
        .help(format!(
            "write `evaluate {eval_name}`'s `augment:` without `flip`, e.g. `augment: [short_side(256..320), \
             crop(224)]` (PySlowFast's SSv2 fine-tuning configs set RANDOM_FLIP: False)"
        ));
        if !written {
            d = d.note(
                "the default `augment` flips (it is PySlowFast's UCF101 fine-tuning augmentation)",
            );
        }
        view.report(d);
    }
    if source.multi_label() && !matches!(settings, EvalSettings::Finetune(_)) {
        let d = view
            .error_at(
                Kind::IncompatibleSettings,
                "data",
                format!(
                    "`{data_name}` is {}, a multi-label dataset: `evaluate {eval_name}` predicts one class per video",
                    source.title()
                ),
            )
            .help("evaluate multi-label data with `kind: finetune` (per-class sigmoids, reported as `NAME.map`)");
        view.report(d);
    }
}
