//! One cell's resolved settings → the runtime's job configurations ([`PretrainJob`], [`EvalSpec`]), with the checks
//! that involve several settings at once (MoCo's queue and the batch, ρ = 1 and deterministic crops, clip length and
//! video length, crop and frame size, warm-up and epochs, ...) and the cost estimate of each job.

use crate::check::collect::{DatasetDecl, Recipe, ScopeRef};
use crate::check::value::{CallValue, Value};
use crate::diagnostic::Kind;
use crate::diagnostic::{Diagnostic, Diagnostics, closest};
use crate::expand::{Cell, Expanded, Resolved, cell_name};
use crate::syntax::Span;
use std::path::{Path, PathBuf};
use vst_spec::arch::SlowResNet;
use vst_spec::*;

/// A dataset with what the cost estimate needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataInfo {
    pub spec: DatasetSpec,
    pub train_videos: u64,
    pub val_videos: u64,
    /// Synthetic videos: frames per video and frame size.
    pub synthetic: Option<SynthSpec>,
}

/// Builds every declared dataset (once per recipe).
pub fn datasets(recipe: &Recipe) -> Vec<(String, DataInfo)> {
    let mut out: Vec<(String, DataInfo)> = Vec::new();
    for decl in &recipe.datasets {
        let info = dataset(decl);
        match out.iter_mut().find(|(n, _)| *n == decl.name) {
            // A later file's declaration overrides an included one.
            Some(slot) => slot.1 = info,
            None => out.push((decl.name.clone(), info)),
        }
    }
    out
}

fn path_of(call: &CallValue, arg: &str) -> PathBuf {
    match call.get(arg) {
        Some(Value::Path { resolved, .. }) => PathBuf::from(resolved),
        Some(Value::Str(s)) => PathBuf::from(s),
        _ => PathBuf::new(),
    }
}

/// A list path is relative to the dataset root unless absolute.
fn under(root: &Path, list: PathBuf) -> PathBuf {
    if list.is_absolute() {
        list
    } else {
        root.join(list)
    }
}

fn dataset(decl: &DatasetDecl) -> DataInfo {
    let call = &decl.value;
    let int = |name: &str| call.int(name).unwrap_or(0).max(0) as u64;
    let name = decl.name.clone();
    match call.name.as_str() {
        "synthetic" => {
            let spec = SynthSpec {
                classes: int("classes") as u32,
                train_per_class: int("train_per_class") as u32,
                val_per_class: int("val_per_class") as u32,
                frames: int("frames") as u32,
                fps: call.float("fps").unwrap_or(16.0),
                width: int("width") as u32,
                height: int("height") as u32,
                nuisance: call.float("nuisance").unwrap_or(0.5),
                distractors: int("distractors") as u32,
                seed: int("seed"),
            };
            DataInfo {
                train_videos: u64::from(spec.classes) * u64::from(spec.train_per_class),
                val_videos: u64::from(spec.classes) * u64::from(spec.val_per_class),
                synthetic: Some(spec.clone()),
                spec: DatasetSpec {
                    name,
                    source: DataSource::Synthetic(spec),
                },
            }
        }
        kind => {
            let root = path_of(call, "root");
            let train_list = under(&root, path_of(call, "train"));
            let val_list = under(&root, path_of(call, "val"));
            let source = if kind == "frames" {
                DataSource::Frames {
                    root,
                    train_list,
                    val_list,
                    fps: call.float("fps").unwrap_or(30.0),
                }
            } else {
                DataSource::Kinetics {
                    root,
                    train_list,
                    val_list,
                }
            };
            DataInfo {
                spec: DatasetSpec { name, source },
                train_videos: int("train_videos"),
                val_videos: int("val_videos"),
                synthetic: None,
            }
        }
    }
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

/// Accessors over one cell's values in one scope; problems become diagnostics that name the cell.
struct View<'a, 'd> {
    recipe: &'a Recipe,
    expanded: &'a Expanded,
    cell: &'a Cell,
    scope: ScopeRef,
    diags: &'d mut Diagnostics,
    ok: bool,
}

impl View<'_, '_> {
    fn get(&self, key: &str) -> Option<&Resolved> {
        let slot = self.expanded.slot(self.scope, key)?;
        self.cell.values.get(slot)
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.get(key).and_then(|r| r.value.as_ref())
    }

    fn user_span(&self, key: &str) -> Option<Span> {
        self.get(key).and_then(|r| r.origin.value_span())
    }

    /// Where an argument of a call-valued setting was given, else where the call was.
    fn arg_span(&self, key: &str, arg: &str) -> Span {
        self.get(key)
            .and_then(|r| r.arg_origin(arg).value_span())
            .unwrap_or_else(|| self.span(key))
    }

    /// Where to point for a problem with `key`: where it was set, else the block it belongs to.
    fn span(&self, key: &str) -> Span {
        let block = match self.scope {
            ScopeRef::Pretrain => self.recipe.pretrain,
            ScopeRef::Eval(i) => self.recipe.evals.get(i).map(|e| e.span),
        };
        self.user_span(key).or(block).unwrap_or_default()
    }

    fn cell_note(&self) -> Option<String> {
        if self.recipe.axes.is_empty() {
            None
        } else {
            Some(format!("in the cell {}", cell_name(self.recipe, self.cell)))
        }
    }

    fn report(&mut self, mut d: Diagnostic) {
        if d.is_error() {
            self.ok = false;
        }
        if let Some(note) = self.cell_note() {
            d = d.note(note);
        }
        self.diags.push(d);
    }

    fn error_at(&mut self, key: &str, message: String) -> Diagnostic {
        Diagnostic::error(Kind::IncompatibleSettings, message).at(self.span(key))
    }

    fn warning_at(&mut self, key: &str, message: String) -> Diagnostic {
        Diagnostic::warning(Kind::Suspicious, message).at(self.span(key))
    }

    fn int(&self, key: &str) -> i64 {
        self.value(key).and_then(Value::as_i64).unwrap_or(0)
    }

    fn float(&self, key: &str) -> f64 {
        self.value(key).and_then(Value::as_f64).unwrap_or(0.0)
    }

    fn word(&self, key: &str) -> &str {
        self.value(key).and_then(Value::as_word).unwrap_or("")
    }

    fn bool(&self, key: &str) -> bool {
        self.value(key).and_then(Value::as_bool).unwrap_or(false)
    }

    fn call(&self, key: &str) -> Option<&CallValue> {
        self.value(key).and_then(Value::as_call)
    }

    fn list(&self, key: &str) -> &[Value] {
        match self.value(key) {
            Some(Value::List(items)) => items,
            _ => &[],
        }
    }
}

fn mlp(call: Option<&CallValue>) -> MlpSpec {
    let int = |n: &str| call.and_then(|c| c.int(n)).unwrap_or(1).max(1) as u32;
    let flag = |n: &str| {
        call.and_then(|c| c.get(n))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    MlpSpec {
        layers: int("layers"),
        hidden: int("hidden"),
        out: int("out"),
        bn: flag("bn"),
        final_bn: flag("final_bn"),
    }
}

fn anneal(word: &str) -> Anneal {
    if word == "none" {
        Anneal::None
    } else {
        Anneal::Cosine
    }
}

fn pairs(word: &str) -> PairRule {
    match word {
        "consecutive" => PairRule::Consecutive,
        "first_two" => PairRule::FirstTwo,
        _ => PairRule::AllPairs,
    }
}

fn clip_loss(word: &str) -> ClipLoss {
    if word == "mean" {
        ClipLoss::Mean
    } else {
        ClipLoss::Sum
    }
}

/// The LR at `batch` under the rule.
fn scaled_lr(value: Option<&Value>, scaling: &str, batch: u32) -> (f64, LrRule) {
    match value {
        Some(Value::Lr {
            base,
            per: Some(per),
        }) => {
            let ratio = f64::from(batch) / f64::from(*per);
            let (lr, scaling) = if scaling == "sqrt" {
                (base * ratio.sqrt(), Scaling::Sqrt)
            } else {
                (base * ratio, Scaling::Linear)
            };
            (
                lr,
                LrRule {
                    base: *base,
                    per: *per,
                    scaling,
                },
            )
        }
        Some(Value::Lr { base, per: None }) => (
            *base,
            LrRule {
                base: *base,
                per: batch,
                scaling: Scaling::None,
            },
        ),
        _ => (
            0.0,
            LrRule {
                base: 0.0,
                per: batch.max(1),
                scaling: Scaling::None,
            },
        ),
    }
}

/// Builds S (or a linear probe's training augmentation) from its ops.
fn spatial(view: &mut View<'_, '_>, key: &str, group: &str) -> SpatialAug {
    let mut aug = SpatialAug {
        size: 0,
        short_side: None,
        resized_crop: None,
        flip: None,
        center: false,
    };
    let mut crop: Option<Span> = None;
    let mut seen: Vec<(String, Span)> = Vec::new();
    let ops: Vec<CallValue> = view
        .list(key)
        .iter()
        .filter_map(|v| v.as_call().cloned())
        .collect();
    for op in &ops {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == op.name) {
            let d = Diagnostic::error(
                Kind::DuplicateAugmentation,
                format!("`{}` appears twice in {group}", op.name),
            )
            .at(op.span)
            .secondary(*first, "first here");
            view.report(d);
            continue;
        }
        seen.push((op.name.clone(), op.span));
        let size = op.int("size").unwrap_or(0).max(0) as u32;
        let is_crop = matches!(op.name.as_str(), "resized_crop" | "crop" | "center_crop");
        if is_crop {
            if let Some(first) = crop {
                let d = Diagnostic::error(
                    Kind::DuplicateAugmentation,
                    format!("{group} has two crops"),
                )
                .at(op.span)
                .secondary(first, "the first crop")
                .help("keep one of `resized_crop`, `crop`, `center_crop`");
                view.report(d);
                continue;
            }
            crop = Some(op.span);
        }
        match op.name.as_str() {
            "short_side" => {
                if let Some(Value::Range(lo, hi)) = op.get("size") {
                    aug.short_side = Some(Range::new(*lo, *hi));
                }
            }
            "resized_crop" => {
                aug.size = size;
                let range = |n: &str| match op.get(n) {
                    Some(Value::Range(lo, hi)) => Range::new(*lo, *hi),
                    _ => Range::point(1.0),
                };
                aug.resized_crop = Some(ResizedCrop {
                    area: range("area"),
                    aspect: range("aspect"),
                });
            }
            "crop" => aug.size = size,
            "center_crop" => {
                aug.size = size;
                aug.center = true;
            }
            "flip" => aug.flip = op.float("p"),
            _ => {}
        }
    }
    if crop.is_none() {
        let d = view
            .error_at(
                key,
                format!("{group} has no crop, so the clip size is unknown"),
            )
            .help("add one of `resized_crop(224, ...)`, `crop(224)`, `center_crop(224)`");
        view.report(d);
    }
    if let (Some(short), Some(span)) = (aug.short_side, crop)
        && aug.resized_crop.is_none()
        && f64::from(aug.size) > short.lo
    {
        let d = Diagnostic::error(
            Kind::CropTooLarge,
            format!(
                "a {}-pixel crop does not fit a short side of {}",
                aug.size, short.lo
            ),
        )
        .at(span)
        .help("crop at most the smallest short side, or use `resized_crop`");
        view.report(d);
    }
    aug
}

impl CellBuilder<'_> {
    fn data(&self, name: &str) -> Option<&DataInfo> {
        self.datasets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d)
    }

    fn view<'s>(&'s mut self, cell: &'s Cell, scope: ScopeRef) -> View<'s, 's> {
        View {
            recipe: self.recipe,
            expanded: self.expanded,
            cell,
            scope,
            diags: self.diags,
            ok: true,
        }
    }

    /// The dataset a cell's `data` names, with an error when none is declared under that name.
    fn dataset_ref(
        &mut self,
        cell: &Cell,
        scope: ScopeRef,
        key: &str,
    ) -> Option<(String, DataInfo)> {
        let names: Vec<String> = self.datasets.iter().map(|(n, _)| n.clone()).collect();
        let mut view = self.view(cell, scope);
        let name = view.word(key).to_string();
        if name.is_empty() {
            return None;
        }
        if view.recipe.dataset(&name).is_none() {
            let d = view
                .error_at(key, format!("no dataset named `{name}`"))
                .suggest(closest(&name, names.iter().map(String::as_str)))
                .help("declare it with `data NAME = kinetics(...)`, `frames(...)` or `synthetic(...)`");
            view.report(d);
            return None;
        }
        self.data(&name).cloned().map(|d| (name, d))
    }

    pub fn build(&mut self, cell: &Cell) -> Option<BuiltCell> {
        // Required settings.
        {
            let mut view = self.view(cell, ScopeRef::Pretrain);
            for key in ["data", "objective"] {
                if view.value(key).is_none() {
                    let help = if key == "data" {
                        "add e.g. `data: k400` to `pretrain { ... }`, after `data k400 = kinetics(...)`"
                    } else {
                        "add e.g. `objective: byol` to `pretrain { ... }`, or sweep it"
                    };
                    let mut d =
                        Diagnostic::error(Kind::MissingSetting, format!("`{key}` is not set"))
                            .at(view.recipe.pretrain.unwrap_or_default())
                            .help(help);
                    if view.recipe.sweep.is_none() && view.recipe.reports.is_empty() {
                        d = d.note("if this file holds settings shared by other recipes, check the recipes that `use` it");
                    }
                    view.report(d);
                }
            }
            if !view.ok {
                return None;
            }
        }
        let (data_name, data) = self.dataset_ref(cell, ScopeRef::Pretrain, "data")?;
        let mut view = self.view(cell, ScopeRef::Pretrain);

        // Backbone.
        let backbone_call = view.call("backbone").cloned();
        let depth = match backbone_call.as_ref().map(|c| c.name.as_str()) {
            Some("slow_r18") => 18,
            Some("slow_r34") => 34,
            Some("slow_r101") => 101,
            _ => 50,
        };
        let bb_int = |n: &str| {
            backbone_call
                .as_ref()
                .and_then(|c| c.int(n))
                .unwrap_or(1)
                .max(1) as u32
        };
        let backbone = BackboneSpec {
            depth,
            frames: bb_int("frames"),
            stride: bb_int("stride"),
            width: backbone_call
                .as_ref()
                .and_then(|c| c.float("width"))
                .unwrap_or(1.0),
        };

        // Clips.
        let clips = view.int("clips").max(1) as u32;
        let span = match view.value("span") {
            Some(Value::Seconds(s)) => Timespan::Within { seconds: *s },
            _ => Timespan::Anywhere,
        };

        // Augmentation.
        let mut temporal = TemporalAug {
            random_start: false,
            frame_rate_jitter: None,
            temporal_difference: None,
        };
        let t_ops: Vec<CallValue> = view
            .list("augment.T")
            .iter()
            .filter_map(|v| v.as_call().cloned())
            .collect();
        let mut seen: Vec<&str> = Vec::new();
        for op in &t_ops {
            if seen.contains(&op.name.as_str()) {
                let d = Diagnostic::error(
                    Kind::DuplicateAugmentation,
                    format!("`{}` appears twice in T", op.name),
                )
                .at(op.span);
                view.report(d);
            }
            seen.push(&op.name);
            match op.name.as_str() {
                "random_start" => temporal.random_start = true,
                "frame_rate_jitter" => temporal.frame_rate_jitter = op.float("amount"),
                "temporal_difference" => temporal.temporal_difference = op.float("p"),
                _ => {}
            }
        }
        let spatial_aug = spatial(&mut view, "augment.S", "S");
        let color = color(&mut view);
        let channels = |v: Option<&Value>, fallback: f64| match v {
            Some(Value::Channels(c)) => *c,
            _ => [fallback; 3],
        };
        let normalize = Normalize {
            mean: channels(view.value("augment.mean"), 0.45),
            std: channels(view.value("augment.std"), 0.225),
        };
        if normalize.std.contains(&0.0) {
            let d = view.error_at(
                "augment.std",
                "a normalisation std of 0 divides by zero".into(),
            );
            view.report(d);
        }

        // Objective.
        let objective_name = view.word("objective").to_string();
        let momentum = |view: &View<'_, '_>, prefix: &str| MomentumSpec {
            base: view.float(&format!("{prefix}.momentum")),
            anneal: anneal(view.word(&format!("{prefix}.anneal"))),
        };
        let objective = match objective_name.as_str() {
            "moco" => ObjectiveSpec::Moco(MocoSpec {
                temperature: view.float("moco.temperature"),
                head: mlp(view.call("moco.head")),
                queue: view.int("moco.queue").max(1) as u32,
                momentum: momentum(&view, "moco"),
                shuffle_bn: view.bool("moco.shuffle_bn"),
                pairs: pairs(view.word("moco.pairs")),
                clip_loss: clip_loss(view.word("moco.clip_loss")),
            }),
            "simclr" => ObjectiveSpec::SimClr(SimClrSpec {
                temperature: view.float("simclr.temperature"),
                head: mlp(view.call("simclr.head")),
                pairs: pairs(view.word("simclr.pairs")),
                clip_loss: clip_loss(view.word("simclr.clip_loss")),
            }),
            "swav" => ObjectiveSpec::Swav(SwavSpec {
                temperature: view.float("swav.temperature"),
                head: mlp(view.call("swav.head")),
                prototypes: view.int("swav.prototypes").max(1) as u32,
                sinkhorn_epsilon: view.float("swav.sinkhorn_epsilon"),
                sinkhorn_iterations: view.int("swav.sinkhorn_iterations").max(1) as u32,
                freeze_prototypes_epochs: view.float("swav.freeze_prototypes"),
                queue: view.int("swav.queue").max(0) as u32,
                pairs: pairs(view.word("swav.pairs")),
            }),
            _ => ObjectiveSpec::Byol(ByolSpec {
                head: mlp(view.call("byol.head")),
                predictor: mlp(view.call("byol.predictor")),
                momentum: momentum(&view, "byol"),
                clip_loss: clip_loss(view.word("byol.clip_loss")),
            }),
        };

        // Schedule.
        let epochs = view.int("schedule.epochs").max(0) as u32;
        let batch = view.int("schedule.batch").max(1) as u32;
        let scaling = view.word("schedule.lr_scaling").to_string();
        let (lr, lr_rule) = scaled_lr(view.value("schedule.lr"), &scaling, batch);
        let (warmup_start_lr, _) = scaled_lr(view.value("schedule.warmup_start"), &scaling, batch);
        let weight_decay = view.float("schedule.weight_decay");
        let optimizer_call = view.call("schedule.optimizer").cloned();
        let opt_float = |n: &str, d: f64| {
            optimizer_call
                .as_ref()
                .and_then(|c| c.float(n))
                .unwrap_or(d)
        };
        let opt_bool = |n: &str, d: bool| {
            optimizer_call
                .as_ref()
                .and_then(|c| c.get(n))
                .and_then(Value::as_bool)
                .unwrap_or(d)
        };
        let optimizer = match optimizer_call.as_ref().map(|c| c.name.as_str()) {
            Some("sgd") => OptimizerSpec::Sgd {
                momentum: opt_float("momentum", 0.9),
                weight_decay,
                nesterov: opt_bool("nesterov", true),
            },
            _ => OptimizerSpec::Lars {
                momentum: opt_float("momentum", 0.9),
                weight_decay,
                trust: opt_float("trust", 0.001),
                exclude_bn_bias: opt_bool("exclude_bn_bias", true),
                nesterov: opt_bool("nesterov", true),
            },
        };
        let warmup_epochs = view.float("schedule.warmup");
        let decay = if view.word("schedule.decay") == "constant" {
            Decay::Constant
        } else {
            Decay::Cosine
        };
        let schedule = ScheduleSpec {
            epochs,
            batch,
            optimizer,
            lr,
            lr_rule,
            warmup_epochs,
            warmup_start_lr,
            decay,
        };

        let device = match view.call("device") {
            Some(c) if c.name == "cuda" => DeviceSpec::Cuda {
                index: c.int("index").unwrap_or(0).max(0) as u32,
            },
            _ => DeviceSpec::Cpu,
        };
        let sync_bn = match view.value("sync_bn") {
            Some(Value::Int(n)) => SyncBn::Group {
                devices: (*n).max(1) as u32,
            },
            Some(Value::Word(w)) if w == "none" => SyncBn::Local,
            _ => SyncBn::Global,
        };
        let job = PretrainJob {
            dataset: data.spec.clone(),
            backbone: backbone.clone(),
            clips: ClipSpec { count: clips, span },
            augment: AugmentSpec {
                temporal,
                spatial: spatial_aug.clone(),
                color,
                normalize,
            },
            objective,
            schedule,
            checkpoint_every: view.int("checkpoint_every").max(1) as u32,
            seed: view.int("seed").max(0) as u64,
            device,
            sync_bn,
            weights: match view.value("weights") {
                Some(Value::Path { resolved, .. }) => Some(PathBuf::from(resolved)),
                Some(Value::Str(s)) => Some(PathBuf::from(s)),
                _ => None,
            },
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
        let ok = view.ok;

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
        let own_data = self.view(cell, scope).value("data").is_some();
        let (data_name, data) = if own_data {
            self.dataset_ref(cell, scope, "data")?
        } else {
            (pretrain_data.to_string(), pretrain_info.clone())
        };
        let kind = self.recipe.evals[index].kind;
        let eval_name = self.recipe.evals[index].name.clone();
        let mut view = self.view(cell, scope);
        let views = match view.value("views") {
            Some(Value::Views(t, s)) => (*t, *s),
            _ => (1, 1),
        };
        let view_size = view.int("view_size").max(1) as u32;
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
        let (eval, cost) = match kind {
            crate::schema::EvalKind::Linear => {
                let epochs = view.int("epochs").max(1) as u32;
                let batch = view.int("batch").max(1) as u32;
                let scaling = view.word("lr_scaling").to_string();
                let (lr, lr_rule) = scaled_lr(view.value("lr"), &scaling, batch);
                let train_spatial = spatial(
                    &mut view,
                    "augment",
                    &format!("the augmentation of `evaluate {eval_name}`"),
                );
                let warmup_epochs = view.float("warmup");
                if warmup_epochs > f64::from(epochs) {
                    let d = view.error_at("warmup", format!("the warm-up ({warmup_epochs} epochs) is longer than training ({epochs} epochs)"));
                    view.report(d);
                }
                if u64::from(batch) > data.train_videos {
                    let d = view.error_at(
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
                    weight_decay: view.float("weight_decay"),
                    momentum: view.float("momentum"),
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
            crate::schema::EvalKind::Knn => {
                let k = view.int("k").max(1) as u32;
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
                    temperature: view.float("temperature"),
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
        };
        let ok = view.ok;
        ok.then_some(BuiltEval {
            index,
            eval,
            data: data_name,
            dataset: data.spec,
            cost,
        })
    }
}

fn color(view: &mut View<'_, '_>) -> ColorAug {
    let mut aug = ColorAug {
        jitter: None,
        grayscale: None,
        blur: None,
    };
    let ops: Vec<CallValue> = view
        .list("augment.C")
        .iter()
        .filter_map(|v| v.as_call().cloned())
        .collect();
    let mut seen: Vec<(String, Span)> = Vec::new();
    for op in &ops {
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == op.name) {
            let d = Diagnostic::error(
                Kind::DuplicateAugmentation,
                format!("`{}` appears twice in C", op.name),
            )
            .at(op.span)
            .secondary(*first, "first here");
            view.report(d);
            continue;
        }
        seen.push((op.name.clone(), op.span));
        match op.name.as_str() {
            "color_jitter" => {
                let four = ["brightness", "contrast", "saturation", "hue"];
                let given = four.iter().filter(|n| op.has(n)).count();
                let p = op.float("p").unwrap_or(0.8);
                match (op.float("strength"), given) {
                    (Some(s), 0) => {
                        if 0.2 * s > 0.5 {
                            let d = Diagnostic::error(
                                Kind::BadColorJitter,
                                format!(
                                    "colour strength {s} gives a hue jitter of {} (at most 0.5)",
                                    0.2 * s
                                ),
                            )
                            .at(op.span);
                            view.report(d);
                        }
                        aug.jitter = Some(ColorJitter {
                            brightness: 0.8 * s,
                            contrast: 0.8 * s,
                            saturation: 0.8 * s,
                            hue: 0.2 * s,
                            p,
                        });
                    }
                    (None, 4) => {
                        let f = |n: &str| op.float(n).unwrap_or(0.0);
                        aug.jitter = Some(ColorJitter {
                            brightness: f("brightness"),
                            contrast: f("contrast"),
                            saturation: f("saturation"),
                            hue: f("hue"),
                            p,
                        });
                    }
                    (Some(_), _) => {
                        let d = Diagnostic::error(Kind::BadColorJitter, "`color_jitter` takes either `strength` or the four strengths, not both")
                            .at(op.span);
                        view.report(d);
                    }
                    (None, _) => {
                        let d = Diagnostic::error(Kind::BadColorJitter, "`color_jitter` needs all four strengths, or `strength: s`")
                            .at(op.span)
                            .help("e.g. `color_jitter(0.6, 0.6, 0.6, 0.15, p: 0.8)` or `color_jitter(strength: 0.75)`");
                        view.report(d);
                    }
                }
            }
            "grayscale" => aug.grayscale = op.float("p"),
            "blur" => {
                let sigma = match op.get("sigma") {
                    Some(Value::Range(lo, hi)) => Range::new(*lo, *hi),
                    _ => Range::new(0.1, 2.0),
                };
                aug.blur = Some(Blur {
                    sigma,
                    p: op.float("p").unwrap_or(0.5),
                });
            }
            _ => {}
        }
    }
    aug
}

fn cross_checks(view: &mut View<'_, '_>, job: &PretrainJob, data: &DataInfo) {
    let schedule = &job.schedule;
    if let ObjectiveSpec::Moco(moco) = &job.objective
        && moco.queue % schedule.batch != 0
    {
        let blame = if view.user_span("moco.queue").is_some() {
            "moco.queue"
        } else {
            "schedule.batch"
        };
        let d = view
            .error_at(
                blame,
                format!(
                    "MoCo's queue ({}) is not a multiple of the global batch ({})",
                    moco.queue, schedule.batch
                ),
            )
            .note("each step replaces one batch of keys in the queue")
            .help(format!(
                "e.g. `moco.queue: {}`",
                (moco.queue / schedule.batch).max(1) * schedule.batch
            ));
        view.report(d);
    }
    if let ObjectiveSpec::Moco(moco) = &job.objective
        && u64::from(moco.queue) > data.train_videos
    {
        let d = Diagnostic::warning(Kind::Suspicious, format!(
            "MoCo's queue ({}) is longer than the training set of `{}` ({} videos)",
            moco.queue, job.dataset.name, data.train_videos
        ))
        .at(view.span("moco.queue"))
        .note("the queue then holds keys of the query's own video, which the loss treats as negatives");
        view.report(d);
    }
    let spatial = &job.augment.spatial;
    let spatially_random = !spatial.center
        || spatial.flip.is_some()
        || spatial.short_side.is_some_and(|r| r.lo < r.hi);
    if job.clips.count == 1 && !spatially_random && spatial.size > 0 {
        let d = view
            .error_at(
                "clips",
                "with `clips: 1` the two views of a video differ only by S, but S is deterministic"
                    .into(),
            )
            .note("ρ = 1 trains on two spatial crops of one clip")
            .help("use a random crop (`crop`, `resized_crop`) or a flip in `augment.S`");
        view.report(d);
    }
    if schedule.epochs == 0 && job.weights.is_none() {
        // Legitimate as a baseline (what a random encoder's features already give), but easy to write by mistake.
        let d = view
            .warning_at(
                "schedule.epochs",
                "0 epochs and no `weights`: the evaluations measure the randomly initialised encoder".into(),
            )
            .note("a random-encoder baseline; nothing is trained")
            .help("train at least 1 epoch, or set `weights` to a weights file to evaluate it as it is");
        view.report(d);
    }
    if schedule.epochs > 0 && schedule.warmup_epochs > f64::from(schedule.epochs) {
        let d = view.error_at(
            "schedule.warmup",
            format!(
                "the warm-up ({} epochs) is longer than training ({} epochs)",
                schedule.warmup_epochs, schedule.epochs
            ),
        );
        view.report(d);
    }
    if let ObjectiveSpec::Swav(swav) = &job.objective
        && schedule.epochs > 0
        && swav.freeze_prototypes_epochs >= f64::from(schedule.epochs)
    {
        let d = Diagnostic::warning(
            Kind::Suspicious,
            format!(
                "the prototypes stay frozen for {} epochs, the whole training",
                swav.freeze_prototypes_epochs
            ),
        )
        .at(view.span("swav.freeze_prototypes"));
        view.report(d);
    }
    if u64::from(schedule.batch) > data.train_videos {
        let d = view.error_at(
            "schedule.batch",
            format!(
                "the batch ({}) is larger than the training set of `{}` ({} videos)",
                schedule.batch, job.dataset.name, data.train_videos
            ),
        );
        view.report(d);
    }
    if let Some(synth) = &data.synthetic {
        let jitter = job.augment.temporal.frame_rate_jitter.unwrap_or(0.0);
        let needed =
            f64::from(job.backbone.frames) * f64::from(job.backbone.stride) * (1.0 + jitter);
        if needed > f64::from(synth.frames) {
            let d = view
                .error_at(
                    "backbone",
                    format!(
                        "a clip spans {} frames ({} frames × stride {}{}), but the videos of `{}` have {}",
                        needed.ceil(),
                        job.backbone.frames,
                        job.backbone.stride,
                        if jitter > 0.0 { format!(" × {} for the frame-rate jitter", 1.0 + jitter) } else { String::new() },
                        job.dataset.name,
                        synth.frames
                    ),
                )
                .help("sample fewer frames, a smaller stride, or make the synthetic videos longer");
            view.report(d);
        }
        let short = synth.width.min(synth.height);
        if spatial.short_side.is_none() && spatial.resized_crop.is_none() && spatial.size > short {
            let d = view.error_at(
                "augment.S",
                format!(
                    "a {}-pixel crop does not fit the {}×{} frames of `{}`",
                    spatial.size, synth.width, synth.height, job.dataset.name
                ),
            );
            view.report(d);
        }
    }
}

/// Videos seen per epoch: whole batches only (the last partial batch is dropped).
fn full_batches(videos: u64, batch: u32) -> u64 {
    let batch = u64::from(batch.max(1));
    (videos / batch) * batch
}

/// Clips drawn and forward GFLOPs of a pre-training: ρ clips per video (two crops when ρ = 1), each through both the
/// online and the momentum encoder for MoCo and BYOL.
pub fn pretrain_cost(job: &PretrainJob, data: &DataInfo, gmacs_per_clip: f64) -> Cost {
    let views = u64::from(job.clips.count.max(2));
    let encoders = match job.objective {
        ObjectiveSpec::Moco(_) | ObjectiveSpec::Byol(_) => 2.0,
        _ => 1.0,
    };
    let videos = u64::from(job.schedule.epochs)
        .saturating_mul(full_batches(data.train_videos, job.schedule.batch));
    let clips = videos.saturating_mul(views);
    Cost {
        clips,
        gmacs: clips as f64 * encoders * gmacs_per_clip,
    }
}
