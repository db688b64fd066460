//! `vst export` against PyTorch: a small Slow R-50 (seeded weights, non-trivial batch norms), exported in
//! PySlowFast's names and layout, must be the file `scripts/make_export_fixtures.py` loaded — via a `.pyth`
//! checkpoint, `load_state_dict(strict=True)` into PySlowFast-named modules — and our features on the script's fixed
//! input must match the ones PyTorch computed from it to 1e-4.
//!
//! `VST_WRITE_EXPORT_FIXTURE=1` writes the export to tests/fixtures/export/encoder.safetensors (then run the
//! script); without it the test only reads the committed fixtures.

mod common;

use rand::SeedableRng;
use std::path::PathBuf;
use vst_engine::test_support::assert_close;
use vst_engine::{Device, Graph, ParamStore, Tensor, Var};
use vst_runtime::model::{BnUpdates, Mode, ParamRoles, SlowResNetModel};
use vst_runtime::train::export::export_pyslowfast;
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
    let dev = Device::cpu();
    let ours = ParamStore::load(&exported, &dev).expect("our export reads back");
    let theirs = ParamStore::load(&committed, &dev).expect("the committed export");
    let names: Vec<&str> = ours.names().collect();
    assert_eq!(names, theirs.names().collect::<Vec<_>>(), "entry names");
    assert_eq!(summary.encoder_entries, names.len());
    assert!(
        names.iter().all(|n| n.starts_with('s')),
        "bare ResNet names"
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
    let conv = ours
        .get("s1.pathway0_stem.conv.weight")
        .expect("the stem convolution");
    assert_eq!(conv.shape(), [2, 3, 1, 7, 7], "PyTorch's Cout×Cin×kT×kH×kW");

    // Our features, from our store, against PyTorch's from the export.
    let fx = load_fixture("export/features.safetensors");
    let mut g = Graph::no_grad();
    let features = model
        .forward(
            &mut g,
            &store,
            &Var::constant(fx.get("input")),
            Mode::Eval,
            &mut BnUpdates::new(),
        )
        .expect("features");
    assert_close("pool5 features", features.value(), &fx.get("features"), TOL);
}
