//! The augmentation ops of a cell (T, S, C; and a linear probe's training S) as specs, with the checks on each list
//! (an op given twice, two crops, no crop, a crop larger than the short side, colour-jitter forms).

use super::view::View;
use crate::check::value::{CallValue, Value};
use crate::diagnostic::{Diagnostic, Kind};
use crate::syntax::Span;
use vst_spec::*;

/// True (with an error) when `op` was already given in `group`; otherwise remembers it.
fn repeated(
    view: &mut View<'_, '_>,
    seen: &mut Vec<(String, Span)>,
    op: &CallValue,
    group: &str,
) -> bool {
    if let Some((_, first)) = seen.iter().find(|(n, _)| *n == op.name) {
        let d = Diagnostic::error(
            Kind::DuplicateAugmentation,
            format!("`{}` appears twice in {group}", op.name),
        )
        .at(op.span)
        .secondary(*first, "first here");
        view.report(d);
        return true;
    }
    seen.push((op.name.clone(), op.span));
    false
}

/// Builds T from its ops.
pub(super) fn temporal(view: &mut View<'_, '_>, ops: &[CallValue]) -> TemporalAug {
    let mut temporal = TemporalAug {
        random_start: false,
        frame_rate_jitter: None,
        temporal_difference: None,
    };
    let mut seen: Vec<&str> = Vec::new();
    for op in ops {
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
    temporal
}

/// Builds S (or a linear probe's training augmentation) from its ops.
pub(super) fn spatial(
    view: &mut View<'_, '_>,
    ops: &[CallValue],
    key: &str,
    group: &str,
) -> SpatialAug {
    let mut aug = SpatialAug {
        size: 0,
        short_side: None,
        resized_crop: None,
        flip: None,
        center: false,
    };
    let mut crop: Option<Span> = None;
    let mut seen: Vec<(String, Span)> = Vec::new();
    for op in ops {
        if repeated(view, &mut seen, op, group) {
            continue;
        }
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
                Kind::IncompatibleSettings,
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

pub(super) fn color(view: &mut View<'_, '_>, ops: &[CallValue]) -> ColorAug {
    let mut aug = ColorAug {
        jitter: None,
        grayscale: None,
        blur: None,
    };
    let mut seen: Vec<(String, Span)> = Vec::new();
    for op in ops {
        if repeated(view, &mut seen, op, "C") {
            continue;
        }
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
