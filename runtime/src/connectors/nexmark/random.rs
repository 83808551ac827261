//! `java.util.Random`, bit for bit: the generator the reference Nexmark implementation (Apache
//! Beam's `sources.generator`) seeds with each event's id.
//!
//! It is a 48-bit linear congruential generator (one multiply, add and mask per draw), so it is
//! also cheap enough to be seeded afresh for every event. Reproducing it exactly means an event's
//! person, auction and bid fields equal the reference's for the same event id (where our draw
//! order matches the reference's; see the parent module).
//!
//! Invariants: `seed < 2^48`; every method returns exactly what the Java method of the same name
//! returns for the same seed and call sequence (tested against values printed by a JVM).

const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const ADDEND: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// `1.0 / 2^53`, Java's `DOUBLE_UNIT`.
const DOUBLE_UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// A `java.util.Random`.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    /// `new Random(seed)`.
    #[inline]
    pub fn new(seed: i64) -> Self {
        Self {
            seed: (seed as u64 ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: the top `bits` bits of the next state, as Java's `int` (so `bits = 32`
    /// may be negative).
    #[inline]
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt()`: uniform over all `i32`.
    #[inline]
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`: uniform in `[0, bound)`. Java throws for `bound <= 0`; this returns 0
    /// (callers validate their bounds, so it is never reached with a bad bound).
    #[inline]
    pub fn next_int_bounded(&mut self, bound: i32) -> i32 {
        if bound <= 0 {
            return 0;
        }
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            // A power of two: take the high bits.
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            // Java's `u - r + m < 0` in wrapping int arithmetic rejects the final partial range.
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextLong()`.
    #[inline]
    pub fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32)) << 32;
        high.wrapping_add(i64::from(self.next(32)))
    }

    /// `nextDouble()`: uniform in `[0, 1)` with 53 random bits.
    #[inline]
    pub fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26)) << 27;
        (high + i64::from(self.next(27))) as f64 * DOUBLE_UNIT
    }

    /// The reference's `LongGenerator.nextLong(random, n)`: uniform in `[0, n)` through
    /// `nextInt` when `n` fits an `int`, else `|nextLong() % n|` (skewed, as in the reference).
    #[inline]
    pub fn next_long_below(&mut self, n: i64) -> i64 {
        if n < i64::from(i32::MAX) {
            i64::from(self.next_int_bounded(n as i32))
        } else {
            (self.next_long() % n).wrapping_abs()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::JavaRandom;

    /// Values printed by OpenJDK 17 for the same calls.
    #[test]
    fn matches_java_util_random() {
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_int(), -1_155_484_576);
        assert_eq!(r.next_int_bounded(10), 8);
        assert_eq!(r.next_int_bounded(16), 3);
        assert_eq!(r.next_long(), -7_261_648_964_369_397_258);
        assert_eq!(r.next_double(), 0.309_050_568_199_709_2);
        assert_eq!(r.next_int_bounded(1_000_000_007), 251_269_761);

        let mut s = JavaRandom::new(-5);
        assert_eq!(s.next_int(), 1_156_638_822);
        assert_eq!(s.next_int_bounded(13), 8);
        assert_eq!(s.next_double(), 0.334_092_398_638_372_37);
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut r = JavaRandom::new(42);
        for bound in [1, 2, 3, 7, 13, 26, 100, 10_000, i32::MAX] {
            for _ in 0..1000 {
                let v = r.next_int_bounded(bound);
                assert!((0..bound).contains(&v), "{v} not below {bound}");
            }
        }
        for n in [1_i64, 11, 1 << 40] {
            for _ in 0..1000 {
                let v = r.next_long_below(n);
                assert!((0..n).contains(&v), "{v} not below {n}");
            }
        }
        assert_eq!(r.next_int_bounded(0), 0);
    }
}
