//! Elementwise ops and their gradients (binary ops broadcast; their gradients are summed back to each operand).

use super::{BackwardFn, Graph, Var};
use crate::backend::{BinaryOp, UnaryOp};
use crate::error::Result;
use crate::tensor::Tensor;

fn unary_rule(op: UnaryOp, x: Tensor, y: Tensor) -> BackwardFn {
    Box::new(move |dy: &Tensor, _: &[bool]| {
        let dx = match op {
            UnaryOp::Relu => y.relu_backward(dy)?,
            UnaryOp::Exp => dy.mul(&y)?,
            UnaryOp::Log => dy.div(&x)?,
            UnaryOp::Neg => dy.neg()?,
            UnaryOp::Sqrt => dy.div(&y)?.scale(0.5)?,
            UnaryOp::Recip => dy.mul(&y.square()?)?.neg()?,
            UnaryOp::Square => dy.mul(&x)?.scale(2.0)?,
            UnaryOp::Step => Tensor::zeros(x.shape(), x.device())?,
            UnaryOp::Scale(s) => dy.scale(s)?,
            UnaryOp::AddScalar(_) => dy.clone(),
            UnaryOp::ClampMin(s) => dy.mul(&x.add_scalar(-s)?.unary(UnaryOp::Step)?)?,
            UnaryOp::Powf(p) => dy.mul(&x.powf(p - 1.0)?)?.scale(p)?,
        };
        Ok(vec![Some(dx)])
    })
}

/// The backward rule of a binary op. Add and sub keep only the operand shapes (so the operands' memory can be
/// released before the backward pass reaches them); mul and div keep the operands they need.
fn binary_rule(op: BinaryOp, a: Tensor, b: Tensor) -> BackwardFn {
    let (a_shape, b_shape) = (a.shape().to_vec(), b.shape().to_vec());
    let operands = match op {
        BinaryOp::Add | BinaryOp::Sub => None,
        BinaryOp::Mul | BinaryOp::Div => Some((a, b)),
    };
    Box::new(move |dy: &Tensor, needs: &[bool]| {
        let (ga, gb) = match (op, &operands) {
            (BinaryOp::Add, _) => (dy.clone(), dy.clone()),
            (BinaryOp::Sub, _) => (dy.clone(), if needs[1] { dy.neg()? } else { dy.clone() }),
            (BinaryOp::Mul, Some((a, b))) => (
                if needs[0] { dy.mul(b)? } else { dy.clone() },
                if needs[1] { dy.mul(a)? } else { dy.clone() },
            ),
            (BinaryOp::Div, Some((a, b))) => (
                if needs[0] { dy.div(b)? } else { dy.clone() },
                if needs[1] {
                    dy.mul(a)?.div(&b.square()?)?.neg()?
                } else {
                    dy.clone()
                },
            ),
            _ => {
                return Err(crate::EngineError::Autodiff(
                    "binary op lost its operands".into(),
                ));
            }
        };
        let ga = if needs[0] {
            Some(ga.sum_to_shape(&a_shape)?)
        } else {
            None
        };
        let gb = if needs[1] {
            Some(gb.sum_to_shape(&b_shape)?)
        } else {
            None
        };
        Ok(vec![ga, gb])
    })
}

impl Graph {
    /// An elementwise function of one operand.
    pub fn unary(&mut self, op: UnaryOp, x: &Var) -> Result<Var> {
        let y = x.value().unary(op)?;
        let xv = x.value().clone();
        self.record("unary", &[x], y, |y| unary_rule(op, xv, y.clone()))
    }
    pub fn relu(&mut self, x: &Var) -> Result<Var> {
        self.unary(UnaryOp::Relu, x)
    }
    pub fn exp(&mut self, x: &Var) -> Result<Var> {
        self.unary(UnaryOp::Exp, x)
    }
    pub fn log(&mut self, x: &Var) -> Result<Var> {
        self.unary(UnaryOp::Log, x)
    }
    pub fn neg(&mut self, x: &Var) -> Result<Var> {
        self.unary(UnaryOp::Neg, x)
    }
    pub fn sqrt(&mut self, x: &Var) -> Result<Var> {
        self.unary(UnaryOp::Sqrt, x)
    }
    pub fn square(&mut self, x: &Var) -> Result<Var> {
        self.unary(UnaryOp::Square, x)
    }
    /// `x · s`
    pub fn scale(&mut self, x: &Var, s: f32) -> Result<Var> {
        self.unary(UnaryOp::Scale(s), x)
    }
    /// `x + s`
    pub fn add_scalar(&mut self, x: &Var, s: f32) -> Result<Var> {
        self.unary(UnaryOp::AddScalar(s), x)
    }
    /// `max(x, s)`
    pub fn clamp_min(&mut self, x: &Var, s: f32) -> Result<Var> {
        self.unary(UnaryOp::ClampMin(s), x)
    }
    /// `x^p`
    pub fn powf(&mut self, x: &Var, p: f32) -> Result<Var> {
        self.unary(UnaryOp::Powf(p), x)
    }

    /// Broadcasting binary arithmetic.
    pub fn binary(&mut self, op: BinaryOp, a: &Var, b: &Var) -> Result<Var> {
        let y = a.value().binary(op, b.value())?;
        let (av, bv) = (a.value().clone(), b.value().clone());
        self.record("binary", &[a, b], y, |_| binary_rule(op, av, bv))
    }
    pub fn add(&mut self, a: &Var, b: &Var) -> Result<Var> {
        self.binary(BinaryOp::Add, a, b)
    }
    pub fn sub(&mut self, a: &Var, b: &Var) -> Result<Var> {
        self.binary(BinaryOp::Sub, a, b)
    }
    pub fn mul(&mut self, a: &Var, b: &Var) -> Result<Var> {
        self.binary(BinaryOp::Mul, a, b)
    }
    pub fn div(&mut self, a: &Var, b: &Var) -> Result<Var> {
        self.binary(BinaryOp::Div, a, b)
    }
}
