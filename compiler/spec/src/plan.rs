//! The execution plan: a DAG of jobs (prepare data → pretrain → evaluate → report), each identified by a content
//! hash of everything that determines its output.

use crate::config::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped whenever a change to the runtime changes what a job computes from the same configuration, so that job
/// hashes (and therefore cached results under `runs/<hash>/`) from older code are not reused.
pub const RESULTS_VERSION: u32 = 3;

/// A job's identity: hex of a content hash over its resolved configuration, its inputs' ids and
/// [`RESULTS_VERSION`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub String);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The recipe this plan was compiled from, as given on the command line.
    pub recipe: String,
    /// Jobs in a topological order: every job comes after all of its dependencies.
    pub jobs: Vec<Job>,
    /// Human names, from the schema, of the sweep keys and metrics the reports show, for plot axes: `clips` →
    /// `ρ, clips per video`, `linear.top1` → `linear top-1 accuracy (%)`. Presentation only: no job id reads it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    /// Human-readable, unique within the plan, e.g. `pretrain[objective=byol,clips=2]`.
    pub name: String,
    /// The sweep coordinates of this job (key → value as written in the recipe); empty outside sweeps.
    pub cell: BTreeMap<String, String>,
    pub deps: Vec<JobId>,
    pub cost: Cost,
    pub kind: JobKind,
}

/// What a job will process: clips through the backbone, and the forward multiply-adds through it in total, in
/// billions (GMACs: fvcore's count, which the paper and fvcore call "GFLOPs" — Slow R-50 8×224² is 41.9 — though a
/// multiply-add is two floating-point operations). Written as `gmacs`; files that say `gflops` (the same number,
/// from before it was labelled so) are read too.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Cost {
    pub clips: u64,
    /// Forward multiply-adds in billions (GMACs; the paper calls them GFLOPs). Plans written before the rename
    /// said `gflops`.
    #[serde(alias = "gflops")]
    pub gmacs: f64,
}

// A plan holds tens of jobs, built once: the size of the largest variant costs nothing worth a Box here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum JobKind {
    Prepare(PrepareJob),
    Pretrain(PretrainJob),
    Eval(EvalJob),
    Report(ReportJob),
}

impl JobKind {
    pub fn label(&self) -> &'static str {
        match self {
            JobKind::Prepare(_) => "prepare",
            JobKind::Pretrain(_) => "pretrain",
            JobKind::Eval(_) => "eval",
            JobKind::Report(_) => "report",
        }
    }
}

/// Make a dataset ready: generate the synthetic videos, or index and fingerprint a real dataset's lists and files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareJob {
    pub dataset: DatasetSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainJob {
    pub dataset: DatasetSpec,
    pub backbone: BackboneSpec,
    pub clips: ClipSpec,
    pub augment: AugmentSpec,
    pub objective: ObjectiveSpec,
    pub schedule: ScheduleSpec,
    /// Save a checkpoint every this many epochs (and always at the end).
    pub checkpoint_every: u32,
    pub seed: u64,
    pub device: DeviceSpec,
    /// Videos per batch-norm batch; absent from the JSON (and so from the job id) when it is the whole batch.
    #[serde(default, skip_serializing_if = "BnBatch::is_all")]
    pub bn_batch: BnBatch,
    /// Start from these weights (a vst weights file or a converted PySlowFast checkpoint) instead of a fresh
    /// initialisation; with 0 epochs the job trains nothing and its evaluations measure them as they are. Absent
    /// from the JSON (and so from the job id) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<std::path::PathBuf>,
    /// The arithmetic on a CUDA device; absent from the JSON (and so from the job id) when it is f32.
    #[serde(default, skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalJob {
    /// The evaluation block's name in the recipe (`linear`, `knn`, ...), used in metric names (`linear.top1`).
    pub name: String,
    pub eval: EvalSpec,
    /// The pretrain job whose encoder is evaluated; None for a fine-tune from scratch, which reads no pre-training
    /// (serialised as the bare id when present, so the ids of every other evaluation are what they were).
    pub pretrain: Option<JobId>,
    pub dataset: DatasetSpec,
    pub backbone: BackboneSpec,
    pub normalize: Normalize,
    pub seed: u64,
    pub device: DeviceSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportJob {
    pub report: ReportSpec,
    pub cells: Vec<ReportCell>,
}

/// One cell of a report table and the evaluation job that fills it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCell {
    pub row: Option<String>,
    pub col: Option<String>,
    /// The cell's label on the report's `over` axis (e.g. the seed), which the table aggregates. Absent from the
    /// JSON when the report has no `over`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
    pub eval: JobId,
}

impl Plan {
    pub fn job(&self, id: &JobId) -> Option<&Job> {
        self.jobs.iter().find(|j| &j.id == id)
    }

    pub fn count(&self, label: &str) -> usize {
        self.jobs.iter().filter(|j| j.kind.label() == label).count()
    }
}
