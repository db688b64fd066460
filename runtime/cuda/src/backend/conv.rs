//! The three convolution passes: cuDNN (`crate::conv`) channels-last where it has an algorithm, otherwise on
//! operands transposed to channels-first and back; bf16 copies around the call in bf16 mode.

use vst_engine::shape::strides;
use vst_engine::{Conv3dGeometry, Storage};

use super::{CudaBackend, unsupported};
use crate::allocator::Pool;
use crate::conv::{ConvLayout, ConvPass};
use crate::device::{CudaMemory, allocate};
use crate::error::{CudaError, CudaResult};
use crate::geometry::{StridedArgs, TO_CHANNELS_FIRST, channels_first_strides};
use crate::options::Precision;

pub(super) fn forward(
    gpu: &CudaBackend,
    x: &Storage,
    w: &Storage,
    g: &Conv3dGeometry,
) -> vst_engine::Result<Storage> {
    gpu.run(|| gpu.conv(ConvPass::Forward, g, x, w, g.y_shape().iter().product()))
}

pub(super) fn backward_data(
    gpu: &CudaBackend,
    dy: &Storage,
    w: &Storage,
    g: &Conv3dGeometry,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        gpu.conv(
            ConvPass::BackwardData,
            g,
            dy,
            w,
            g.x_shape().iter().product(),
        )
    })
}

pub(super) fn backward_filter(
    gpu: &CudaBackend,
    x: &Storage,
    dy: &Storage,
    g: &Conv3dGeometry,
) -> vst_engine::Result<Storage> {
    gpu.run(|| {
        gpu.conv(
            ConvPass::BackwardFilter,
            g,
            x,
            dy,
            g.w_shape().iter().product(),
        )
    })
}

impl CudaBackend {
    /// A convolution pass writing `out_len` f32 at a new buffer; `a`, `b` (f32) as in `Convolutions::run`.
    fn conv(
        &self,
        pass: ConvPass,
        g: &Conv3dGeometry,
        a: &Storage,
        b: &Storage,
        out_len: usize,
    ) -> CudaResult<Storage> {
        let (a, b) = ((self.ptr(a)?, a.len()), (self.ptr(b)?, b.len()));
        let (out, out_ptr) = self.out(out_len)?;
        if out_len == 0 {
            return Ok(out);
        }
        if a.1 == 0 || b.1 == 0 {
            self.fill_ptr(out_ptr, out_len, 0.0)?;
            return Ok(out);
        }
        let p = self.options.precision;
        if self.conv.layout(pass, g, p) == ConvLayout::ChannelsLast {
            match self.conv_in_layout(
                pass,
                g,
                ConvLayout::ChannelsLast,
                a.0,
                b.0,
                out_ptr,
                out_len,
            ) {
                Err(CudaError::NoConvAlgorithm(why)) => {
                    // Once per pass and geometry: later calls go straight to channels-first.
                    eprintln!(
                        "warning: cuDNN: no channels-last algorithm for the {pass:?} pass of {g:?} in {} ({why}); \
                         this pass runs channels-first from now on (two extra transposes per call)",
                        p.name()
                    );
                    self.conv.use_channels_first(pass, g, p)
                }
                other => return other.map(|_| out),
            }
        }
        // cuDNN cannot run this pass channels-last: transpose operands to channels-first and the result back.
        let (a_shape, b_shape, out_shape) = match pass {
            ConvPass::Forward => (g.x_shape(), g.w_shape(), g.y_shape()),
            ConvPass::BackwardData => (g.y_shape(), g.w_shape(), g.x_shape()),
            ConvPass::BackwardFilter => (g.x_shape(), g.y_shape(), g.w_shape()),
        };
        let a_cf = self.permute5(a.0, a_shape, TO_CHANNELS_FIRST)?;
        let b_cf = self.permute5(b.0, b_shape, TO_CHANNELS_FIRST)?;
        let (out_cf, _) = allocate(&self.shared, Pool::Compute, out_len * 4)?;
        self.conv_in_layout(
            pass,
            g,
            ConvLayout::ChannelsFirst,
            a_cf.ptr(),
            b_cf.ptr(),
            out_cf.ptr(),
            out_len,
        )?;
        let back = StridedArgs::new(
            &out_shape,
            &strides(&out_shape),
            &channels_first_strides(out_shape),
        )
        .ok_or_else(|| unsupported("transposing a convolution result".into()))?;
        self.strided_copy(out_ptr, 0, out_cf.ptr(), 0, &back, out_len)?;
        Ok(out)
    }

    /// A dense copy of the 5D tensor at `x` (of `shape`) with axes reordered by `perm`.
    fn permute5(&self, x: u64, shape: [usize; 5], perm: [usize; 5]) -> CudaResult<CudaMemory> {
        let n: usize = shape.iter().product();
        let (mem, _) = allocate(&self.shared, Pool::Compute, n * 4)?;
        let xs = strides(&shape);
        let out_shape = perm.map(|p| shape[p]);
        let args = StridedArgs::new(&out_shape, &strides(&out_shape), &perm.map(|p| xs[p]))
            .ok_or_else(|| unsupported("transposing a convolution operand".into()))?;
        self.strided_copy(mem.ptr(), 0, x, 0, &args, n)?;
        Ok(mem)
    }

    /// One cuDNN pass on f32 operands already in `layout`, converting to bf16 around it in bf16 mode.
    #[allow(clippy::too_many_arguments)]
    fn conv_in_layout(
        &self,
        pass: ConvPass,
        g: &Conv3dGeometry,
        layout: ConvLayout,
        a: u64,
        b: u64,
        out: u64,
        out_len: usize,
    ) -> CudaResult<()> {
        let p = self.options.precision;
        if p != Precision::Bf16 {
            return self.conv.run(&self.shared, pass, g, p, layout, a, b, out);
        }
        let (a_len, b_len) = match pass {
            ConvPass::Forward => (g.x_shape(), g.w_shape()),
            ConvPass::BackwardData => (g.y_shape(), g.w_shape()),
            ConvPass::BackwardFilter => (g.x_shape(), g.y_shape()),
        };
        let a16 = self.f32_to_bf16(a, a_len.iter().product())?;
        let b16 = self.f32_to_bf16(b, b_len.iter().product())?;
        let (o16, _) = allocate(&self.shared, Pool::Compute, out_len * 2)?;
        self.conv.run(
            &self.shared,
            pass,
            g,
            p,
            layout,
            a16.ptr(),
            b16.ptr(),
            o16.ptr(),
        )?;
        self.bf16_to_f32(o16.ptr(), out, out_len)
    }
}
