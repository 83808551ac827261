//! An exact, retractable sum of floating-point values.
//!
//! A running `f64` sum cannot be maintained under deletes: `(a + b) - b` need not equal `a`,
//! so a view would drift from its batch meaning and depend on the order of its input. This
//! sum keeps the exact value as a list of non-overlapping partials (Shewchuk's algorithm, as
//! in Python's `math.fsum`): adding `x` or `-x` is exact, so retracting a row restores the
//! previous state exactly, and the result is the correctly rounded sum whatever the order of
//! the changes. An update costs O(partials) — a handful of doubles in practice (at most ~40,
//! the exponent range divided by the mantissa width).
//!
//! NaN and infinities are counted apart (they are not sums of partials); the result is NaN
//! when a NaN or both infinities are present, else the infinity that is present.

use sluice_storage::{StateReader, StateWriter};

use crate::error::{Result, RuntimeError};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExactSum {
    /// Non-overlapping, increasing in magnitude; their exact sum is the finite part.
    partials: Vec<f64>,
    nan: i64,
    positive_infinity: i64,
    negative_infinity: i64,
}

impl ExactSum {
    /// Add `weight` copies of `value` (a negative weight retracts them).
    pub fn add(&mut self, value: f64, weight: i64) -> Result<()> {
        if weight == 0 {
            return Ok(());
        }
        if value.is_nan() {
            self.nan += weight;
            return Ok(());
        }
        if value.is_infinite() {
            if value > 0.0 {
                self.positive_infinity += weight;
            } else {
                self.negative_infinity += weight;
            }
            return Ok(());
        }
        if weight == 1 {
            return self.add_exact(value);
        }
        if weight == -1 {
            return self.add_exact(-value);
        }
        // value * weight as an exact sum of two doubles: the rounded product and its error
        // (fused multiply-add). Weights beyond 2^53 are not exact doubles: add in halves.
        if weight.unsigned_abs() > (1 << 53) {
            let half = weight / 2;
            self.add(value, half)?;
            return self.add(value, weight - half);
        }
        let factor = weight as f64;
        let product = value * factor;
        if !product.is_finite() {
            return Err(overflow());
        }
        let error = value.mul_add(factor, -product);
        self.add_exact(product)?;
        self.add_exact(error)
    }

    fn add_exact(&mut self, mut x: f64) -> Result<()> {
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let high = x + y;
            if !high.is_finite() {
                return Err(overflow());
            }
            let low = y - (high - x);
            if low != 0.0 {
                self.partials[kept] = low;
                kept += 1;
            }
            x = high;
        }
        self.partials.truncate(kept);
        if x != 0.0 {
            self.partials.push(x);
        }
        Ok(())
    }

    /// The correctly rounded sum.
    pub fn value(&self) -> f64 {
        if self.nan > 0 || (self.positive_infinity > 0 && self.negative_infinity > 0) {
            return f64::NAN;
        }
        if self.positive_infinity > 0 {
            return f64::INFINITY;
        }
        if self.negative_infinity > 0 {
            return f64::NEG_INFINITY;
        }
        let Some((&last, rest)) = self.partials.split_last() else {
            return 0.0;
        };
        // Sum from the largest partial down until the result no longer changes; then correct
        // a round-half-even tie using the sign of the remaining partials.
        let mut high = last;
        let mut low = 0.0;
        let mut n = rest.len();
        while n > 0 {
            let x = high;
            let y = rest[n - 1];
            n -= 1;
            high = x + y;
            let y_rounded = high - x;
            low = y - y_rounded;
            if low != 0.0 {
                break;
            }
        }
        if n > 0 && ((low < 0.0 && rest[n - 1] < 0.0) || (low > 0.0 && rest[n - 1] > 0.0)) {
            let y = low * 2.0;
            let x = high + y;
            if y == x - high {
                high = x;
            }
        }
        high
    }

    /// Approximate bytes of memory (the partials are a handful of doubles in practice).
    pub fn memory_size(&self) -> usize {
        std::mem::size_of::<Self>() + self.partials.capacity() * std::mem::size_of::<f64>()
    }

    pub fn snapshot(&self, out: &mut StateWriter) {
        out.put_u64(self.partials.len() as u64);
        for partial in &self.partials {
            out.put_u64(partial.to_bits());
        }
        out.put_i64(self.nan);
        out.put_i64(self.positive_infinity);
        out.put_i64(self.negative_infinity);
    }

    pub fn restore(input: &mut StateReader) -> Result<Self> {
        let count = input.len_prefix()?;
        let mut partials = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            partials.push(f64::from_bits(input.u64()?));
        }
        Ok(Self {
            partials,
            nan: input.i64()?,
            positive_infinity: input.i64()?,
            negative_infinity: input.i64()?,
        })
    }
}

fn overflow() -> RuntimeError {
    RuntimeError::NumericOutOfRange(
        "floating-point sum overflow: an intermediate sum exceeds the double range".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The correctly rounded sum of `n / 1024` values, via exact integer arithmetic.
    fn exact(values: &[(i64, i64)]) -> f64 {
        let scaled: i128 = values.iter().map(|(n, w)| *n as i128 * *w as i128).sum();
        scaled as f64 / 1024.0
    }

    #[test]
    fn retraction_restores_the_previous_sum() {
        let mut sum = ExactSum::default();
        sum.add(0.1, 1).unwrap();
        sum.add(1e16, 1).unwrap();
        sum.add(0.2, 1).unwrap();
        sum.add(1e16, -1).unwrap();
        // 0.1 + 0.2 correctly rounded is 0.30000000000000004 (the exact sum of the doubles).
        assert_eq!(sum.value(), 0.30000000000000004);
        sum.add(0.1, -1).unwrap();
        sum.add(0.2, -1).unwrap();
        assert_eq!(sum, ExactSum::default());
        assert_eq!(sum.value(), 0.0);
    }

    #[test]
    fn special_values_are_counted_apart() {
        let mut sum = ExactSum::default();
        sum.add(1.5, 1).unwrap();
        sum.add(f64::INFINITY, 2).unwrap();
        assert_eq!(sum.value(), f64::INFINITY);
        sum.add(f64::NEG_INFINITY, 1).unwrap();
        assert!(sum.value().is_nan());
        sum.add(f64::INFINITY, -2).unwrap();
        assert_eq!(sum.value(), f64::NEG_INFINITY);
        sum.add(f64::NEG_INFINITY, -1).unwrap();
        sum.add(f64::NAN, 1).unwrap();
        assert!(sum.value().is_nan());
        sum.add(f64::NAN, -1).unwrap();
        assert_eq!(sum.value(), 1.5);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let mut sum = ExactSum::default();
        sum.add(f64::MAX, 1).unwrap();
        assert!(sum.add(f64::MAX, 1).is_err());
        assert!(sum.add(f64::MAX, 3).is_err());
    }

    #[test]
    fn snapshot_round_trip() {
        let mut sum = ExactSum::default();
        sum.add(1e300, 1).unwrap();
        sum.add(1.0, 3).unwrap();
        sum.add(f64::NAN, 1).unwrap();
        let mut out = StateWriter::new();
        sum.snapshot(&mut out);
        let bytes = out.into_bytes();
        let restored = ExactSum::restore(&mut StateReader::new(&bytes)).unwrap();
        assert_eq!(restored, sum);
    }

    proptest! {
        /// Any interleaving of weighted inserts and retractions gives the correctly rounded
        /// sum of what remains.
        #[test]
        fn equals_the_correctly_rounded_sum(
            values in prop::collection::vec(
                (-(1i64 << 60)..(1i64 << 60), -3i64..4), 1..60),
            retract in prop::collection::vec(any::<bool>(), 60),
        ) {
            let mut sum = ExactSum::default();
            let mut kept = Vec::new();
            for (index, (n, w)) in values.iter().enumerate() {
                let value = *n as f64 / 1024.0;
                // `n` itself may not be an exact double: use the double's exact value.
                let n = (value * 1024.0) as i64;
                sum.add(value, *w).unwrap();
                if retract[index] {
                    sum.add(value, -*w).unwrap();
                } else {
                    kept.push((n, *w));
                }
            }
            prop_assert_eq!(sum.value(), exact(&kept));
        }
    }
}
