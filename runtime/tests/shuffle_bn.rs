//! MoCo's shuffle-BN across two replicas against a PyTorch emulation of PySlowFast's `_batch_shuffle` /
//! `_batch_unshuffle` on 2 GPUs (scripts/make_shuffle_bn_fixtures.py, fixture runtime/tests/fixtures/
//! shuffle_bn.safetensors): the same tiny Slow R-50 momentum encoder, the same 8 videos and permutation, batch
//! norm over each GPU's 4 videos. The keys must match the shuffled reference (1e-4 of their largest value) and not
//! the unshuffled one (which the fixture shows differs by ~0.1).

use std::path::PathBuf;
use std::sync::Arc;

use vst_engine::test_support::{FIXTURE_TOL, Fixture, rel_err};
use vst_engine::{Device, Tensor};
use vst_runtime::distributed::{Communicator, ThreadGroup};
use vst_runtime::train::Learner;
use vst_spec::{
    Anneal, BackboneSpec, ClipLoss, Decay, LrRule, MlpSpec, MocoSpec, MomentumSpec, ObjectiveSpec,
    OptimizerSpec, PairRule, Scaling, ScheduleSpec,
};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shuffle_bn.safetensors")
}

fn number(cases: &serde_json::Value, key: &str) -> f64 {
    cases[key]
        .as_f64()
        .unwrap_or_else(|| panic!("fixture has no `{key}`"))
}

/// The fixture's MoCo learner on replica `world`, weights loaded from the fixture.
fn learner(cases: &serde_json::Value, world: Arc<dyn Communicator>) -> Learner {
    let head = &cases["head"];
    let spec = ObjectiveSpec::Moco(MocoSpec {
        temperature: number(cases, "temperature"),
        head: MlpSpec {
            out: head[0].as_u64().unwrap() as u32,
            hidden: head[1].as_u64().unwrap() as u32,
            layers: head[2].as_u64().unwrap() as u32,
            bn: head[3].as_bool().unwrap(),
            final_bn: false,
        },
        queue: number(cases, "queue_len") as u32,
        momentum: MomentumSpec {
            base: 0.9,
            anneal: Anneal::Cosine,
        },
        shuffle_bn: true,
        pairs: PairRule::AllPairs,
        clip_loss: ClipLoss::Sum,
    });
    let videos = number(cases, "videos") as u32;
    let schedule = ScheduleSpec {
        epochs: 1,
        batch: videos,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: true,
        },
        lr: 0.1,
        lr_rule: LrRule {
            base: 0.1,
            per: videos,
            scaling: Scaling::None,
        },
        warmup_epochs: 0.0,
        warmup_start_lr: 0.0,
        decay: Decay::Cosine,
    };
    let backbone = BackboneSpec {
        depth: 50,
        frames: number(cases, "frames") as u32,
        stride: 8,
        width: number(cases, "width"),
    };
    let gpus = number(cases, "gpus") as u32;
    let mut learner = Learner::new(
        &backbone,
        number(cases, "side") as u32,
        &spec,
        &schedule,
        1,
        0,
        &Device::cpu(),
    )
    .expect("learner")
    .with_bn_batch(Some(videos / gpus))
    .with_replicas(world);
    let missing = learner.load_weights(&fixture_path()).expect("weights");
    assert!(
        missing.iter().all(|m| !m.starts_with("backbone")),
        "the fixture lacks {missing:?}"
    );
    learner
}

#[test]
fn shuffle_bn_on_two_replicas_matches_the_official_shuffle() {
    let fixture = Arc::new(Fixture::load_from(&fixture_path(), &Device::cpu()));
    let gpus = number(&fixture.cases, "gpus") as usize;
    let perm: Vec<usize> = fixture
        .get("perm")
        .to_vec()
        .unwrap()
        .iter()
        .map(|v| *v as usize)
        .collect();
    let handles: Vec<_> = ThreadGroup::new(gpus)
        .into_iter()
        .map(|member| {
            let (fixture, perm) = (fixture.clone(), perm.clone());
            std::thread::spawn(move || {
                let rank = member.rank();
                let mut learner = learner(&fixture.cases, Arc::new(member));
                let x = fixture.get("x");
                let local = x.shape()[0] / gpus;
                let mine: Vec<usize> = (rank * local..(rank + 1) * local).collect();
                let view = x.index_select(0, &mine).unwrap();
                let shuffled = learner.momentum_keys(&view, Some(&perm)).expect("keys");
                let unshuffled = learner.momentum_keys(&view, None).expect("keys");
                (shuffled, unshuffled)
            })
        })
        .collect();
    let want: Tensor = fixture.get("keys_shuffled");
    let other: Tensor = fixture.get("keys_unshuffled");
    for (rank, handle) in handles.into_iter().enumerate() {
        let (shuffled, unshuffled) = handle.join().expect("replica");
        let err = rel_err(&shuffled, &want);
        eprintln!("replica {rank}: shuffled keys within {err:e} of the reference");
        assert!(
            err <= FIXTURE_TOL,
            "replica {rank}: shuffle-BN keys differ by {err:e}"
        );
        assert!(
            rel_err(&unshuffled, &other) <= FIXTURE_TOL,
            "replica {rank}: unshuffled keys"
        );
        assert!(
            rel_err(&shuffled, &other) > 100.0 * FIXTURE_TOL,
            "the test cannot tell shuffled from unshuffled keys"
        );
    }
}
