//! A first-in-first-out ring of embedding rows (MoCo's negative keys, SwAV's past embeddings).

use vst_engine::{Result as EngineResult, Tensor};

use crate::model::{ModelError, invalid};

/// `len` rows of width `dim`, overwritten oldest first.
#[derive(Debug, Clone)]
pub struct RowQueue {
    rows: Tensor,
    /// Next row to overwrite.
    ptr: usize,
    /// Rows written so far, up to `len` (the queue holds only real entries once this reaches `len`).
    filled: usize,
}

impl RowQueue {
    /// A queue whose initial content is `rows` (len×dim), none of it counted as real entries.
    pub fn new(rows: Tensor) -> Result<RowQueue, ModelError> {
        if rows.rank() != 2 || rows.shape()[0] == 0 {
            return invalid(format!(
                "a queue needs len×dim rows with len ≥ 1, got {:?}",
                rows.shape()
            ));
        }
        Ok(RowQueue {
            rows,
            ptr: 0,
            filled: 0,
        })
    }

    /// A queue restored from a checkpoint.
    pub fn restore(rows: Tensor, ptr: usize, filled: usize) -> Result<RowQueue, ModelError> {
        let mut q = RowQueue::new(rows)?;
        if ptr >= q.len() || filled > q.len() {
            return invalid(format!(
                "queue state out of range: pointer {ptr}, filled {filled}, length {}",
                q.len()
            ));
        }
        q.ptr = ptr;
        q.filled = filled;
        Ok(q)
    }

    pub fn len(&self) -> usize {
        self.rows.shape()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dim(&self) -> usize {
        self.rows.shape()[1]
    }

    pub fn ptr(&self) -> usize {
        self.ptr
    }

    pub fn filled(&self) -> usize {
        self.filled
    }

    /// True once every row has been written at least once.
    pub fn is_full(&self) -> bool {
        self.filled >= self.len()
    }

    pub fn tensor(&self) -> &Tensor {
        &self.rows
    }

    /// Writes `new` (n×dim) at the pointer, wrapping around, and advances it.
    pub fn push(&mut self, new: &Tensor) -> EngineResult<()> {
        let len = self.len();
        let total = new.shape().first().copied().unwrap_or(0);
        let mut done = 0;
        while done < total {
            let count = (len - self.ptr).min(total - done);
            let chunk = new.slice(0, done, count)?;
            let mut parts = Vec::with_capacity(3);
            let before = (self.ptr > 0)
                .then(|| self.rows.slice(0, 0, self.ptr))
                .transpose()?;
            let tail = len - self.ptr - count;
            let after = (tail > 0)
                .then(|| self.rows.slice(0, self.ptr + count, tail))
                .transpose()?;
            parts.extend(before.as_ref());
            parts.push(&chunk);
            parts.extend(after.as_ref());
            self.rows = Tensor::concat(&parts, 0)?;
            self.ptr = (self.ptr + count) % len;
            done += count;
        }
        self.filled = (self.filled + total).min(len);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vst_engine::Device;

    #[test]
    fn ring_overwrites_oldest_first_and_wraps() {
        let dev = Device::cpu();
        let mut q = RowQueue::new(Tensor::zeros(&[5, 1], &dev).unwrap()).unwrap();
        q.push(&Tensor::from_slice(&[1.0, 2.0, 3.0], &[3, 1], &dev).unwrap())
            .unwrap();
        assert_eq!(q.tensor().to_vec().unwrap(), vec![1.0, 2.0, 3.0, 0.0, 0.0]);
        assert!(!q.is_full());
        q.push(&Tensor::from_slice(&[4.0, 5.0, 6.0], &[3, 1], &dev).unwrap())
            .unwrap();
        assert_eq!(q.tensor().to_vec().unwrap(), vec![6.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(q.ptr(), 1);
        assert!(q.is_full());
        // More rows than the queue holds: the last ones win.
        q.push(
            &Tensor::from_slice(&[7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0], &[7, 1], &dev).unwrap(),
        )
        .unwrap();
        assert_eq!(
            q.tensor().to_vec().unwrap(),
            vec![11.0, 12.0, 13.0, 9.0, 10.0]
        );
        assert_eq!(q.ptr(), 3);
    }
}
