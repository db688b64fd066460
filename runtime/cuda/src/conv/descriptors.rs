//! cuDNN's description of one convolution: input, output and filter descriptors in the chosen layout, and the
//! convolution descriptor (padding, stride, groups, math type).

use cudarc::cudnn::sys::{self, cudnnDataType_t};
use vst_engine::Conv3dGeometry;

use super::{ConvLayout, check, math_type};
use crate::device::Handle;
use crate::error::{CudaError, CudaResult};
use crate::geometry::{filter_dims, ncdhw_descriptor, ndhwc_descriptor};
use crate::options::Precision;

fn data_type(p: Precision) -> cudnnDataType_t {
    match p {
        Precision::F32 | Precision::Tf32 => cudnnDataType_t::CUDNN_DATA_FLOAT,
        Precision::Bf16 => cudnnDataType_t::CUDNN_DATA_BFLOAT16,
    }
}

/// The four descriptors of one convolution.
pub(super) struct Descriptors {
    pub(super) layout: ConvLayout,
    pub(super) x: Handle<sys::cudnnTensorDescriptor_t>,
    pub(super) w: Handle<sys::cudnnFilterDescriptor_t>,
    pub(super) conv: Handle<sys::cudnnConvolutionDescriptor_t>,
    pub(super) y: Handle<sys::cudnnTensorDescriptor_t>,
}

impl Drop for Descriptors {
    fn drop(&mut self) {
        // SAFETY: each was created by `Descriptors::new` and is destroyed once.
        unsafe {
            let _ = sys::cudnnDestroyTensorDescriptor(self.x.0);
            let _ = sys::cudnnDestroyFilterDescriptor(self.w.0);
            let _ = sys::cudnnDestroyConvolutionDescriptor(self.conv.0);
            let _ = sys::cudnnDestroyTensorDescriptor(self.y.0);
        }
    }
}

impl Descriptors {
    pub(super) fn new(
        g: &Conv3dGeometry,
        p: Precision,
        layout: ConvLayout,
    ) -> CudaResult<Descriptors> {
        let too_big = || CudaError::Call {
            what: "describing a convolution to cuDNN",
            message: format!("{g:?} has a tensor of more than 2^31 elements"),
        };
        let (describe, filter_format): (fn(_) -> _, _) = match layout {
            ConvLayout::ChannelsLast => (
                ndhwc_descriptor,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NHWC,
            ),
            ConvLayout::ChannelsFirst => (
                ncdhw_descriptor,
                sys::cudnnTensorFormat_t::CUDNN_TENSOR_NCHW,
            ),
        };
        let (xd, xs) = describe(g.x_shape()).ok_or_else(too_big)?;
        let (yd, ys) = describe(g.y_shape()).ok_or_else(too_big)?;
        let wd = filter_dims(g);
        let dt = data_type(p);
        let pad = g.padding.map(|v| v as i32);
        let stride = g.stride.map(|v| v as i32);
        let dilation = [1i32; 3];
        // SAFETY: out-pointers are valid; every array has the length passed with it.
        unsafe {
            let mut x = std::ptr::null_mut();
            check(
                "cudnnCreateTensorDescriptor",
                sys::cudnnCreateTensorDescriptor(&mut x),
            )?;
            let mut y = std::ptr::null_mut();
            if let Err(e) = check(
                "cudnnCreateTensorDescriptor",
                sys::cudnnCreateTensorDescriptor(&mut y),
            ) {
                let _ = sys::cudnnDestroyTensorDescriptor(x);
                return Err(e);
            }
            let mut w = std::ptr::null_mut();
            if let Err(e) = check(
                "cudnnCreateFilterDescriptor",
                sys::cudnnCreateFilterDescriptor(&mut w),
            ) {
                let _ = sys::cudnnDestroyTensorDescriptor(x);
                let _ = sys::cudnnDestroyTensorDescriptor(y);
                return Err(e);
            }
            let mut conv = std::ptr::null_mut();
            if let Err(e) = check(
                "cudnnCreateConvolutionDescriptor",
                sys::cudnnCreateConvolutionDescriptor(&mut conv),
            ) {
                let _ = sys::cudnnDestroyTensorDescriptor(x);
                let _ = sys::cudnnDestroyTensorDescriptor(y);
                let _ = sys::cudnnDestroyFilterDescriptor(w);
                return Err(e);
            }
            let d = Descriptors {
                layout,
                x: Handle(x),
                w: Handle(w),
                conv: Handle(conv),
                y: Handle(y),
            };
            check(
                "cudnnSetTensorNdDescriptor (input)",
                sys::cudnnSetTensorNdDescriptor(x, dt, 5, xd.as_ptr(), xs.as_ptr()),
            )?;
            check(
                "cudnnSetTensorNdDescriptor (output)",
                sys::cudnnSetTensorNdDescriptor(y, dt, 5, yd.as_ptr(), ys.as_ptr()),
            )?;
            check(
                "cudnnSetFilterNdDescriptor",
                sys::cudnnSetFilterNdDescriptor(w, dt, filter_format, 5, wd.as_ptr()),
            )?;
            check(
                "cudnnSetConvolutionNdDescriptor",
                sys::cudnnSetConvolutionNdDescriptor(
                    conv,
                    3,
                    pad.as_ptr(),
                    stride.as_ptr(),
                    dilation.as_ptr(),
                    sys::cudnnConvolutionMode_t::CUDNN_CROSS_CORRELATION,
                    cudnnDataType_t::CUDNN_DATA_FLOAT,
                ),
            )?;
            check(
                "cudnnSetConvolutionGroupCount",
                sys::cudnnSetConvolutionGroupCount(conv, g.groups as i32),
            )?;
            check(
                "cudnnSetConvolutionMathType",
                sys::cudnnSetConvolutionMathType(conv, math_type(p)),
            )?;
            Ok(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::version_ok;
    use super::*;

    /// cuDNN's descriptors are host objects: with libcudnn.so.9 on the library path (no GPU needed; pip's
    /// nvidia-cudnn-cu13 has it) cuDNN itself checks that it accepts the channels-last descriptors of every Slow
    /// R-50 convolution in every precision, and computes the same output size as the engine.
    #[test]
    #[ignore = "needs libcudnn.so.9 on the library path (no GPU needed)"]
    fn cudnn_accepts_the_descriptors_of_every_slow_r50_convolution() {
        assert!(
            unsafe { sys::is_culib_present() },
            "libcudnn.so.9 is not loadable"
        );
        assert!(version_ok(unsafe { sys::cudnnGetVersion() }));
        let spec = vst_spec::BackboneSpec {
            depth: 50,
            frames: 8,
            stride: 8,
            width: 1.0,
        };
        let net = vst_spec::arch::SlowResNet::new(&spec, 224).unwrap();
        let mut geometries: Vec<Conv3dGeometry> = net
            .conv_layers()
            .iter()
            .map(|l| Conv3dGeometry {
                batch: 8,
                input: l.input.map(|v| v as usize),
                in_channels: l.in_channels as usize,
                out_channels: l.out_channels as usize,
                kernel: l.kernel.map(|v| v as usize),
                stride: l.stride.map(|v| v as usize),
                padding: l.padding.map(|v| v as usize),
                groups: 1,
            })
            .collect();
        geometries.push(Conv3dGeometry {
            batch: 2,
            input: [4, 9, 9],
            in_channels: 8,
            out_channels: 12,
            kernel: [3, 3, 3],
            stride: [1, 2, 2],
            padding: [1, 1, 1],
            groups: 4,
        });
        for g in &geometries {
            for (p, layout) in [Precision::F32, Precision::Tf32, Precision::Bf16]
                .into_iter()
                .flat_map(|p| {
                    [
                        (p, ConvLayout::ChannelsLast),
                        (p, ConvLayout::ChannelsFirst),
                    ]
                })
            {
                let d =
                    Descriptors::new(g, p, layout).unwrap_or_else(|e| panic!("{g:?} {p:?}: {e}"));
                let mut out = [0i32; 5];
                let status = unsafe {
                    sys::cudnnGetConvolutionNdForwardOutputDim(
                        d.conv.0,
                        d.x.0,
                        d.w.0,
                        5,
                        out.as_mut_ptr(),
                    )
                };
                assert_eq!(status, sys::cudnnStatus_t::CUDNN_STATUS_SUCCESS, "{g:?}");
                let [n, t, h, w, c] = g.y_shape();
                assert_eq!(out, [n, c, t, h, w].map(|v| v as i32), "{g:?}");
            }
        }
    }
}
