//! Convolution (every Slow R-50 kernel/stride/padding combination), max-pool and batch norm against PyTorch.

mod common;

use common::load_fixture;
use serde_json::Value;
use vst_engine::test_support::{FIXTURE_TOL, assert_close};
use vst_engine::{BatchNormMode, BatchNormSpec, Conv3dSpec, Graph, ParamStore, Pool3dSpec};

fn triple(v: &Value) -> [usize; 3] {
    let a: Vec<usize> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    [a[0], a[1], a[2]]
}

#[test]
fn conv3d_matches_pytorch_for_every_slow_r50_geometry() {
    let fx = load_fixture("conv3d.safetensors");
    let cases = fx.cases.as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (name, p) in cases {
        let spec = Conv3dSpec::new(triple(&p["stride"]), triple(&p["padding"]))
            .with_groups(p["groups"].as_u64().unwrap() as usize);
        let mut g = Graph::new();
        let x = g.leaf(fx.get(&format!("{name}.x")));
        let w = g.leaf(fx.get(&format!("{name}.w")));
        let y = g.conv3d(&x, &w, &spec).unwrap();
        assert_close(
            &format!("{name} y"),
            y.value(),
            &fx.get(&format!("{name}.y")),
            FIXTURE_TOL,
        );
        let grads = g
            .backward_with_grad(&y, fx.get(&format!("{name}.dy")))
            .unwrap();
        assert_close(
            &format!("{name} dx"),
            grads.get(&x).unwrap(),
            &fx.get(&format!("{name}.dx")),
            FIXTURE_TOL,
        );
        assert_close(
            &format!("{name} dw"),
            grads.get(&w).unwrap(),
            &fx.get(&format!("{name}.dw")),
            FIXTURE_TOL,
        );
    }
}

#[test]
fn max_pool3d_matches_pytorch() {
    let fx = load_fixture("max_pool3d.safetensors");
    for (name, p) in fx.cases.as_object().unwrap() {
        let spec = Pool3dSpec::new(
            triple(&p["kernel"]),
            triple(&p["stride"]),
            triple(&p["padding"]),
        );
        let mut g = Graph::new();
        let x = g.leaf(fx.get(&format!("{name}.x")));
        let y = g.max_pool3d(&x, &spec).unwrap();
        assert_close(
            &format!("{name} y"),
            y.value(),
            &fx.get(&format!("{name}.y")),
            FIXTURE_TOL,
        );
        let grads = g
            .backward_with_grad(&y, fx.get(&format!("{name}.dy")))
            .unwrap();
        assert_close(
            &format!("{name} dx"),
            grads.get(&x).unwrap(),
            &fx.get(&format!("{name}.dx")),
            FIXTURE_TOL,
        );
    }
}

#[test]
fn batch_norm_matches_pytorch_in_training_and_evaluation() {
    let fx = load_fixture("batch_norm.safetensors");
    for (name, p) in fx.cases.as_object().unwrap() {
        let train = p["train"].as_bool().unwrap();
        let spec = BatchNormSpec {
            eps: p["eps"].as_f64().unwrap() as f32,
            relu: p["relu"].as_bool().unwrap(),
        };
        let momentum = p["momentum"].as_f64().unwrap() as f32;
        let mut store = ParamStore::new();
        store
            .insert_param("gamma", fx.get(&format!("{name}.gamma")))
            .unwrap();
        store
            .insert_param("beta", fx.get(&format!("{name}.beta")))
            .unwrap();
        store
            .insert_buffer("running_mean", fx.get(&format!("{name}.running_mean0")))
            .unwrap();
        store
            .insert_buffer("running_var", fx.get(&format!("{name}.running_var0")))
            .unwrap();
        let mode = if train {
            BatchNormMode::train()
        } else {
            BatchNormMode::Eval {
                running_mean: store.get("running_mean").unwrap().clone(),
                running_var: store.get("running_var").unwrap().clone(),
            }
        };
        let mut g = Graph::new();
        let x = g.leaf(fx.get(&format!("{name}.x")));
        let gamma = g.param(&store, "gamma").unwrap();
        let beta = g.param(&store, "beta").unwrap();
        let (y, stats) = g
            .batch_norm(&x, Some(&gamma), Some(&beta), &mode, &spec)
            .unwrap();
        assert_eq!(stats.is_some(), train);
        assert_close(
            &format!("{name} y"),
            y.value(),
            &fx.get(&format!("{name}.y")),
            FIXTURE_TOL,
        );
        let grads = g
            .backward_with_grad(&y, fx.get(&format!("{name}.dy")))
            .unwrap();
        assert_close(
            &format!("{name} dx"),
            grads.get(&x).unwrap(),
            &fx.get(&format!("{name}.dx")),
            FIXTURE_TOL,
        );
        assert_close(
            &format!("{name} dgamma"),
            grads.param("gamma").unwrap(),
            &fx.get(&format!("{name}.dgamma")),
            FIXTURE_TOL,
        );
        assert_close(
            &format!("{name} dbeta"),
            grads.param("beta").unwrap(),
            &fx.get(&format!("{name}.dbeta")),
            FIXTURE_TOL,
        );
        if let Some(stats) = stats {
            store
                .update_running_stats("running_mean", "running_var", &stats, momentum)
                .unwrap();
        }
        for s in ["running_mean", "running_var"] {
            assert_close(
                &format!("{name} {s}"),
                store.get(s).unwrap(),
                &fx.get(&format!("{name}.{s}1")),
                FIXTURE_TOL,
            );
        }
    }
}
