//! Convolution and max-pool, with gradients.

use super::{Graph, Var};
use crate::error::Result;
use crate::ops::conv::{Conv3dSpec, conv3d_backward_data, conv3d_backward_filter};
use crate::ops::pool::{Pool3dSpec, max_pool3d_backward};
use crate::tensor::Tensor;

impl Graph {
    /// 3D convolution of N×T×H×W×Cin activations with a Cout×kT×kH×kW×(Cin/groups) weight.
    pub fn conv3d(&mut self, x: &Var, w: &Var, spec: &Conv3dSpec) -> Result<Var> {
        let geom = spec.geometry(x.shape(), w.shape())?;
        let y = x.value().conv3d(w.value(), spec)?;
        let (xv, wv) = (x.value().clone(), w.value().clone());
        self.record("conv3d", &[x, w], y, move |_| {
            Box::new(move |dy: &Tensor, needs: &[bool]| {
                let dx = if needs[0] {
                    Some(conv3d_backward_data(dy, &wv, &geom)?)
                } else {
                    None
                };
                let dw = if needs[1] {
                    Some(conv3d_backward_filter(&xv, dy, &geom)?)
                } else {
                    None
                };
                Ok(vec![dx, dw])
            })
        })
    }

    /// 3D max-pool of N×T×H×W×C activations.
    pub fn max_pool3d(&mut self, x: &Var, spec: &Pool3dSpec) -> Result<Var> {
        let geom = spec.geometry(x.shape())?;
        let y = x.value().max_pool3d(spec)?;
        let xv = x.value().clone();
        self.record("max_pool3d", &[x], y, move |y| {
            let y = y.clone();
            Box::new(move |dy: &Tensor, _: &[bool]| {
                Ok(vec![Some(max_pool3d_backward(&xv, &y, dy, &geom)?)])
            })
        })
    }
}
