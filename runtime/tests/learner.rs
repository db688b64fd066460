//! The Learner end to end on a tiny Slow ResNet (R-18 at 1/16 width, 4 frames of 16×16): a few seconds of CPU
//! training with each objective lowers its loss without collapsing the embeddings; a NaN step is refused and
//! leaves everything as it was; save/load resumes bit for bit; bad input is refused with a clear message.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vst_engine::{Device, Tensor};
use vst_runtime::train::{Learner, StepStats, TrainError};
use vst_spec::{
    Anneal, BackboneSpec, ByolSpec, ClipLoss, Decay, LrRule, MlpSpec, MocoSpec, MomentumSpec,
    ObjectiveSpec, OptimizerSpec, PairRule, Scaling, ScheduleSpec, SimClrSpec, SwavSpec,
};

const FRAMES: usize = 4;
const SIDE: usize = 16;

fn backbone() -> BackboneSpec {
    BackboneSpec {
        depth: 18,
        frames: FRAMES as u32,
        stride: 8,
        width: 0.0625,
    }
}

fn head(bn: bool) -> MlpSpec {
    MlpSpec {
        layers: 2,
        hidden: 32,
        out: 16,
        bn,
        final_bn: false,
    }
}

/// Momentum of the key/target encoder. A short run needs a short memory: 0.99 would average over more steps than
/// the whole test runs.
fn momentum(base: f64) -> MomentumSpec {
    MomentumSpec {
        base,
        anneal: Anneal::Cosine,
    }
}

fn objective(kind: &str) -> ObjectiveSpec {
    match kind {
        "simclr" => ObjectiveSpec::SimClr(SimClrSpec {
            temperature: 0.1,
            head: head(true),
            pairs: PairRule::AllPairs,
            clip_loss: ClipLoss::Sum,
        }),
        "moco" => ObjectiveSpec::Moco(MocoSpec {
            temperature: 0.1,
            head: head(false),
            queue: 48,
            momentum: momentum(0.9),
            shuffle_bn: true,
            pairs: PairRule::AllPairs,
            clip_loss: ClipLoss::Sum,
        }),
        "byol" => ObjectiveSpec::Byol(ByolSpec {
            head: head(true),
            predictor: head(true),
            momentum: momentum(0.99),
            clip_loss: ClipLoss::Sum,
        }),
        "swav" => ObjectiveSpec::Swav(SwavSpec {
            temperature: 0.1,
            head: head(true),
            prototypes: 12,
            sinkhorn_epsilon: 0.05,
            sinkhorn_iterations: 3,
            freeze_prototypes_epochs: 1.0,
            queue: 32,
            pairs: PairRule::AllPairs,
        }),
        other => panic!("{other}"),
    }
}

fn schedule(optimizer: OptimizerSpec, lr: f64, epochs: u32) -> ScheduleSpec {
    ScheduleSpec {
        epochs,
        batch: 8,
        optimizer,
        lr,
        lr_rule: LrRule {
            base: lr,
            per: 8,
            scaling: Scaling::Linear,
        },
        warmup_epochs: 0.0,
        warmup_start_lr: 0.0,
        decay: Decay::Constant,
    }
}

fn sgd() -> OptimizerSpec {
    OptimizerSpec::Sgd {
        momentum: 0.9,
        weight_decay: 1e-4,
        nesterov: false,
    }
}

/// A pool of synthetic "videos", each a colour of its own plus a moving sinusoidal texture; a batch draws `BATCH`
/// of them, and every view is its video shifted by up to 4 pixels (wrapping), brightened or darkened a little, plus
/// noise — so the views of one video share what tells it apart from the others. Rows are video-major.
struct Videos {
    bases: Vec<Vec<f32>>,
    rng: ChaCha8Rng,
}

const BATCH: usize = 8;
const POOL: usize = 64;
const NOISE: f32 = 0.3;

impl Videos {
    fn new(count: usize, seed: u64) -> Videos {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut bases = Vec::with_capacity(count);
        for _ in 0..count {
            let colour: Vec<f32> = (0..3).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
            let (fx, fy, ft) = (
                rng.random_range(1..4) as f32,
                rng.random_range(1..4) as f32,
                rng.random::<f32>(),
            );
            let phase: Vec<f32> = (0..3)
                .map(|_| rng.random::<f32>() * std::f32::consts::TAU)
                .collect();
            let mut v = Vec::with_capacity(FRAMES * SIDE * SIDE * 3);
            for t in 0..FRAMES {
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        for c in 0..3 {
                            let arg = std::f32::consts::TAU * (fx * x as f32 + fy * y as f32)
                                / SIDE as f32
                                + ft * t as f32
                                + phase[c];
                            v.push(colour[c] + 0.5 * arg.sin());
                        }
                    }
                }
            }
            bases.push(v);
        }
        Videos { bases, rng }
    }

    fn batch(&mut self, videos: usize, views: usize) -> Tensor {
        let mut chosen: Vec<usize> = Vec::new();
        while chosen.len() < videos.min(self.bases.len()) {
            let b = self.rng.random_range(0..self.bases.len());
            if !chosen.contains(&b) {
                chosen.push(b);
            }
        }
        let mut data = Vec::new();
        for &b in &chosen {
            for _ in 0..views {
                let (dx, dy) = (
                    self.rng.random_range(0..5usize),
                    self.rng.random_range(0..5usize),
                );
                let gain = 1.0 + 0.2 * (self.rng.random::<f32>() - 0.5);
                for t in 0..FRAMES {
                    for y in 0..SIDE {
                        for x in 0..SIDE {
                            let (sy, sx) = ((y + dy) % SIDE, (x + dx) % SIDE);
                            for c in 0..3 {
                                let v = self.bases[b][((t * SIDE + sy) * SIDE + sx) * 3 + c];
                                data.push(
                                    gain * v + NOISE * (self.rng.random::<f32>() * 2.0 - 1.0),
                                );
                            }
                        }
                    }
                }
            }
        }
        let rows = chosen.len() * views;
        Tensor::from_vec(data, &[rows, FRAMES, SIDE, SIDE, 3], &Device::cpu()).unwrap()
    }
}

/// Trains `kind` for `steps` steps on batches of `BATCH` videos drawn from a pool of `pool`.
fn train(
    kind: &str,
    optimizer: OptimizerSpec,
    lr: f64,
    views: usize,
    steps: u64,
    epochs: u32,
    pool: usize,
) -> Vec<StepStats> {
    let mut learner = Learner::new(
        &backbone(),
        SIDE as u32,
        &objective(kind),
        &schedule(optimizer, lr, epochs),
        steps,
        7,
        &Device::cpu(),
    )
    .unwrap();
    let mut videos = Videos::new(pool, 11);
    let stats: Vec<StepStats> = (0..steps)
        .map(|k| learner.step(&videos.batch(BATCH, views), views, k).unwrap())
        .collect();
    // VST_TRACE=1 prints every step (to see a trajectory when tuning this test).
    if std::env::var("VST_TRACE").is_ok() {
        for s in &stats {
            eprintln!(
                "{kind} {:3} loss {:.4} std {:.4} upd {}",
                s.step, s.loss, s.embedding_std, s.updated
            );
        }
    }
    stats
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Loss falls (the mean of the last ten steps is below 80 % of the mean of the first three that updated the model)
/// and the final embeddings stay spread (per-dimension std at least 0.3 of what uniformly spread embeddings have;
/// a collapse drives it to 0).
fn check_learns(kind: &str, stats: &[StepStats]) {
    let updated: Vec<&StepStats> = stats.iter().filter(|s| s.updated).collect();
    let first = mean(updated[..3].iter().map(|s| s.loss));
    let last = mean(updated[updated.len() - 10..].iter().map(|s| s.loss));
    let end = stats.last().unwrap();
    eprintln!(
        "{kind}: loss {first:.4} → {last:.4}; embedding std {:.4} (uniform {:.4})",
        end.embedding_std, end.embedding_std_uniform
    );
    assert!(
        last < 0.8 * first,
        "{kind}: loss did not fall: {first} → {last}"
    );
    assert!(
        end.embedding_std > 0.3 * end.embedding_std_uniform,
        "{kind}: embeddings collapsed (std {} vs {} uniform)",
        end.embedding_std,
        end.embedding_std_uniform
    );
    assert!(stats.iter().all(|s| s.loss.is_finite()));
}

#[test]
fn simclr_learns_without_collapse() {
    // Always the same 8 videos: how hard a batch is then does not change from step to step, and the loss shows
    // the learning (with fresh videos it mostly shows whether two of them happen to look alike).
    let stats = train("simclr", sgd(), 0.05, 2, 25, 5, BATCH);
    check_learns("simclr", &stats);
}

#[test]
fn moco_learns_without_collapse_after_filling_its_queue() {
    // A pool of videos, so that the queue's negatives are mostly other videos than the batch's.
    // LR 0.02: the official loss sums the 3 query losses, so the step is about 3× that of their mean.
    let stats = train("moco", sgd(), 0.02, 3, 60, 5, POOL);
    // The official rule: no update during the first queue / batch = 48 / 8 = 6 steps (of the first epoch), although
    // with 3 views the queue holds only real keys from the third step on.
    assert_eq!(
        stats.iter().map(|s| s.updated).collect::<Vec<_>>()[..8],
        [false, false, false, false, false, false, true, true]
    );
    assert!(stats[5].grad_norm.is_none() && stats[6].grad_norm.is_some());
    let m: Vec<f64> = stats.iter().map(|s| s.momentum.unwrap()).collect();
    assert!((m[0] - 0.9).abs() < 1e-12 && m.windows(2).all(|w| w[1] >= w[0]));
    check_learns("moco", &stats);
}

#[test]
fn byol_learns_without_collapse_under_lars() {
    let lars = OptimizerSpec::Lars {
        momentum: 0.9,
        weight_decay: 1e-6,
        trust: 0.02,
        exclude_bn_bias: true,
        nesterov: true,
    };
    let stats = train("byol", lars, 2.0, 2, 25, 5, POOL);
    check_learns("byol", &stats);
}

#[test]
fn swav_learns_without_collapse_with_frozen_then_free_prototypes_and_queue() {
    // 20 epochs of 2 steps: prototypes frozen for epoch 0, queue used from epoch 15 (step 30) on.
    let stats = train("swav", sgd(), 0.05, 2, 40, 20, POOL);
    check_learns("swav", &stats);
}

fn learner(kind: &str, steps: u64) -> Learner {
    Learner::new(
        &backbone(),
        SIDE as u32,
        &objective(kind),
        &schedule(sgd(), 0.05, 2),
        steps,
        3,
        &Device::cpu(),
    )
    .unwrap()
}

fn weights(l: &Learner) -> Vec<Vec<f32>> {
    let mut out: Vec<Vec<f32>> = l
        .online()
        .iter()
        .map(|(_, t, _)| t.to_vec().unwrap())
        .collect();
    if let Some(t) = l.target() {
        out.extend(t.iter().map(|(_, t, _)| t.to_vec().unwrap()));
    }
    out
}

#[test]
fn save_and_load_resume_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("vst-learner-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for kind in ["moco", "swav"] {
        let path = dir.join(format!("{kind}.safetensors"));
        let mut videos = Videos::new(4, 5);
        let batches: Vec<Tensor> = (0..6).map(|_| videos.batch(4, 2)).collect();
        let mut a = learner(kind, 6);
        for (k, b) in batches[..3].iter().enumerate() {
            a.step(b, 2, k as u64).unwrap();
        }
        a.save(&path).unwrap();
        let rest_a: Vec<f64> = (3..6)
            .map(|k| a.step(&batches[k], 2, k as u64).unwrap().loss)
            .collect();

        let mut b = learner(kind, 6);
        b.load(&path).unwrap();
        assert_eq!(b.steps_done(), 3);
        let rest_b: Vec<f64> = (3..6)
            .map(|k| b.step(&batches[k], 2, k as u64).unwrap().loss)
            .collect();
        assert_eq!(rest_a, rest_b, "{kind}: losses after resuming");
        assert!(weights(&a) == weights(&b), "{kind}: weights after resuming");
    }
    // A checkpoint of another configuration is refused, and says why.
    let mut other = learner("simclr", 6);
    let err = other.load(&dir.join("moco.safetensors")).unwrap_err();
    assert!(err.to_string().contains("differs in: objective"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_nan_step_is_refused_and_changes_nothing() {
    let mut l = learner("moco", 10);
    let mut videos = Videos::new(4, 1);
    for k in 0..3 {
        l.step(&videos.batch(4, 2), 2, k).unwrap();
    }
    let before = weights(&l);
    let good = videos.batch(4, 2);
    let mut data = good.to_vec().unwrap();
    data[17] = f32::NAN;
    let poisoned = Tensor::from_vec(data, good.shape(), &Device::cpu()).unwrap();
    let err = l.step(&poisoned, 2, 3).unwrap_err();
    assert!(
        matches!(err, TrainError::NonFinite { step: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("rejected"), "{err}");
    assert!(
        weights(&l) == before,
        "weights, BN statistics or momentum encoder changed"
    );
    assert_eq!(l.steps_done(), 3);
    // The run carries on from the same step.
    assert!(l.step(&good, 2, 3).unwrap().loss.is_finite());
}

#[test]
fn refuses_bad_input_with_clear_messages() {
    let mut l = learner("simclr", 4);
    let mut videos = Videos::new(3, 2);
    let batch = videos.batch(3, 2); // 6 rows
    let msg = |e: TrainError| e.to_string();
    assert!(msg(l.step(&batch, 4, 0).unwrap_err()).contains("not a whole number of videos"));
    assert!(msg(l.step(&batch, 1, 0).unwrap_err()).contains("at least 2 views"));
    assert!(msg(l.step(&batch, 2, 4).unwrap_err()).contains("past the schedule"));
    let one_video = batch.slice(0, 0, 2).unwrap();
    assert!(msg(l.step(&one_video, 2, 0).unwrap_err()).contains("at least 2 videos"));
    let flat = batch.reshape(&[6, FRAMES * SIDE * SIDE * 3]).unwrap();
    assert!(msg(l.step(&flat, 2, 0).unwrap_err()).contains("channels-last"));
    assert!(msg(l.features(&flat).unwrap_err()).contains("channels-last"));
    assert_eq!(l.features(&batch).unwrap().shape(), [6, 32]);
    assert_eq!(l.steps_done(), 0);
}

#[test]
fn swav_prototypes_stay_put_during_the_first_epoch_then_learn() {
    // 2 epochs of 2 steps, prototypes frozen while the epoch is at most 1 (the official `epoch_exact <= 1.0`):
    // steps 0, 1 and 2 (epochs 0, 0.5 and 1.0).
    let mut l = learner("swav", 4);
    let mut videos = Videos::new(8, 4);
    let prototypes = |l: &Learner| {
        l.online()
            .get("swav_prototypes.weight")
            .unwrap()
            .to_vec()
            .unwrap()
    };
    let conv = |l: &Learner| {
        l.online()
            .get("backbone.s1.pathway0_stem.conv.weight")
            .unwrap()
            .to_vec()
            .unwrap()
    };
    let (p0, c0) = (prototypes(&l), conv(&l));
    for k in 0..3 {
        l.step(&videos.batch(4, 2), 2, k).unwrap();
    }
    let moved = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
    };
    // Re-normalising unit rows every step may change the last bit, nothing more.
    assert!(
        moved(&prototypes(&l), &p0) < 1e-6,
        "prototypes moved in the first epoch"
    );
    assert!(moved(&conv(&l), &c0) > 1e-4, "the backbone did not train");
    l.step(&videos.batch(4, 2), 2, 3).unwrap();
    assert!(
        moved(&prototypes(&l), &p0) > 1e-4,
        "prototypes still frozen after the first epoch"
    );
}
