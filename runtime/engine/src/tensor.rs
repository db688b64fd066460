//! `Tensor`: an immutable, reference-counted f32 array on a device. Cloning is cheap (the storage is shared);
//! operations return new tensors. The few in-place updates (`axpby_`, `assign_`) copy first when the storage is
//! shared, so a tensor held elsewhere (by a graph, a checkpoint) never changes under its holder.

use std::fmt;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};

use crate::device::Device;
use crate::error::{EngineError, Result, arg_err, shape_err};
use crate::shape::numel;
use crate::storage::Storage;

/// A dense, row-major f32 tensor.
#[derive(Clone)]
pub struct Tensor {
    shape: Vec<usize>,
    storage: Arc<Storage>,
    device: Device,
}

impl Tensor {
    /// Wraps backend storage (its length must equal the shape's element count).
    pub fn from_storage(storage: Storage, shape: &[usize], device: &Device) -> Result<Tensor> {
        if storage.len() != numel(shape) {
            return shape_err(
                "from_storage",
                format!(
                    "storage of {} values cannot have shape {shape:?} ({} values)",
                    storage.len(),
                    numel(shape)
                ),
            );
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            storage: Arc::new(storage),
            device: device.clone(),
        })
    }

    /// A tensor holding `data` (row-major) with `shape`.
    pub fn from_slice(data: &[f32], shape: &[usize], device: &Device) -> Result<Tensor> {
        if data.len() != numel(shape) {
            return shape_err(
                "from_slice",
                format!(
                    "{} values cannot have shape {shape:?} ({} values)",
                    data.len(),
                    numel(shape)
                ),
            );
        }
        let s = device.backend().upload(data)?;
        Tensor::from_storage(s, shape, device)
    }

    /// Like [`Tensor::from_slice`], taking the vector.
    pub fn from_vec(data: Vec<f32>, shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::from_slice(&data, shape, device)
    }

    /// All values equal to `value`.
    pub fn full(shape: &[usize], value: f32, device: &Device) -> Result<Tensor> {
        let s = device.backend().fill(numel(shape), value)?;
        Tensor::from_storage(s, shape, device)
    }

    pub fn zeros(shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 0.0, device)
    }

    pub fn ones(shape: &[usize], device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 1.0, device)
    }

    /// A 0-dimensional tensor.
    pub fn scalar(value: f32, device: &Device) -> Result<Tensor> {
        Tensor::full(&[], value, device)
    }

    /// Normal(0, std²) values drawn from `rng` (deterministic for a seeded generator).
    pub fn randn(shape: &[usize], std: f32, rng: &mut impl Rng, device: &Device) -> Result<Tensor> {
        let normal = match Normal::new(0.0f32, std) {
            Ok(n) => n,
            Err(e) => return arg_err("randn", format!("standard deviation {std}: {e}")),
        };
        let data: Vec<f32> = (0..numel(shape)).map(|_| normal.sample(rng)).collect();
        Tensor::from_vec(data, shape, device)
    }

    /// Uniform values in `[lo, hi)` drawn from `rng`.
    pub fn rand_uniform(
        shape: &[usize],
        lo: f32,
        hi: f32,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Result<Tensor> {
        let uniform = match Uniform::new(lo, hi) {
            Ok(u) => u,
            Err(e) => return arg_err("rand_uniform", format!("range {lo}..{hi}: {e}")),
        };
        let data: Vec<f32> = (0..numel(shape)).map(|_| uniform.sample(rng)).collect();
        Tensor::from_vec(data, shape, device)
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        self.storage.len()
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The backend storage (for backends and kernels).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The values, row-major, on the host.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.device.backend().download(&self.storage)
    }

    /// The single value of a one-element tensor.
    pub fn to_scalar(&self) -> Result<f32> {
        if self.numel() != 1 {
            return shape_err(
                "to_scalar",
                format!("tensor of shape {:?} is not a single value", self.shape),
            );
        }
        Ok(self.to_vec()?[0])
    }

    /// The same values with another shape of equal element count (shares storage, no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return shape_err(
                "reshape",
                format!("cannot reshape {:?} into {shape:?}", self.shape),
            );
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            storage: self.storage.clone(),
            device: self.device.clone(),
        })
    }

    /// A copy on another device (a cheap clone when it is already there).
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        if self.device.same(device) {
            return Ok(self.clone());
        }
        Tensor::from_vec(self.to_vec()?, &self.shape, device)
    }

    /// A copy with its own storage.
    pub fn deep_clone(&self) -> Result<Tensor> {
        let s = self.device.backend().copy(&self.storage)?;
        Tensor::from_storage(s, &self.shape, &self.device)
    }

    /// True when both tensors share one storage.
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Mutable storage, copied first if it is shared (copy-on-write).
    fn storage_mut(&mut self) -> Result<&mut Storage> {
        if Arc::get_mut(&mut self.storage).is_none() {
            let copy = self.device.backend().copy(&self.storage)?;
            self.storage = Arc::new(copy);
        }
        match Arc::get_mut(&mut self.storage) {
            Some(s) => Ok(s),
            None => Err(EngineError::Backend {
                backend: self.device.name(),
                message: "storage still shared".into(),
            }),
        }
    }

    /// In place `self = a·self + b·x` (same shape and device). Used for gradient accumulation, SGD and EMA.
    pub fn axpby_(&mut self, a: f32, b: f32, x: &Tensor) -> Result<()> {
        self.device.check_same(&x.device, "axpby_")?;
        if self.shape != x.shape {
            return shape_err("axpby_", format!("{:?} vs {:?}", self.shape, x.shape));
        }
        let device = self.device.clone();
        let s = self.storage_mut()?;
        device.backend().axpby(s, a, b, &x.storage)
    }

    /// One SGD-with-momentum step of this weight in place (see [`crate::backend::Backend::sgd_momentum`]): the
    /// gradient `grad` is consumed, the momentum buffer `buf` updated. Same shapes and device.
    #[allow(clippy::too_many_arguments)]
    pub fn sgd_momentum_(
        &mut self,
        grad: Tensor,
        buf: &mut Tensor,
        decay: Option<f32>,
        momentum: f32,
        nesterov: bool,
        lr: f32,
    ) -> Result<()> {
        for (what, t) in [("gradient", &grad), ("momentum buffer", &*buf)] {
            self.device.check_same(&t.device, "sgd_momentum_")?;
            if self.shape != t.shape {
                return shape_err(
                    "sgd_momentum_",
                    format!("{what} {:?} vs weight {:?}", t.shape, self.shape),
                );
            }
        }
        let device = self.device.clone();
        let mut grad = grad;
        device.backend().sgd_momentum(
            self.storage_mut()?,
            grad.storage_mut()?,
            buf.storage_mut()?,
            decay,
            momentum,
            nesterov,
            lr,
        )
    }

    /// In place `self = x` (same shape): copies values, keeping this tensor's identity.
    pub fn assign_(&mut self, x: &Tensor) -> Result<()> {
        self.axpby_(0.0, 1.0, x)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor({:?} on {})", self.shape, self.device.name())
    }
}
