//! The same computation twice gives the same bits (reductions split work in a fixed way, never by scheduling).

mod common;

use common::pseudo_random;
use vst_engine::{BatchNormMode, BatchNormSpec, Conv3dSpec, Graph, Tensor};

fn step(x: &Tensor, w: &Tensor, w2: &Tensor) -> Vec<Vec<f32>> {
    let mut g = Graph::new();
    let (xv, wv, w2v) = (g.leaf(x.clone()), g.leaf(w.clone()), g.leaf(w2.clone()));
    let y = g
        .conv3d(&xv, &wv, &Conv3dSpec::new([1, 2, 2], [0, 1, 1]))
        .unwrap();
    let (y, _) = g
        .batch_norm(
            &y,
            None,
            None,
            &BatchNormMode::train(),
            &BatchNormSpec {
                eps: 1e-5,
                relu: true,
            },
        )
        .unwrap();
    let y = g
        .conv3d(&y, &w2v, &Conv3dSpec::new([1, 1, 1], [1, 1, 1]))
        .unwrap();
    let s = g.square(&y).unwrap();
    let loss = g.mean(&s, &[], false).unwrap();
    let grads = g.backward(&loss).unwrap();
    [&xv, &wv, &w2v]
        .iter()
        .map(|v| grads.get(v).unwrap().to_vec().unwrap())
        .chain([loss.value().to_vec().unwrap()])
        .collect()
}

#[test]
fn repeated_steps_are_bit_identical() {
    let x = pseudo_random(&[4, 6, 16, 16, 8], 1);
    let w = pseudo_random(&[16, 1, 3, 3, 8], 2).scale(0.2).unwrap();
    let w2 = pseudo_random(&[8, 3, 3, 3, 16], 3).scale(0.1).unwrap();
    let first = step(&x, &w, &w2);
    for _ in 0..3 {
        let again = step(&x, &w, &w2);
        for (a, b) in first.iter().zip(&again) {
            assert!(
                a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()),
                "results differ between identical runs"
            );
        }
    }
}
