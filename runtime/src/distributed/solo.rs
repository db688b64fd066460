//! One replica: every collective is the identity.

use std::sync::Arc;

use super::{CommError, Communicator};

/// The communicator of a run on one device.
#[derive(Debug, Default, Clone, Copy)]
pub struct Solo;

impl Communicator for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _data: &mut [f32]) -> Result<(), CommError> {
        Ok(())
    }
    fn all_gather(&self, data: &[f32]) -> Result<Vec<f32>, CommError> {
        Ok(data.to_vec())
    }
    fn split(&self, _color: usize) -> Result<Arc<dyn Communicator>, CommError> {
        Ok(Arc::new(Solo))
    }
}
