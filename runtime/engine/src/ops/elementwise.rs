//! Elementwise operations: unary maps and NumPy-broadcasting binary arithmetic.

use super::wrap;
use crate::backend::{BinaryOp, UnaryOp};
use crate::error::Result;
use crate::shape::broadcast_shapes;
use crate::tensor::Tensor;

impl Tensor {
    /// Applies an elementwise function.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let s = self.device().backend().unary(op, self.storage())?;
        wrap(self, s, self.shape())
    }
    pub fn relu(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Relu)
    }
    pub fn exp(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Exp)
    }
    pub fn log(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Log)
    }
    pub fn neg(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Neg)
    }
    pub fn sqrt(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt)
    }
    pub fn recip(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Recip)
    }
    pub fn square(&self) -> Result<Tensor> {
        self.unary(UnaryOp::Square)
    }
    /// `self · s`
    pub fn scale(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Scale(s))
    }
    /// `self + s`
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::AddScalar(s))
    }
    /// `max(self, s)`
    pub fn clamp_min(&self, s: f32) -> Result<Tensor> {
        self.unary(UnaryOp::ClampMin(s))
    }
    /// `self^p`
    pub fn powf(&self, p: f32) -> Result<Tensor> {
        self.unary(UnaryOp::Powf(p))
    }

    /// Broadcasting binary arithmetic.
    pub fn binary(&self, op: BinaryOp, other: &Tensor) -> Result<Tensor> {
        let name = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        };
        self.device().check_same(other.device(), name)?;
        let out = broadcast_shapes(name, self.shape(), other.shape())?;
        let s = self.device().backend().binary(
            op,
            self.storage(),
            self.shape(),
            other.storage(),
            other.shape(),
            &out,
        )?;
        wrap(self, s, &out)
    }
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, other)
    }
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, other)
    }
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, other)
    }
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, other)
    }

    /// `dy` where `self > 0` (self is a ReLU output), else 0.
    pub fn relu_backward(&self, dy: &Tensor) -> Result<Tensor> {
        let s = self
            .device()
            .backend()
            .relu_backward(self.storage(), dy.storage())?;
        wrap(self, s, self.shape())
    }
}
