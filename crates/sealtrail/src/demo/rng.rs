//! A small seeded random number generator (SplitMix64).
//!
//! The simulator must give the same dataset for the same seed on every
//! machine and every version of its dependencies, so it carries its own
//! generator instead of depending on a crate whose streams may change.

/// SplitMix64: tiny, fast, and good enough to make a dataset look random.
/// Not for secrets.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

/// Crockford base32, lowercase: readable identifiers without `i`, `l`, `o`, `u`.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

impl Rng {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0, so callers never divide by zero.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[lo, hi)`; `lo` when the range is empty.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo.saturating_add(self.below(hi.abs_diff(lo)) as i64)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform index into a collection of `len` items (0 when empty).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A uniform element of `xs`, or the default value when `xs` is empty.
    pub fn pick<T: Copy + Default>(&mut self, xs: &[T]) -> T {
        let i = self.index(xs.len());
        xs.get(i).copied().unwrap_or_default()
    }

    /// An index drawn in proportion to `weights` (0 when all are zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if r < u64::from(w) {
                return i;
            }
            r -= u64::from(w);
        }
        0
    }

    /// `n` random base32 characters, for identifiers.
    pub fn token(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(ALPHABET[(self.next_u64() & 31) as usize]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(Rng::new(43).next_u64(), a[0]);
    }

    #[test]
    fn ranges_hold_and_empty_inputs_do_not_panic() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(7) < 7);
            let x = r.between(-5, 5);
            assert!((-5..5).contains(&x));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(r.below(0), 0);
        assert_eq!(r.between(3, 3), 3);
        assert_eq!(r.pick::<u8>(&[]), 0);
        assert_eq!(r.weighted(&[]), 0);
        assert_eq!(r.weighted(&[0, 0]), 0);
        assert_eq!(r.weighted(&[0, 5, 0]), 1);
        assert_eq!(r.token(12).len(), 12);
    }
}
