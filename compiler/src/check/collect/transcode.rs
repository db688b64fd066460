//! `prepare: transcode(source: ...)` in a `kinetics(...)` or `frames(...)` declaration: the recipe asks its prepare
//! job to make the dataset's copy. Its arguments are completed here and the rules that involve the declaration
//! around it are checked where they are written: an even short side, the mp4-only and JPEG-only arguments on the
//! matching source, one frame rate for a frame-folder copy, a source other than the copy, lists named inside both.

use super::*;
use crate::check::value::{CallValue, Value};
use crate::diagnostic::Kind;
use crate::syntax::ast::{Expr, ExprKind};

/// Arguments that only an H.264 copy (`kinetics`) uses, and the one only JPEG folders (`frames`) use.
const MP4_ONLY: [&str; 3] = ["keyframe_interval", "crf", "preset"];
const JPEG_ONLY: [&str; 1] = ["jpeg_quality"];

/// The expression written for argument `param` of the call `expr` (named, or by position).
fn arg_expr<'e>(expr: &'e Expr, param: &str) -> Option<&'e Expr> {
    let ExprKind::Call { name, args } = &expr.kind else {
        return None;
    };
    let function = crate::schema::function(&name.name)?;
    let mut positional = function.params.iter().filter(|p| p.positional);
    args.items.iter().find_map(|arg| {
        let this = match &arg.name {
            Some(n) => n.dotted(),
            None => positional.next()?.name.to_string(),
        };
        (this == param).then_some(&arg.value)
    })
}

/// A path argument as it resolved.
fn resolved(value: Option<&Value>) -> Option<std::path::PathBuf> {
    match value? {
        Value::Path { resolved, .. } => Some(resolved.into()),
        Value::Str(s) => Some(s.into()),
        _ => None,
    }
}

/// `a` and `b` name the same folder as written (`data/x` and `./data/x/`).
fn same_folder(a: &std::path::Path, b: &std::path::Path) -> bool {
    fn normal(p: &std::path::Path) -> Vec<std::path::Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect()
    }
    normal(a) == normal(b)
}

impl Collector<'_, '_> {
    /// Completes the `transcode(...)` of a dataset declaration (`decl_expr` as written) and checks it against the
    /// declaration around it. False when an error was reported.
    pub(super) fn transcode(&mut self, decl_expr: &Expr, dataset: &mut CallValue) -> bool {
        let Some(Value::Call(call)) = dataset.get("prepare").cloned() else {
            return true;
        };
        let Some(call) = self.typer().complete(call) else {
            return false;
        };
        let Some(call_expr) = arg_expr(decl_expr, "prepare") else {
            return false;
        };
        let at = |param: &str| arg_expr(call_expr, param).map_or(call.span, |e| e.span);
        let mut ok = true;

        if let Some(side) = call.int("short_side")
            && side % 2 != 0
        {
            self.error(
                Diagnostic::error(
                    Kind::OutOfRange,
                    format!(
                        "the short side {side} is odd: 4:2:0 video halves it, so it must be even"
                    ),
                )
                .at(at("short_side"))
                .help(format!("use {} or {}", side - 1, side + 1)),
            );
            ok = false;
        }

        let (format, not_here) = match dataset.name.as_str() {
            "frames" => ("JPEG frame folders", &MP4_ONLY[..]),
            _ => ("an H.264 mp4 copy", &JPEG_ONLY[..]),
        };
        for arg in not_here {
            if call.has(arg) {
                let other = if dataset.name == "frames" {
                    "kinetics"
                } else {
                    "frames"
                };
                self.error(
                    Diagnostic::error(
                        Kind::IncompatibleSettings,
                        format!(
                            "`{arg}` does not apply to {format}: `{}(...)` reads them",
                            dataset.name
                        ),
                    )
                    .at(at(arg))
                    .help(format!(
                        "leave it out, or declare the dataset with `{other}(...)` to prepare the other format"
                    )),
                );
                ok = false;
            }
        }

        // A frame-folder copy is read at the rate it was extracted at: one number for both.
        if dataset.name == "frames" {
            let read_fps = dataset.float("fps").unwrap_or(30.0);
            match call.int("fps") {
                Some(fps) if (fps as f64 - read_fps).abs() > 1e-9 => {
                    let mut d = Diagnostic::error(
                        Kind::IncompatibleSettings,
                        format!(
                            "the folders would be extracted at {fps} fps but read as {} fps",
                            crate::check::value::number(read_fps)
                        ),
                    )
                    .at(at("fps"))
                    .help("leave out the transcode's `fps`: it takes the dataset's");
                    if let Some(e) = arg_expr(decl_expr, "fps") {
                        d = d.secondary(e.span, "the rate the folders are read at");
                    }
                    self.error(d);
                    ok = false;
                }
                Some(_) => {}
                None if read_fps.fract() != 0.0 => {
                    let span = arg_expr(decl_expr, "fps").map_or(dataset.span, |e| e.span);
                    self.error(
                        Diagnostic::error(
                            Kind::IncompatibleSettings,
                            format!(
                                "frame folders extracted by the prepare job have a whole frame rate, not {}",
                                crate::check::value::number(read_fps)
                            ),
                        )
                        .at(span)
                        .help("choose a whole `fps`, e.g. 30"),
                    );
                    ok = false;
                }
                None => {}
            }
        }

        let source = resolved(call.get("source"));
        let root = resolved(dataset.get("root"));
        if let (Some(source), Some(root)) = (&source, &root)
            && same_folder(source, root)
        {
            self.error(
                Diagnostic::error(
                    Kind::IncompatibleSettings,
                    "the transcode's source is the dataset's root: the copy needs a folder of its own",
                )
                .at(at("source"))
                .help("write the prepared copy's folder as `root:` and the original as `source:`"),
            );
            ok = false;
        }

        // The copy's lists mirror the source's: both are named relative to their roots.
        for list in ["train", "val"] {
            if let Some(path) = resolved(dataset.get(list))
                && path.is_absolute()
            {
                let span = arg_expr(decl_expr, list).map_or(dataset.span, |e| e.span);
                self.error(
                    Diagnostic::error(
                        Kind::IncompatibleSettings,
                        format!(
                            "with `prepare`, the `{list}` list is named relative to the root: the source's list \
                             has that name under `source`, the copy's under `root`"
                        ),
                    )
                    .at(span),
                );
                ok = false;
            }
        }

        dataset.set("prepare", Value::Call(call));
        ok
    }
}
