//! Autodiff gradients against central finite differences on small shapes (independent of the PyTorch fixtures).

mod common;

use common::{finite_difference_check, pseudo_random};
use vst_engine::{BatchNormMode, BatchNormSpec, Conv3dSpec, Pool3dSpec, Tensor};

const EPS: f32 = 1e-2;
const TOL: f32 = 2e-2;

fn positive(shape: &[usize], seed: u64) -> Tensor {
    pseudo_random(shape, seed)
        .unary(vst_engine::UnaryOp::Square)
        .unwrap()
        .add_scalar(0.5)
        .unwrap()
}

/// x shape (N,T,H,W,C), w shape (Cout,kT,kH,kW,Cin/g), stride, padding, groups.
type ConvCase = ([usize; 5], [usize; 5], [usize; 3], [usize; 3], usize);

#[test]
fn conv3d_gradients_for_each_geometry() {
    // (x shape N,T,H,W,C ; w shape Cout,kT,kH,kW,Cin/g ; stride ; padding ; groups)
    let cases: [ConvCase; 6] = [
        ([1, 2, 7, 7, 2], [3, 1, 7, 7, 2], [1, 2, 2], [0, 3, 3], 1),
        ([1, 2, 5, 5, 3], [2, 1, 3, 3, 3], [1, 1, 1], [0, 1, 1], 1),
        ([1, 2, 5, 5, 3], [2, 1, 3, 3, 3], [1, 2, 2], [0, 1, 1], 1),
        ([2, 4, 3, 3, 3], [2, 3, 1, 1, 3], [1, 1, 1], [1, 0, 0], 1),
        ([1, 2, 5, 5, 4], [3, 1, 1, 1, 4], [1, 2, 2], [0, 0, 0], 1),
        ([1, 3, 4, 4, 4], [4, 2, 2, 3, 2], [2, 1, 2], [1, 0, 1], 2),
    ];
    for (i, (xs, ws, stride, padding, groups)) in cases.into_iter().enumerate() {
        let spec = Conv3dSpec::new(stride, padding).with_groups(groups);
        let err = finite_difference_check(
            &[
                pseudo_random(&xs, 1 + i as u64),
                pseudo_random(&ws, 100 + i as u64),
            ],
            |g, v| g.conv3d(&v[0], &v[1], &spec).unwrap(),
            EPS,
        );
        assert!(err < TOL, "conv case {i}: finite-difference error {err}");
    }
}

#[test]
fn pooling_and_normalisation_gradients() {
    let pool = Pool3dSpec::new([1, 3, 3], [1, 2, 2], [0, 1, 1]);
    let err = finite_difference_check(
        &[pseudo_random(&[1, 2, 5, 5, 2], 7)],
        |g, v| g.max_pool3d(&v[0], &pool).unwrap(),
        1e-3,
    );
    assert!(err < TOL, "max_pool3d: {err}");

    for relu in [false, true] {
        let spec = BatchNormSpec { eps: 1e-5, relu };
        let err = finite_difference_check(
            &[
                pseudo_random(&[2, 2, 2, 3, 3], 8),
                positive(&[3], 9),
                pseudo_random(&[3], 10),
            ],
            |g, v| {
                g.batch_norm(
                    &v[0],
                    Some(&v[1]),
                    Some(&v[2]),
                    &BatchNormMode::train(),
                    &spec,
                )
                .unwrap()
                .0
            },
            1e-3,
        );
        assert!(err < TOL, "batch_norm (relu {relu}): {err}");
    }
    let err = finite_difference_check(
        &[pseudo_random(&[3, 5], 11)],
        |g, v| g.l2_normalize(&v[0], 1e-12).unwrap(),
        1e-3,
    );
    assert!(err < TOL, "l2_normalize: {err}");
}

#[test]
fn loss_and_algebra_gradients() {
    let err = finite_difference_check(
        &[pseudo_random(&[4, 6], 12)],
        |g, v| g.cross_entropy(&v[0], &[1, 5, 0, 3]).unwrap(),
        EPS,
    );
    assert!(err < TOL, "cross_entropy: {err}");
    let err = finite_difference_check(
        &[pseudo_random(&[3, 4], 13)],
        |g, v| g.softmax(&v[0]).unwrap(),
        EPS,
    );
    assert!(err < TOL, "softmax: {err}");
    let err = finite_difference_check(
        &[pseudo_random(&[2, 3, 4], 14), pseudo_random(&[5, 4], 15)],
        |g, v| g.matmul_t(&v[0], &v[1], false, true).unwrap(),
        EPS,
    );
    assert!(
        err < TOL,
        "batched matmul with shared transposed operand: {err}"
    );
    // A composite in the style of the SSL losses: concat, slice, index_select, exp/log, division, mean.
    let err = finite_difference_check(
        &[pseudo_random(&[3, 4], 16), positive(&[3, 4], 17)],
        |g, v| {
            let c = g.concat(&[&v[0], &v[1]], 0).unwrap();
            let s = g.slice(&c, 0, 1, 4).unwrap();
            let p = g.index_select(&s, 1, &[3, 0, 0]).unwrap();
            let e = g.exp(&p).unwrap();
            let l = g.log(&v[1]).unwrap();
            let l = g.slice(&l, 1, 0, 3).unwrap();
            let l = g.slice(&l, 0, 0, 3).unwrap();
            let e = g.slice(&e, 0, 0, 3).unwrap();
            let l = g.add_scalar(&l, 3.0).unwrap();
            let d = g.div(&e, &l).unwrap();
            let t = g.transpose(&d, 0, 1).unwrap();
            g.mean(&t, &[0], false).unwrap()
        },
        1e-3,
    );
    assert!(err < TOL, "composite: {err}");
}
