//! `vst export` against PyTorch: a small Slow R-50 (seeded weights, non-trivial batch norms), exported in
//! PySlowFast's names and layout, must be the file `scripts/make_export_fixtures.py` loaded — via a `.pyth`
//! checkpoint, `load_state_dict(strict=True)` into PySlowFast-named modules — and our features on the script's fixed
//! input must match the ones PyTorch computed from it to 1e-4.
//!
//! `VST_WRITE_EXPORT_FIXTURE=1` writes the export to tests/fixtures/export/encoder.safetensors (then run the
//! script); without it the test only reads the committed fixtures.
//!
//! The same network with a fine-tune's classifier, exported in pytorchvideo's layout, must be the file
//! `scripts/make_export_fixtures.py --layout pytorchvideo` loaded — with `load_state_dict(strict=True)` into the
//! model pytorchvideo's own `create_resnet` builds — and our features and logits must match PyTorch's to 1e-4.
//! `VST_WRITE_PYTORCHVIDEO_FIXTURE=1` writes that export to tests/fixtures/export/pytorchvideo_encoder.safetensors.
//! A Slow R-18, whose basic blocks `create_resnet` cannot build, must be refused in that layout.

mod common;

use rand::SeedableRng;
use std::path::PathBuf;
use vst_engine::test_support::{Fixture, assert_close};
use vst_engine::{Device, Graph, ParamStore, Tensor, Var};
use vst_runtime::model::{BnUpdates, Mode, ParamRoles, SlowResNetModel};
use vst_runtime::train::export::{
    CREATE_RESNET_KEY, CreateResnetArgs, export_pyslowfast, export_pytorchvideo,
};
use vst_spec::BackboneSpec;

use common::{fixture_path, load_fixture};

const TOL: f32 = 1e-4;

fn spec() -> BackboneSpec {
    BackboneSpec {
        depth: 50,
        frames: 4,
        stride: 1,
        width: 1.0 / 32.0,
    }
}

/// The encoder: He-initialised from a fixed seed, batch norms set to varied values (a swapped mean and variance, or
/// a scale given to the wrong layer, changes the features), plus entries an export must leave out.
fn encoder() -> (SlowResNetModel, ParamStore) {
    let dev = Device::cpu();
    let model = SlowResNetModel::new(&spec(), 16, "backbone.").expect("a small Slow R-50");
    let mut store = ParamStore::new();
    let mut roles = ParamRoles::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4325);
    model
        .init(&mut store, &mut roles, &mut rng, &dev)
        .expect("initialised");
    let names: Vec<String> = store.names().map(str::to_string).collect();
    for (i, name) in names.iter().enumerate() {
        let t = store.get(name).expect("an entry");
        let n = t.numel();
        let value = |k: usize| ((i * 31 + k * 17) % 23) as f32 / 23.0;
        let varied: Option<Vec<f32>> =
            if name.ends_with("_bn.weight") || name.ends_with("bn.weight") {
                Some((0..n).map(|k| 0.5 + value(k)).collect())
            } else if name.ends_with(".bias") || name.ends_with("running_mean") {
                Some((0..n).map(|k| 0.4 * value(k) - 0.2).collect())
            } else if name.ends_with("running_var") {
                Some((0..n).map(|k| 0.5 + 1.5 * value(k)).collect())
            } else {
                None
            };
        if let Some(v) = varied {
            let shape = t.shape().to_vec();
            store
                .set(name, Tensor::from_vec(v, &shape, &dev).expect("a tensor"))
                .expect("set");
        }
    }
    // What a pre-training checkpoint also holds: a projection head and a momentum encoder entry.
    store
        .insert_param(
            "backbone.head.projection.projection.0.weight",
            Tensor::zeros(&[8, 64], &dev).expect("zeros"),
        )
        .expect("head");
    store
        .insert_buffer("queue_x", Tensor::zeros(&[4, 8], &dev).expect("zeros"))
        .expect("queue");
    (model, store)
}

fn scratch_file(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("export");
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir.join(name)
}

#[test]
fn an_exported_encoder_gives_pytorchs_features_in_pyslowfast_modules() {
    let (model, store) = encoder();
    let checkpoint = scratch_file("checkpoint.safetensors");
    store.save(&checkpoint).expect("saved");
    let exported = scratch_file("encoder.safetensors");
    let summary = export_pyslowfast(&checkpoint, &exported).expect("exported");
    assert!(!summary.classifier);
    assert_eq!(summary.left_out, 2, "the projection head and the queue");

    let committed = fixture_path("export/encoder.safetensors");
    if std::env::var_os("VST_WRITE_EXPORT_FIXTURE").is_some() {
        std::fs::copy(&exported, &committed).expect("fixture written");
    }
    // The file PyTorch loaded is this export, entry for entry.
    let names = same_entries(&exported, &committed);
    assert_eq!(summary.encoder_entries, names.len());
    assert!(
        names.iter().all(|n| n.starts_with('s')),
        "bare ResNet names"
    );
    let dev = Device::cpu();
    let ours = ParamStore::load(&exported, &dev).expect("our export reads back");
    let conv = ours
        .get("s1.pathway0_stem.conv.weight")
        .expect("the stem convolution");
    assert_eq!(conv.shape(), [2, 3, 1, 7, 7], "PyTorch's Cout×Cin×kT×kH×kW");

    // Our features, from our store, against PyTorch's from the export.
    let fx = load_fixture("export/features.safetensors");
    our_features_match(&model, &store, &fx);
}

/// Our pool5 features of the fixture's `input`, checked against its `features` (PyTorch's, from the export).
fn our_features_match(model: &SlowResNetModel, store: &ParamStore, fx: &Fixture) -> Tensor {
    let mut g = Graph::no_grad();
    let features = model
        .forward(
            &mut g,
            store,
            &Var::constant(fx.get("input")),
            Mode::Eval,
            &mut BnUpdates::new(),
        )
        .expect("features");
    assert_close("pool5 features", features.value(), &fx.get("features"), TOL);
    features.value().clone()
}

/// The classes of the fine-tuned classifier the pytorchvideo export carries.
const CLASSES: usize = 5;

/// Adds a fine-tune's classifier (`head.projection.*`, varied values) to `store`; returns its weight and bias.
fn add_classifier(store: &mut ParamStore, features: usize) -> (Vec<f32>, Vec<f32>) {
    let dev = Device::cpu();
    let weight: Vec<f32> = (0..CLASSES * features)
        .map(|k| ((k * 37) % 29) as f32 / 29.0 - 0.5)
        .collect();
    let bias: Vec<f32> = (0..CLASSES).map(|k| 0.1 * k as f32 - 0.2).collect();
    let t =
        |v: &[f32], shape: &[usize]| Tensor::from_vec(v.to_vec(), shape, &dev).expect("a tensor");
    store
        .insert_param("head.projection.weight", t(&weight, &[CLASSES, features]))
        .expect("classifier weight");
    store
        .insert_param("head.projection.bias", t(&bias, &[CLASSES]))
        .expect("classifier bias");
    (weight, bias)
}

/// Asserts that the export at `ours` holds what the committed file at `theirs` holds, entry for entry, and returns
/// the names.
fn same_entries(ours: &std::path::Path, theirs: &std::path::Path) -> Vec<String> {
    let dev = Device::cpu();
    let ours = ParamStore::load(ours, &dev).expect("our export reads back");
    let theirs = ParamStore::load(theirs, &dev).expect("the committed export");
    let names: Vec<String> = ours.names().map(str::to_string).collect();
    assert_eq!(
        names,
        theirs.names().map(str::to_string).collect::<Vec<_>>(),
        "entry names"
    );
    for name in &names {
        let (a, b) = (
            ours.get(name).expect("ours"),
            theirs.get(name).expect("theirs"),
        );
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_eq!(
            a.to_vec().expect("values"),
            b.to_vec().expect("values"),
            "{name}"
        );
    }
    names
}

#[test]
fn an_exported_fine_tune_gives_pytorchs_outputs_in_pytorchvideos_create_resnet() {
    let (model, mut store) = encoder();
    let features_dim = model.feature_dim();
    let (weight, bias) = add_classifier(&mut store, features_dim);
    let checkpoint = scratch_file("finetune.safetensors");
    store.save(&checkpoint).expect("saved");
    let exported = scratch_file("pytorchvideo_encoder.safetensors");
    let summary = export_pytorchvideo(&checkpoint, &exported).expect("exported");
    assert!(summary.classifier);
    assert_eq!(summary.left_out, 2, "the projection head and the queue");
    assert_eq!(
        summary.create_resnet,
        Some(CreateResnetArgs {
            model_depth: 50,
            stem_dim_out: 2,
            stem_conv_kernel_size: [1, 7, 7],
            stage_conv_a_kernel_size: [[1, 1, 1], [1, 1, 1], [3, 1, 1], [3, 1, 1]],
            stage_conv_b_kernel_size: [[1, 3, 3]; 4],
            model_num_class: Some(CLASSES),
        })
    );
    // The file says how to build the model it loads into.
    let (_, meta) =
        vst_engine::io::load_tensors(&exported, &Device::cpu()).expect("the export reads back");
    assert_eq!(
        meta.get("vst.export").map(String::as_str),
        Some("pytorchvideo")
    );
    assert_eq!(
        meta.get(CREATE_RESNET_KEY),
        summary
            .create_resnet
            .as_ref()
            .map(CreateResnetArgs::to_json)
            .as_ref()
    );

    let committed = fixture_path("export/pytorchvideo_encoder.safetensors");
    if std::env::var_os("VST_WRITE_PYTORCHVIDEO_FIXTURE").is_some() {
        std::fs::copy(&exported, &committed).expect("fixture written");
    }
    // The file PyTorch loaded is this export, entry for entry.
    let names = same_entries(&exported, &committed);
    assert_eq!(summary.encoder_entries + 2, names.len());
    assert!(
        names.iter().all(|n| n.starts_with("blocks.")),
        "create_resnet's names"
    );
    for name in [
        "blocks.0.conv.weight",
        "blocks.0.norm.running_var",
        "blocks.1.res_blocks.0.branch1_conv.weight",
        "blocks.1.res_blocks.0.branch1_norm.weight",
        "blocks.3.res_blocks.5.branch2.conv_a.weight",
        "blocks.4.res_blocks.2.branch2.norm_c.running_mean",
        "blocks.5.proj.weight",
        "blocks.5.proj.bias",
    ] {
        assert!(names.iter().any(|n| n == name), "{name}");
    }

    // Our features and logits, from our store, against PyTorch's from the export.
    let fx = load_fixture("export/pytorchvideo_features.safetensors");
    let feats = our_features_match(&model, &store, &fx)
        .to_vec()
        .expect("values");
    let batch = feats.len() / features_dim;
    let logits: Vec<f32> = (0..batch * CLASSES)
        .map(|i| {
            let (n, c) = (i / CLASSES, i % CLASSES);
            let row = &feats[n * features_dim..(n + 1) * features_dim];
            let w = &weight[c * features_dim..(c + 1) * features_dim];
            bias[c] + row.iter().zip(w).map(|(a, b)| a * b).sum::<f32>()
        })
        .collect();
    let logits = Tensor::from_vec(logits, &[batch, CLASSES], &Device::cpu()).expect("logits");
    assert_close("logits", &logits, &fx.get("logits"), TOL);
}

#[test]
fn a_slow_r18_is_refused_in_pytorchvideos_layout() {
    let dev = Device::cpu();
    let spec = BackboneSpec {
        depth: 18,
        ..spec()
    };
    let model = SlowResNetModel::new(&spec, 16, "backbone.").expect("a small Slow R-18");
    let mut store = ParamStore::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    model
        .init(&mut store, &mut ParamRoles::new(), &mut rng, &dev)
        .expect("initialised");
    let checkpoint = scratch_file("r18.safetensors");
    store.save(&checkpoint).expect("saved");
    let exported = scratch_file("r18_pytorchvideo.safetensors");
    let _ = std::fs::remove_file(&exported);
    let err = export_pytorchvideo(&checkpoint, &exported)
        .expect_err("create_resnet has no basic blocks")
        .to_string();
    assert!(
        err.contains("basic blocks") && err.contains("bottleneck blocks only"),
        "{err}"
    );
    assert!(!exported.exists(), "nothing written");
    // PySlowFast's layout takes it.
    export_pyslowfast(&checkpoint, &exported).expect("exported in PySlowFast's layout");
}
