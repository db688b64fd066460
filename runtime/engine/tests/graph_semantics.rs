//! Autodiff semantics (accumulation, stop-gradient, no-grad graphs, errors) and the parameter store.

mod common;

use common::pseudo_random;
use vst_engine::test_support::assert_close;
use vst_engine::{Device, EngineError, Graph, ParamKind, ParamStore, Tensor, Var};

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape, &Device::cpu()).unwrap()
}

#[test]
fn a_value_used_twice_accumulates_its_gradient() {
    let mut g = Graph::new();
    let x = g.leaf(t(&[1.0, -2.0, 3.0], &[3]));
    let y = g.mul(&x, &x).unwrap(); // d/dx Σx² = 2x
    let z = g.add(&y, &x).unwrap(); // + 1
    let loss = g.sum(&z, &[], false).unwrap();
    let grads = g.backward(&loss).unwrap();
    assert_eq!(
        grads.get(&x).unwrap().to_vec().unwrap(),
        vec![3.0, -3.0, 7.0]
    );
}

#[test]
fn the_same_parameter_requested_twice_is_one_leaf() {
    let mut store = ParamStore::new();
    store.insert_param("w", t(&[2.0], &[1])).unwrap();
    let mut g = Graph::new();
    let a = g.param(&store, "w").unwrap();
    let b = g.param(&store, "w").unwrap();
    let p = g.mul(&a, &b).unwrap();
    let grads = g.backward(&p).unwrap();
    assert_eq!(grads.param("w").unwrap().to_vec().unwrap(), vec![4.0]);
    assert_eq!(grads.params().count(), 1);
}

#[test]
fn detach_and_buffers_stop_gradients() {
    let mut store = ParamStore::new();
    store.insert_param("w", t(&[2.0, 3.0], &[2])).unwrap();
    store.insert_buffer("stat", t(&[5.0, 7.0], &[2])).unwrap();
    let mut g = Graph::new();
    let w = g.param(&store, "w").unwrap();
    let s = g.param(&store, "stat").unwrap();
    assert!(w.requires_grad() && !s.requires_grad());
    let d = g.detach(&w);
    let p = g.mul(&w, &d).unwrap(); // gradient only through the first factor: d
    let q = g.mul(&p, &s).unwrap();
    let loss = g.sum(&q, &[], false).unwrap();
    let grads = g.backward(&loss).unwrap();
    assert_eq!(
        grads.param("w").unwrap().to_vec().unwrap(),
        vec![10.0, 21.0]
    );
    assert!(grads.param("stat").is_none());
}

#[test]
fn a_no_grad_graph_records_nothing() {
    let mut store = ParamStore::new();
    store.insert_param("w", pseudo_random(&[4, 3], 1)).unwrap();
    let mut g = Graph::no_grad();
    let w = g.param(&store, "w").unwrap();
    let x = Var::constant(pseudo_random(&[2, 3], 2));
    let y = g.linear(&x, &w, None).unwrap();
    assert_eq!(y.shape(), &[2, 4]);
    assert!(!y.requires_grad());
    assert_eq!(g.node_count(), 0);
    assert!(matches!(
        g.backward(&g_sum(&y)),
        Err(EngineError::Autodiff(_))
    ));
}

fn g_sum(y: &Var) -> Var {
    Var::constant(y.value().sum(&[], false).unwrap())
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut g1 = Graph::new();
    let mut g2 = Graph::new();
    let a = g1.leaf(t(&[1.0, 2.0], &[2]));
    assert!(matches!(g2.relu(&a), Err(EngineError::ForeignVar { .. })));
    let b = g1.leaf(t(&[1.0, 2.0, 3.0], &[3]));
    assert!(matches!(g1.add(&a, &b), Err(EngineError::Shape { .. })));
    assert!(matches!(g1.matmul(&a, &b), Err(EngineError::Shape { .. })));
    assert!(matches!(
        g1.cross_entropy(&Var::constant(t(&[0.0; 4], &[2, 2])), &[0, 2]),
        Err(EngineError::InvalidArgument { .. })
    ));
    assert!(
        matches!(g1.backward(&a), Err(EngineError::Autodiff(_))),
        "non-scalar loss"
    );
    let store = ParamStore::new();
    let mut g = Graph::new();
    assert!(matches!(
        g.param(&store, "nope"),
        Err(EngineError::Params(_))
    ));
    assert!(Tensor::from_slice(&[1.0, 2.0], &[3], &Device::cpu()).is_err());
}

#[test]
fn param_store_copy_ema_and_checkpoint_round_trip() {
    let mut online = ParamStore::new();
    online.insert_param("enc.w", t(&[1.0, 2.0], &[2])).unwrap();
    online
        .insert_buffer("enc.bn.running_mean", t(&[0.5, 0.5], &[2]))
        .unwrap();
    let mut target = ParamStore::new();
    target.insert_param("enc.w", t(&[0.0, 0.0], &[2])).unwrap();
    target
        .insert_buffer("enc.bn.running_mean", t(&[9.0, 9.0], &[2]))
        .unwrap();
    target.copy_from(&online).unwrap();
    assert_eq!(
        target.get("enc.w").unwrap().to_vec().unwrap(),
        vec![1.0, 2.0]
    );
    assert_eq!(
        target.get("enc.bn.running_mean").unwrap().to_vec().unwrap(),
        vec![0.5, 0.5]
    );
    // Updating the online encoder in place must not change the copy (copy-on-write).
    online
        .get_mut("enc.w")
        .unwrap()
        .axpby_(1.0, 1.0, &t(&[10.0, 10.0], &[2]))
        .unwrap();
    assert_eq!(
        target.get("enc.w").unwrap().to_vec().unwrap(),
        vec![1.0, 2.0]
    );
    target.ema_update(&online, 0.9).unwrap(); // 0.9·1 + 0.1·11 = 2
    assert_close(
        "ema",
        target.get("enc.w").unwrap(),
        &t(&[2.0, 3.0], &[2]),
        1e-6,
    );
    assert_eq!(
        target.get("enc.bn.running_mean").unwrap().to_vec().unwrap(),
        vec![0.5, 0.5]
    );

    let dir = std::env::temp_dir().join(format!("vst-engine-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ckpt.safetensors");
    target.save(&path).unwrap();
    let back = ParamStore::load(&path, &Device::cpu()).unwrap();
    assert_eq!(back.kind("enc.bn.running_mean").unwrap(), ParamKind::Buffer);
    assert_eq!(back.kind("enc.w").unwrap(), ParamKind::Trainable);
    assert_close(
        "reloaded",
        back.get("enc.w").unwrap(),
        target.get("enc.w").unwrap(),
        0.0,
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let mut other = ParamStore::new();
    other
        .insert_param("enc.w", t(&[0.0, 0.0, 0.0], &[3]))
        .unwrap();
    other
        .insert_buffer("enc.bn.running_mean", t(&[9.0, 9.0], &[2]))
        .unwrap();
    assert!(matches!(
        other.copy_from(&online),
        Err(EngineError::Params(_))
    ));
}

#[test]
fn the_graph_renders_as_dot() {
    let mut g = Graph::new();
    let x = g.leaf(t(&[1.0], &[1]));
    let y = g.exp(&x).unwrap();
    let _ = g.log(&y).unwrap();
    let dot = g.to_dot();
    assert!(
        dot.contains("n0 -> n1") && dot.contains("n1 -> n2"),
        "{dot}"
    );
}

#[test]
fn two_stores_with_the_same_names_stay_apart_in_one_graph() {
    // An online and a momentum encoder share parameter names; each store must get its own leaf.
    let mut online = ParamStore::new();
    online.insert_param("w", t(&[2.0], &[1])).unwrap();
    let mut target = ParamStore::new();
    target.insert_param("w", t(&[5.0], &[1])).unwrap();
    let mut g = Graph::new();
    let a = g.param(&online, "w").unwrap();
    let b = g.param(&target, "w").unwrap();
    assert_eq!(b.value().to_vec().unwrap(), vec![5.0]);
    let p = g.mul(&a, &b).unwrap();
    let grads = g.backward(&p).unwrap();
    assert_eq!(grads.of(&online, "w").unwrap().to_vec().unwrap(), vec![5.0]);
    assert_eq!(grads.of(&target, "w").unwrap().to_vec().unwrap(), vec![2.0]);
    assert_eq!(grads.params_of(&online).count(), 1);
    assert_eq!(grads.params().count(), 2);
}

#[test]
fn argmax_rows_picks_the_first_maximum() {
    let x = t(&[0.1, 0.9, 0.9, 3.0, -1.0, 2.0], &[2, 3]);
    assert_eq!(x.argmax_rows().unwrap(), vec![1, 0]);
}
