//! The scale module exists to hold [`Scale`], how an axis maps positions to values, which
//! both the figure description ([`crate::figure`]) and the pixel geometry
//! ([`crate::geometry`]) use; on its own, neither of those depends on the other for it.

/// How positions on an axis map to values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Continuous, linear.
    Linear,
    /// Continuous, log10: axis space holds log10 of the values.
    Log10,
    /// Discrete categories at positions 0, 1, … in axis space.
    Categorical,
}
