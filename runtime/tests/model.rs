//! The backbone and heads: the model summary's cost (41.9 GMACs — the paper's "GFLOPs" — for Slow R-50 8×224²),
//! the built network matches the costed table, and a Slow R-50 written by PyTorch with PySlowFast's names (converted
//! by scripts/convert_pyslowfast.py) gives PyTorch's features in our engine.

mod common;

use common::{fixture_path, load_fixture};
use vst_engine::test_support::{FIXTURE_TOL, Fixture, assert_close};
use vst_engine::{Device, Graph, ParamKind, ParamStore, Var};
use vst_runtime::model::{BnUpdates, MlpHead, Mode, ModelSummary, ParamRoles, SlowResNetModel};
use vst_runtime::train::Learner;
use vst_runtime::train::checkpoint::read_checkpoint;
use vst_spec::{
    BackboneSpec, ClipLoss, Decay, LrRule, MlpSpec, MocoSpec, MomentumSpec, ObjectiveSpec,
    OptimizerSpec, PairRule, Scaling, ScheduleSpec, SimClrSpec,
};

fn slow_r50() -> BackboneSpec {
    BackboneSpec {
        depth: 50,
        frames: 8,
        stride: 8,
        width: 1.0,
    }
}

#[test]
fn slow_r50_8x8_at_224_is_41_9_gmacs_per_clip() {
    let summary = ModelSummary::new(&slow_r50(), 224).unwrap();
    assert!((summary.gmacs - 41.9).abs() < 0.05, "{}", summary.gmacs);
    let text = summary.to_string();
    assert!(
        text.contains("41.9 GMACs per clip (multiply-adds"),
        "{text}"
    );
    assert!(text.contains("res5"), "{text}");
    // The rows add up to the total.
    let rows: f64 = summary.rows.iter().map(|r| r.gmacs).sum();
    assert!((rows - summary.gmacs).abs() < 1e-9);
    let params: u64 = summary.rows.iter().map(|r| r.parameters).sum();
    assert_eq!(params, summary.backbone_parameters);
    // With BYOL's heads (2048 → 4096 → 256 projector, 256 → 4096 → 256 predictor, BN in both).
    let head = MlpSpec {
        layers: 2,
        hidden: 4096,
        out: 256,
        bn: true,
        final_bn: false,
    };
    let byol = ObjectiveSpec::Byol(vst_spec::ByolSpec {
        head: head.clone(),
        predictor: head,
        momentum: MomentumSpec {
            base: 0.996,
            anneal: vst_spec::Anneal::Cosine,
        },
        clip_loss: ClipLoss::Sum,
    });
    let with_heads = summary.with_objective(&byol).unwrap();
    let projector = 2048 * 4096 + 2 * 4096 + 4096 * 256 + 256;
    let predictor = 256 * 4096 + 2 * 4096 + 4096 * 256 + 256;
    assert_eq!(with_heads.heads[0].parameters, projector);
    assert_eq!(with_heads.heads[1].parameters, predictor);
    assert!(
        with_heads
            .to_string()
            .contains("predictor: 2 layer(s), 256 → 256")
    );
}

#[test]
fn built_network_has_exactly_the_costed_parameters() {
    let dev = Device::cpu();
    for (depth, width) in [(50, 0.125), (18, 0.25)] {
        let spec = BackboneSpec {
            depth,
            frames: 4,
            stride: 8,
            width,
        };
        let model = SlowResNetModel::new(&spec, 32, "backbone.").unwrap();
        let mut store = ParamStore::new();
        let mut roles = ParamRoles::new();
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        model.init(&mut store, &mut roles, &mut rng, &dev).unwrap();
        let summary = ModelSummary::new(&spec, 32).unwrap();
        assert_eq!(store.trainable_numel() as u64, summary.backbone_parameters);
        assert_eq!(roles.len(), store.trainable_names().len());
        // And a forward pass gives pool5 features of the table's width.
        let clips = vst_engine::Tensor::zeros(&[2, 4, 32, 32, 3], &dev).unwrap();
        let mut g = Graph::no_grad();
        let f = model
            .forward(
                &mut g,
                &store,
                &Var::constant(clips),
                Mode::Eval,
                &mut BnUpdates::new(),
            )
            .unwrap();
        assert_eq!(f.shape(), [2, summary.feature_dim as usize]);
    }
}

/// The backbone and head of the fixture, loaded from the converted PySlowFast checkpoint.
fn converted() -> (Fixture, SlowResNetModel, MlpHead, ParamStore) {
    let fx = load_fixture("pyslowfast_slow_r50.safetensors");
    let c = &fx.cases;
    let spec = BackboneSpec {
        depth: c["depth"].as_u64().unwrap() as u32,
        frames: c["frames"].as_u64().unwrap() as u32,
        stride: 8,
        width: c["width"].as_f64().unwrap(),
    };
    let crop = c["crop"].as_u64().unwrap() as u32;
    let model = SlowResNetModel::new(&spec, crop, "backbone.").unwrap();
    let head_spec = MlpSpec {
        layers: c["head_layers"].as_u64().unwrap() as u32,
        hidden: c["head_hidden"].as_u64().unwrap() as u32,
        out: c["head_out"].as_u64().unwrap() as u32,
        bn: c["head_bn"].as_bool().unwrap(),
        final_bn: false,
    };
    let head = MlpHead::new(
        &head_spec,
        model.feature_dim(),
        "backbone.head.projection",
        true,
    )
    .unwrap();
    let store = ParamStore::load(
        &fixture_path("pyslowfast_slow_r50.safetensors"),
        &Device::cpu(),
    )
    .unwrap();
    (fx, model, head, store)
}

#[test]
fn pyslowfast_checkpoint_gives_pytorch_features() {
    let (fx, model, head, store) = converted();
    // Every parameter and buffer our model creates is in the converted checkpoint under the same name and shape.
    let mut fresh = ParamStore::new();
    let mut roles = ParamRoles::new();
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    model
        .init(&mut fresh, &mut roles, &mut rng, &Device::cpu())
        .unwrap();
    head.init(&mut fresh, &mut roles, &mut rng, &Device::cpu())
        .unwrap();
    for (name, t, kind) in fresh.iter() {
        let theirs = store.get(name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(theirs.shape(), t.shape(), "{name}");
        assert_eq!(store.kind(name).unwrap(), kind, "{name}");
    }
    let input = Var::constant(fx.get("input"));
    let mut g = Graph::no_grad();
    let eval = model
        .forward(&mut g, &store, &input, Mode::Eval, &mut BnUpdates::new())
        .unwrap();
    assert_close(
        "eval-mode pool5",
        eval.value(),
        &fx.get("features_eval"),
        FIXTURE_TOL,
    );
    let mut updates = BnUpdates::new();
    let train = model
        .forward(&mut g, &store, &input, Mode::Train, &mut updates)
        .unwrap();
    assert_close(
        "train-mode pool5",
        train.value(),
        &fx.get("features_train"),
        FIXTURE_TOL,
    );
    let proj = head
        .forward(&mut g, &store, &train, Mode::Train, &mut updates)
        .unwrap();
    assert_close(
        "projection",
        proj.value(),
        &fx.get("projection_train"),
        FIXTURE_TOL,
    );
    // One batch statistic per batch norm (53 in the backbone, 2 in the head).
    assert_eq!(updates.len(), 53 + 2);
}

fn tiny_schedule() -> ScheduleSpec {
    ScheduleSpec {
        epochs: 1,
        batch: 2,
        optimizer: OptimizerSpec::Sgd {
            momentum: 0.9,
            weight_decay: 1e-4,
            nesterov: false,
        },
        lr: 0.1,
        lr_rule: LrRule {
            base: 0.1,
            per: 2,
            scaling: Scaling::None,
        },
        warmup_epochs: 0.0,
        warmup_start_lr: 0.0,
        decay: Decay::Cosine,
    }
}

#[test]
fn learner_loads_converted_pyslowfast_weights_and_round_trips_them() {
    let fx = load_fixture("pyslowfast_slow_r50.safetensors");
    let c = &fx.cases;
    let backbone = BackboneSpec {
        depth: 50,
        frames: 4,
        stride: 8,
        width: c["width"].as_f64().unwrap(),
    };
    let head = MlpSpec {
        layers: 3,
        hidden: 16,
        out: 8,
        bn: true,
        final_bn: false,
    };
    let objective = ObjectiveSpec::SimClr(SimClrSpec {
        temperature: 0.1,
        head,
        pairs: PairRule::AllPairs,
        clip_loss: ClipLoss::Sum,
    });
    let dev = Device::cpu();
    let mut learner =
        Learner::new(&backbone, 16, &objective, &tiny_schedule(), 10, 0, &dev).unwrap();
    let missing = learner
        .load_weights(&fixture_path("pyslowfast_slow_r50.safetensors"))
        .unwrap();
    assert!(missing.is_empty(), "missing: {missing:?}");
    let features = learner.features(&fx.get("input")).unwrap();
    assert_close("features", &features, &fx.get("features_eval"), FIXTURE_TOL);

    // Our checkpoint keeps every converted tensor bit for bit, under the same names.
    let dir = std::env::temp_dir().join(format!("vst-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ckpt.safetensors");
    learner.save(&path).unwrap();
    let file = read_checkpoint(&path, &dev).unwrap();
    let original =
        ParamStore::load(&fixture_path("pyslowfast_slow_r50.safetensors"), &dev).unwrap();
    let mut compared = 0;
    for (name, t, kind) in original.iter() {
        if !name.starts_with("backbone.") {
            continue;
        }
        let ours = &file.tensors[name];
        assert_eq!(ours.to_vec().unwrap(), t.to_vec().unwrap(), "{name}");
        assert_eq!(
            file.buffers.contains(name),
            kind == ParamKind::Buffer,
            "{name}"
        );
        compared += 1;
    }
    assert_eq!(compared, learner.online().len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn moco_learner_rejects_weights_of_another_shape() {
    let fx = load_fixture("pyslowfast_slow_r50.safetensors");
    let backbone = BackboneSpec {
        depth: 50,
        frames: 4,
        stride: 8,
        width: fx.cases["width"].as_f64().unwrap(),
    };
    // A projection of another width than the checkpoint's.
    let objective = ObjectiveSpec::Moco(MocoSpec {
        temperature: 0.1,
        head: MlpSpec {
            layers: 3,
            hidden: 32,
            out: 8,
            bn: true,
            final_bn: false,
        },
        queue: 16,
        momentum: MomentumSpec {
            base: 0.994,
            anneal: vst_spec::Anneal::Cosine,
        },
        shuffle_bn: true,
        pairs: PairRule::AllPairs,
        clip_loss: ClipLoss::Sum,
    });
    let mut learner = Learner::new(
        &backbone,
        16,
        &objective,
        &tiny_schedule(),
        10,
        0,
        &Device::cpu(),
    )
    .unwrap();
    let before = learner
        .online()
        .get("backbone.s1.pathway0_stem.conv.weight")
        .unwrap()
        .to_vec()
        .unwrap();
    let err = learner
        .load_weights(&fixture_path("pyslowfast_slow_r50.safetensors"))
        .unwrap_err();
    assert!(err.to_string().contains("has shape"), "{err}");
    // Nothing was loaded.
    let after = learner
        .online()
        .get("backbone.s1.pathway0_stem.conv.weight")
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(before, after);
}
