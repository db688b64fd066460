//! A `finetune` evaluation's typed settings → its spec and cost, with the checks across its settings (warm-up and
//! epochs, batch and training set).

use super::augment::{color, spatial};
use super::cost::full_batches;
use super::dataset::DataInfo;
use super::specs::{check_decay, scaled_lr};
use super::view::View;
use crate::diagnostic::Kind;
use crate::schema::FinetuneEval;
use crate::schema::typed::FinetuneStart;
use vst_spec::arch::SlowResNet;
use vst_spec::*;

/// The spec of `evaluate NAME { kind: finetune ... }` on `data` (named `data_name`) for a cell whose backbone is
/// `backbone`, and its cost: the training clips (one per video per epoch) and the test views, forward GMACs.
pub(super) fn finetune_eval(
    view: &mut View<'_, '_>,
    settings: &FinetuneEval,
    eval_name: &str,
    backbone: &BackboneSpec,
    (data_name, data): (&str, &DataInfo),
    views: TestViews,
) -> (EvalSpec, Cost) {
    let FinetuneEval { epochs, batch, .. } = *settings;
    let (lr, lr_rule) = scaled_lr(settings.lr, settings.lr_scaling, batch);
    let group = format!("the augmentation of `evaluate {eval_name}`");
    let train_spatial = spatial(view, &settings.augment, "augment", &group);
    let train_color = color(view, &settings.color);
    if settings.warmup > f64::from(epochs) {
        let d = view.error_at(
            Kind::IncompatibleSettings,
            "warmup",
            format!(
                "the warm-up ({} epochs) is longer than training ({epochs} epochs)",
                settings.warmup
            ),
        );
        view.report(d);
    }
    check_decay(view, "decay", &settings.decay, epochs);
    if u64::from(batch) > data.train_videos {
        let d = view.error_at(
            Kind::IncompatibleSettings,
            "batch",
            format!(
                "the batch ({batch}) is larger than the training set of `{data_name}` ({} videos)",
                data.train_videos
            ),
        );
        view.report(d);
    }
    let spec = FinetuneEvalSpec {
        from: match settings.from {
            FinetuneStart::Pretrained => vst_spec::FinetuneStart::Pretrained,
            FinetuneStart::Scratch => vst_spec::FinetuneStart::Scratch,
        },
        epochs,
        batch,
        lr,
        lr_rule,
        warmup_epochs: settings.warmup,
        warmup_start_lr: scaled_lr(settings.warmup_start, settings.lr_scaling, batch).0,
        decay: settings.decay.clone(),
        weight_decay: settings.weight_decay,
        momentum: settings.momentum,
        dropout: settings.dropout,
        train_spatial: train_spatial.clone(),
        train_color,
        views,
        checkpoint_every: settings.checkpoint_every,
    };
    let gmacs_at = |size: u32| {
        SlowResNet::new(backbone, size.max(1))
            .map(|n| n.forward_gmacs())
            .unwrap_or(0.0)
    };
    let train_clips = u64::from(epochs).saturating_mul(full_batches(data.train_videos, batch));
    let test_clips = data
        .val_videos
        .saturating_mul(u64::from(views.temporal))
        .saturating_mul(u64::from(views.spatial));
    let cost = Cost {
        clips: train_clips.saturating_add(test_clips),
        gmacs: train_clips as f64 * gmacs_at(train_spatial.size)
            + test_clips as f64 * gmacs_at(views.size),
    };
    (EvalSpec::Finetune(spec), cost)
}
