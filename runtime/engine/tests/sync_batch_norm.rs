//! Batch-norm statistics reduced across replicas: two threads, each holding half of a batch and summing through a
//! `ReplicaSum`, must produce exactly what one replica computes on the whole batch.

mod common;

use std::sync::{Arc, Barrier, Mutex};

use common::pseudo_random;
use vst_engine::test_support::assert_close;
use vst_engine::{BatchNormMode, BatchNormSpec, Device, Graph, ReplicaSum, Result, Tensor};

struct Group {
    barrier: Barrier,
    slots: Mutex<Vec<Vec<Vec<f32>>>>,
}

struct Member {
    group: Arc<Group>,
    rank: usize,
}

impl ReplicaSum for Member {
    fn all_reduce_sum(&self, tensors: &mut [Tensor]) -> Result<()> {
        let mine: Vec<Vec<f32>> = tensors.iter().map(|t| t.to_vec()).collect::<Result<_>>()?;
        self.group.slots.lock().unwrap()[self.rank] = mine;
        self.group.barrier.wait();
        let summed: Vec<Vec<f32>> = {
            let slots = self.group.slots.lock().unwrap();
            (0..tensors.len())
                .map(|i| {
                    let mut acc = vec![0.0f32; slots[0][i].len()];
                    for s in slots.iter() {
                        acc.iter_mut().zip(&s[i]).for_each(|(a, b)| *a += b);
                    }
                    acc
                })
                .collect()
        };
        self.group.barrier.wait(); // nobody overwrites a slot before everyone has read
        for (t, v) in tensors.iter_mut().zip(summed) {
            *t = Tensor::from_vec(v, t.shape(), t.device())?;
        }
        Ok(())
    }
}

#[test]
fn two_replicas_with_summed_statistics_equal_one_full_batch() {
    let x = pseudo_random(&[4, 2, 3, 3, 5], 1)
        .scale(3.0)
        .unwrap()
        .add_scalar(1.0)
        .unwrap();
    let dy = pseudo_random(&[4, 2, 3, 3, 5], 2);
    let gamma = pseudo_random(&[5], 3).add_scalar(1.5).unwrap();
    let beta = pseudo_random(&[5], 4);
    let spec = BatchNormSpec {
        eps: 1e-5,
        relu: true,
    };

    let run = |x: Tensor, dy: Tensor, mode: BatchNormMode| {
        let mut g = Graph::new();
        let xv = g.leaf(x);
        let (gv, bv) = (g.leaf(gamma.clone()), g.leaf(beta.clone()));
        let (y, stats) = g
            .batch_norm(&xv, Some(&gv), Some(&bv), &mode, &spec)
            .unwrap();
        let grads = g.backward_with_grad(&y, dy).unwrap();
        let out = (
            y.value().clone(),
            grads.get(&xv).unwrap().clone(),
            grads.get(&gv).unwrap().clone(),
            grads.get(&bv).unwrap().clone(),
        );
        (out, stats.unwrap())
    };
    let ((y, dx, dg, db), full_stats) = run(x.clone(), dy.clone(), BatchNormMode::train());

    let group = Arc::new(Group {
        barrier: Barrier::new(2),
        slots: Mutex::new(vec![Vec::new(), Vec::new()]),
    });
    let halves: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|rank| {
                let (x, dy) = (
                    x.slice(0, rank * 2, 2).unwrap(),
                    dy.slice(0, rank * 2, 2).unwrap(),
                );
                let sync: Arc<dyn ReplicaSum> = Arc::new(Member {
                    group: group.clone(),
                    rank,
                });
                let run = &run;
                s.spawn(move || run(x, dy, BatchNormMode::Train { sync: Some(sync) }))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let cat = |f: &dyn Fn(usize) -> Tensor| Tensor::concat(&[&f(0), &f(1)], 0).unwrap();
    assert_close("y", &cat(&|r| halves[r].0.0.clone()), &y, 1e-5);
    assert_close("dx", &cat(&|r| halves[r].0.1.clone()), &dx, 1e-5);
    let sum = |f: &dyn Fn(usize) -> Tensor| f(0).add(&f(1)).unwrap();
    assert_close(
        "dgamma (summed over replicas)",
        &sum(&|r| halves[r].0.2.clone()),
        &dg,
        1e-5,
    );
    assert_close(
        "dbeta (summed over replicas)",
        &sum(&|r| halves[r].0.3.clone()),
        &db,
        1e-5,
    );
    for (_, stats) in &halves {
        assert_eq!(stats.count, full_stats.count);
        assert_close("mean", &stats.mean, &full_stats.mean, 1e-5);
        assert_close("var", &stats.var, &full_stats.var, 1e-5);
    }
    let _ = Device::cpu();
}
