//! `vst plan --gpus N` / `--nodes N --gpus-per-node M`: what each device does when a plan runs data-parallel.
//!
//! The recipe states the global batch and the LR for it; splitting over devices changes neither (the point of
//! stating them globally). What changes, and is shown here: the batch each device holds, the number of optimiser
//! steps of the warm-up, and how many devices share batch-norm statistics.

use super::memory::{gib, training_bytes};
use crate::build::DataInfo;
use std::fmt::Write as _;
use vst_spec::{EvalSpec, JobKind, Plan, Scaling};

/// How many devices, and how they are grouped into nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct World {
    pub nodes: u32,
    pub per_node: u32,
    /// Memory of one device, in GiB.
    pub device_gib: f64,
}

impl World {
    /// All devices (saturating: no real cluster comes near `u32::MAX`).
    pub fn devices(&self) -> u32 {
        self.nodes.saturating_mul(self.per_node)
    }

    fn describe(&self) -> String {
        if self.nodes == 1 {
            format!(
                "{} device{}",
                self.per_node,
                if self.per_node == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "{} devices ({} nodes × {} GPUs)",
                self.devices(),
                self.nodes,
                self.per_node
            )
        }
    }
}

fn group(n: u64, thousands: bool) -> String {
    let s = n.to_string();
    if !thousands {
        return s;
    }
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rule(base: f64, per: u32, scaling: Scaling, batch: u32) -> String {
    match scaling {
        Scaling::None => "as stated".into(),
        Scaling::Linear => format!("{base} per {per} × {batch}/{per}"),
        Scaling::Sqrt => format!("{base} per {per} × √({batch}/{per})"),
    }
}

/// How a BN batch of `bn` videos is realised on devices holding `per_device` videos each, or why it cannot be.
fn bn_realisation(bn: u32, per_device: u32) -> Result<String, String> {
    if bn <= per_device {
        if !per_device.is_multiple_of(bn) {
            return Err(format!(
                "a device's {per_device} videos do not split into batch-norm batches of {bn}"
            ));
        }
        let micro = per_device / bn;
        Ok(if micro == 1 {
            format!("{bn} videos: one per device")
        } else {
            format!("{bn} videos: {micro} micro-batches per device")
        })
    } else if bn.is_multiple_of(per_device) {
        Ok(format!(
            "{bn} videos: SyncBN over {} devices",
            bn / per_device
        ))
    } else {
        Err(format!(
            "a batch-norm batch of {bn} videos cannot be spread over devices of {per_device} videos"
        ))
    }
}

/// The per-device view of every training job, or the problems that prevent the split.
pub fn per_device(
    plan: &Plan,
    datasets: &[(String, DataInfo)],
    world: World,
) -> Result<String, Vec<String>> {
    let devices = world.devices();
    let mut problems = Vec::new();
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut too_big = Vec::new();
    let train_videos = |name: &str| {
        datasets
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.train_videos)
            .unwrap_or(0)
    };
    for job in &plan.jobs {
        match &job.kind {
            JobKind::Pretrain(p) => {
                let s = &p.schedule;
                if s.batch % devices != 0 {
                    problems.push(format!(
                        "{}: the global batch of {} videos does not split evenly over {devices} devices",
                        job.name, s.batch
                    ));
                    continue;
                }
                let per_device = s.batch / devices;
                let views = p.clips.count.max(2);
                let steps_per_epoch = train_videos(&p.dataset.name) / u64::from(s.batch);
                let warmup_steps = (s.warmup_epochs * steps_per_epoch as f64).round() as u64;
                let bn = match bn_realisation(p.bn_batch.videos(s.batch), per_device) {
                    Ok(text) => text,
                    Err(why) => {
                        problems.push(format!(
                            "{}: {why}; change `bn_batch` or the device count",
                            job.name
                        ));
                        continue;
                    }
                };
                let clips = u64::from(per_device) * u64::from(views);
                // With --low-memory one graph holds one BN batch (or a device's share of one) of one view.
                let bn_clips = u64::from(p.bn_batch.videos(s.batch).min(per_device));
                let limit = world.device_gib * (1u64 << 30) as f64;
                let memory = match (training_bytes(p, clips), training_bytes(p, bn_clips)) {
                    (Some((activations, state)), Some((low_activations, _))) => {
                        let (total, low) = (activations + state, low_activations + state);
                        if total as f64 > limit {
                            let advice = if (low as f64) <= limit {
                                format!(
                                    "run it with `vst run --low-memory` (~{} per device: one batch-norm batch of \
                                     one view at a time, about a third more compute), or on more devices",
                                    gib(low)
                                )
                            } else {
                                "use more devices, or a smaller `bn_batch` with `vst run --low-memory`".into()
                            };
                            too_big.push(format!(
                                "{}: ~{} per device does not fit {} GiB ({} of activations for {clips} clips); {advice}",
                                job.name,
                                gib(total),
                                world.device_gib,
                                gib(activations)
                            ));
                        }
                        format!("~{} (low memory ~{})", gib(total), gib(low))
                    }
                    _ => "-".into(),
                };
                rows.push([
                    job.name.clone(),
                    format!("{per_device} videos ({clips} clips)"),
                    bn,
                    format!(
                        "{} ({})",
                        crate::check::value::number(s.lr),
                        rule(s.lr_rule.base, s.lr_rule.per, s.lr_rule.scaling, s.batch)
                    ),
                    format!(
                        "{} epochs = {} steps",
                        s.warmup_epochs,
                        group(warmup_steps, true)
                    ),
                    memory,
                ]);
            }
            JobKind::Eval(e) => {
                if let EvalSpec::Linear(l) = &e.eval {
                    if l.batch % devices != 0 {
                        problems.push(format!(
                            "{}: the probe's batch of {} videos does not split evenly over {devices} devices",
                            job.name, l.batch
                        ));
                        continue;
                    }
                    let steps_per_epoch = train_videos(&e.dataset.name) / u64::from(l.batch);
                    let warmup_steps = (l.warmup_epochs * steps_per_epoch as f64).round() as u64;
                    rows.push([
                        job.name.clone(),
                        format!("{} videos", l.batch / devices),
                        "frozen encoder".into(),
                        format!(
                            "{} ({})",
                            crate::check::value::number(l.lr),
                            rule(l.lr_rule.base, l.lr_rule.per, l.lr_rule.scaling, l.batch)
                        ),
                        format!(
                            "{} epochs = {} steps",
                            l.warmup_epochs,
                            group(warmup_steps, true)
                        ),
                        "-".into(),
                    ]);
                }
            }
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let header = [
        "job",
        "batch per device",
        "batch-norm batch",
        "learning rate (global)",
        "warm-up",
        "memory per device",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "on {}: the global batch and LR of the recipe, split per device (the same job ids on any device count)",
        world.describe()
    );
    let _ = writeln!(out);
    let mut line = |cells: [&str; 6]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            s.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(header);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]].map(String::as_str));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "memory: a lower-bound estimate (activations kept for the backward pass of every clip a device holds, \
         weights, gradients, optimiser state; f32); low memory: with `vst run --low-memory`"
    );
    for line in &too_big {
        let _ = writeln!(out, "does not fit: {line}");
    }
    Ok(out)
}
