//! Data-parallel replicas train the model one replica trains. R replicas (threads of this process, through the
//! in-process communicator), each given its share of every step's batch, against one replica given the whole
//! batch: with SyncBN over all replicas (the default, whole-batch BN batch), with per-replica BN batches against
//! one replica running the same BN batches as micro-batches, and with SyncBN groups of 2 replicas. Every
//! objective, MoCo with shuffle-BN.
//!
//! Tolerances (measured values: `cargo test -p vst-runtime --test replicas -- --nocapture`): after one step at a
//! learning rate of 0.01, every entry agrees to 2e-5 of its tensor's largest value (floor 1e-3; the float sums run
//! in another order: measured 1.4e-7–1.8e-5, the largest in small BN biases). After 20 steps the whole model
//! agrees to 1e-3 relative (L2 over every entry). This tiny network's training is chaotic — a rounding difference
//! grows ~×3 per step at a learning rate of 1e-4 — so the 20-step runs use 1e-5, where the measured differences
//! are 4e-8–1e-7 in 14 of the 16 cases, 4.8e-6 (BYOL, micro-batches) and 1.7e-4 (SimCLR, SyncBN groups: its
//! steps 0–5 agree to 6e-8, then a near-degenerate BN batch starts the amplification). The replicas themselves
//! must agree bit for bit.

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vst_engine::{Device, Tensor};

/// A learner's online parameters and buffers, by name.
type Params = Vec<(String, Vec<f32>)>;
use vst_runtime::distributed::{Communicator, Solo, ThreadGroup};
use vst_runtime::train::Learner;
use vst_spec::{
    Anneal, BackboneSpec, ByolSpec, ClipLoss, Decay, LrRule, MlpSpec, MocoSpec, MomentumSpec,
    ObjectiveSpec, OptimizerSpec, PairRule, Scaling, ScheduleSpec, SimClrSpec, SwavSpec,
};

const FRAMES: usize = 4;
const SIDE: usize = 16;
const BATCH: usize = 16;
const VIEWS: usize = 2;
const STEPS: u64 = 20;
const ONE_STEP_LR: f64 = 0.01;
const MANY_STEPS_LR: f64 = 1e-5;
/// Per entry after one step, relative to the tensor's largest value.
const ONE_STEP_TOLERANCE: f32 = 2e-5;
/// Entries near 0 (biases after one step) are compared at this scale.
const SCALE_FLOOR: f32 = 1e-3;
/// The whole model after `STEPS` steps, relative (L2).
const MODEL_TOLERANCE: f64 = 1e-3;

fn head(bn: bool) -> MlpSpec {
    MlpSpec {
        layers: 2,
        hidden: 32,
        out: 16,
        bn,
        final_bn: false,
    }
}

fn objective(kind: &str) -> ObjectiveSpec {
    let momentum = MomentumSpec {
        base: 0.9,
        anneal: Anneal::Cosine,
    };
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
            queue: 32,
            momentum,
            shuffle_bn: true,
            pairs: PairRule::AllPairs,
            clip_loss: ClipLoss::Sum,
        }),
        "byol" => ObjectiveSpec::Byol(ByolSpec {
            head: head(true),
            predictor: head(true),
            momentum,
            clip_loss: ClipLoss::Sum,
        }),
        "swav" => ObjectiveSpec::Swav(SwavSpec {
            temperature: 0.1,
            head: head(true),
            prototypes: 12,
            sinkhorn_epsilon: 0.05,
            sinkhorn_iterations: 3,
            freeze_prototypes_epochs: 0.0,
            queue: 32,
            pairs: PairRule::AllPairs,
        }),
        other => panic!("{other}"),
    }
}

fn learner(kind: &str, bn_batch: Option<u32>, lr: f64, world: Arc<dyn Communicator>) -> Learner {
    let schedule = ScheduleSpec {
        epochs: 1,
        batch: BATCH as u32,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.9,
            weight_decay: 1e-4,
            nesterov: false,
        },
        lr,
        lr_rule: LrRule {
            base: lr,
            per: BATCH as u32,
            scaling: Scaling::Linear,
        },
        warmup_epochs: 0.0,
        warmup_start_lr: 0.0,
        decay: Decay::Constant,
    };
    let backbone = BackboneSpec {
        depth: 18,
        frames: FRAMES as u32,
        stride: 8,
        width: 0.0625,
    };
    Learner::new(
        &backbone,
        SIDE as u32,
        &objective(kind),
        &schedule,
        STEPS,
        7,
        &Device::cpu(),
    )
    .expect("learner")
    .with_bn_batch(bn_batch)
    .with_replicas(world)
}

/// The whole batch of step `step`, video-major: row i·VIEWS + j is view j of video i. Each video is a colour and
/// a moving sinusoidal texture of its own; its views add a little noise (smooth inputs, so that the training is
/// well conditioned and float rounding is not amplified from step to step).
fn batch(step: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(1000 + step);
    let mut data = Vec::with_capacity(BATCH * VIEWS * FRAMES * SIDE * SIDE * 3);
    for _ in 0..BATCH {
        let colour: Vec<f32> = (0..3).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
        let (fx, fy, ft) = (
            rng.random_range(1..4) as f32,
            rng.random_range(1..4) as f32,
            rng.random::<f32>(),
        );
        let phase: Vec<f32> = (0..3)
            .map(|_| rng.random::<f32>() * std::f32::consts::TAU)
            .collect();
        for _ in 0..VIEWS {
            for t in 0..FRAMES {
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        for c in 0..3 {
                            let arg = std::f32::consts::TAU * (fx * x as f32 + fy * y as f32)
                                / SIDE as f32
                                + ft * t as f32
                                + phase[c];
                            let noise = 0.1 * (rng.random::<f32>() * 2.0 - 1.0);
                            data.push(colour[c] + 0.5 * arg.sin() + noise);
                        }
                    }
                }
            }
        }
    }
    data
}

/// Trains one replica of `world` for STEPS steps on its share of every batch; returns its parameters.
fn train(kind: &str, bn_batch: Option<u32>, steps: u64, world: Arc<dyn Communicator>) -> Params {
    train_with(kind, bn_batch, steps, world, false)
}

fn train_with(
    kind: &str,
    bn_batch: Option<u32>,
    steps: u64,
    world: Arc<dyn Communicator>,
    low_memory: bool,
) -> Params {
    let (rank, replicas) = (world.rank(), world.size());
    // One step shows the gradient at a rate that moves every entry; 20 steps need a rate at which the tiny
    // network's training is not chaotic (see the module docs).
    let lr = if steps == 1 {
        ONE_STEP_LR
    } else {
        MANY_STEPS_LR
    };
    let mut learner = learner(kind, bn_batch, lr, world).with_low_memory(low_memory);
    let clip = FRAMES * SIDE * SIDE * 3;
    let rows = BATCH * VIEWS / replicas;
    for step in 0..steps {
        let all = batch(step);
        let mine = all[rank * rows * clip..(rank + 1) * rows * clip].to_vec();
        let x = Tensor::from_vec(mine, &[rows, FRAMES, SIDE, SIDE, 3], &Device::cpu()).unwrap();
        learner.step(&x, VIEWS, step).expect("step");
    }
    params(&learner)
}

fn params(learner: &Learner) -> Params {
    learner
        .online()
        .iter()
        .map(|(name, t, _)| (name.to_string(), t.to_vec().unwrap()))
        .collect()
}

fn on_replicas(
    kind: &'static str,
    bn_batch: Option<u32>,
    steps: u64,
    replicas: usize,
) -> Vec<Params> {
    let handles: Vec<_> = ThreadGroup::new(replicas)
        .into_iter()
        .map(|member| std::thread::spawn(move || train(kind, bn_batch, steps, Arc::new(member))))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("replica panicked"))
        .collect()
}

/// Largest difference between the stores' entries, relative to the entry's largest value.
fn max_relative_difference(a: &Params, b: &Params) -> (f32, String) {
    let mut worst = (0.0f32, String::new());
    for ((name, x), (other, y)) in a.iter().zip(b) {
        assert_eq!(name, other);
        let scale = x.iter().fold(SCALE_FLOOR, |m, v| m.max(v.abs()));
        let d = x
            .iter()
            .zip(y.iter())
            .fold(0.0f32, |m, (p, q)| m.max((p - q).abs()))
            / scale;
        if d > worst.0 || d.is_nan() {
            worst = (d, name.to_string());
        }
    }
    worst
}

/// ‖a − b‖ / ‖a‖ over every entry.
fn model_difference(a: &Params, b: &Params) -> f64 {
    let (mut diff, mut norm) = (0f64, 0f64);
    for ((_, x), (_, y)) in a.iter().zip(b) {
        for (p, q) in x.iter().zip(y) {
            diff += f64::from(p - q).powi(2);
            norm += f64::from(*p).powi(2);
        }
    }
    (diff / norm).sqrt()
}

/// The settings compared: (BN batch in videos, replicas).
const SETTINGS: [(Option<u32>, usize, &str); 4] = [
    (None, 2, "2 replicas, SyncBN over all"),
    (None, 4, "4 replicas, SyncBN over all"),
    (
        Some(4),
        2,
        "2 replicas of 2 BN batches each = 4 micro-batches on one",
    ),
    (Some(8), 4, "4 replicas in SyncBN groups of 2"),
];

fn check(kind: &'static str, steps: u64) {
    for (bn, replicas, what) in SETTINGS {
        let reference = train(kind, bn, steps, Arc::new(Solo));
        let trained = on_replicas(kind, bn, steps, replicas);
        for (rank, store) in trained.iter().enumerate() {
            if steps == 1 {
                let (d, name) = max_relative_difference(&reference, store);
                if rank == 0 {
                    eprintln!("{kind}, {what}: {d:e} after one step (`{name}`)");
                }
                assert!(
                    d <= ONE_STEP_TOLERANCE,
                    "{kind}, {what}: after one step replica {rank} differs from one replica by {d:e} in `{name}`"
                );
            } else {
                let d = model_difference(&reference, store);
                if rank == 0 {
                    eprintln!("{kind}, {what}: {d:e} after {steps} steps");
                }
                assert!(
                    d <= MODEL_TOLERANCE,
                    "{kind}, {what}: after {steps} steps replica {rank} differs from one replica by {d:e}"
                );
            }
        }
        for store in &trained[1..] {
            assert_eq!(
                max_relative_difference(&trained[0], store).0,
                0.0,
                "{kind}, {what}: the replicas disagree"
            );
        }
    }
}

#[test]
fn one_step_on_replicas_is_one_step_on_the_whole_batch() {
    for kind in ["simclr", "moco", "byol", "swav"] {
        check(kind, 1);
    }
}

#[test]
fn twenty_steps_on_replicas_train_the_model_of_one_replica() {
    for kind in ["simclr", "moco", "byol", "swav"] {
        check(kind, STEPS);
    }
}

#[test]
fn the_low_memory_backward_trains_the_same_model() {
    for kind in ["simclr", "moco", "byol", "swav"] {
        for (bn, replicas, what) in [
            (Some(4), 1, "4 micro-batches"),
            (None, 1, "the whole batch"),
            (Some(8), 4, "4 replicas in SyncBN groups of 2"),
        ] {
            for steps in [1, STEPS] {
                let reference = train(kind, bn, steps, Arc::new(Solo));
                let trained: Vec<Params> = {
                    let handles: Vec<_> = ThreadGroup::new(replicas)
                        .into_iter()
                        .map(|m| {
                            std::thread::spawn(move || {
                                train_with(kind, bn, steps, Arc::new(m), true)
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("replica"))
                        .collect()
                };
                if steps == 1 {
                    let (d, name) = max_relative_difference(&reference, &trained[0]);
                    eprintln!("{kind}, low memory, {what}: {d:e} after one step (`{name}`)");
                    assert!(
                        d <= ONE_STEP_TOLERANCE,
                        "{kind}, low memory, {what}: {d:e} in `{name}`"
                    );
                } else {
                    let d = model_difference(&reference, &trained[0]);
                    eprintln!("{kind}, low memory, {what}: {d:e} after {steps} steps");
                    assert!(
                        d <= MODEL_TOLERANCE,
                        "{kind}, low memory, {what}: {d:e} after {steps} steps"
                    );
                }
            }
        }
    }
}

#[test]
fn bn_batches_change_the_model() {
    // The tests above could pass if the BN batch were ignored; it is not: micro-batches train another model.
    let whole = train("simclr", None, 1, Arc::new(Solo));
    let micro = train("simclr", Some(4), 1, Arc::new(Solo));
    assert!(max_relative_difference(&whole, &micro).0 > 1e-3);
}

#[test]
fn a_bn_batch_that_does_not_divide_the_batch_is_refused() {
    let mut learner = learner("simclr", Some(3), ONE_STEP_LR, Arc::new(Solo));
    let x = Tensor::zeros(&[BATCH * VIEWS, FRAMES, SIDE, SIDE, 3], &Device::cpu()).unwrap();
    let err = learner.step(&x, VIEWS, 0).unwrap_err().to_string();
    assert!(err.contains("batch-norm batch of 3 videos"), "{err}");
}
