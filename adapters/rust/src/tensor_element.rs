//! Rust types that tensor data can be viewed as, one per numeric dtype.

use crate::Dtype;

mod sealed {
    pub trait Sealed {}
}

/// A plain-old-data type whose values are exactly the little-endian bytes of one tensor element
/// of [`Element::DTYPE`]. Implemented for `bool`, `i8`..`i64`, `u8`..`u64`, `f32`, `f64`,
/// [`F16`] and [`Bf16`]; sealed, because views are made by reinterpreting bytes.
pub trait Element: sealed::Sealed + Copy + 'static {
    /// The tensor dtype this type views.
    const DTYPE: Dtype;

    /// True when every element in `bytes` is a valid value of `Self` (only `bool` restricts
    /// bytes: 0 or 1).
    #[doc(hidden)]
    fn valid_bytes(bytes: &[u8]) -> bool {
        let _ = bytes;
        true
    }
}

macro_rules! element {
    ($($t:ty => $d:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$d;
        }
    )*};
}

element!(
    i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64,
    f32 => Float32, f64 => Float64, F16 => Float16, Bf16 => Bfloat16,
);

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: Dtype = Dtype::Bool;
    fn valid_bytes(bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| b <= 1)
    }
}

/// An IEEE-754 half-precision float, kept as its bit pattern (`MILO_DTYPE_FLOAT16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct F16(pub u16);

impl F16 {
    /// The exact `f32` value (every half is representable).
    pub fn to_f32(self) -> f32 {
        let h = self.0 as u32;
        let sign = (h & 0x8000) << 16;
        let exp = (h >> 10) & 0x1f;
        let frac = h & 0x3ff;
        let bits = match (exp, frac) {
            (0, 0) => sign,
            (0, _) => {
                // subnormal: normalise the fraction
                let mut e: i32 = -14;
                let mut f = frac;
                while f & 0x400 == 0 {
                    f <<= 1;
                    e -= 1;
                }
                sign | (((e + 127) as u32) << 23) | ((f & 0x3ff) << 13)
            }
            (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
            _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
        };
        f32::from_bits(bits)
    }
}

/// A bfloat16, kept as its bit pattern (`MILO_DTYPE_BFLOAT16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Bf16(pub u16);

impl Bf16 {
    /// The exact `f32` value (bfloat16 is the upper half of an `f32`).
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_to_f32() {
        assert_eq!(F16(0x3c00).to_f32(), 1.0);
        assert_eq!(F16(0xc000).to_f32(), -2.0);
        assert_eq!(F16(0x3555).to_f32(), 0.333_251_95);
        assert_eq!(F16(0x0001).to_f32(), 5.960_464_5e-8); // smallest subnormal
        assert_eq!(F16(0x7bff).to_f32(), 65504.0);
        assert_eq!(F16(0x8000).to_f32().to_bits(), 0x8000_0000);
        assert!(F16(0x7c00).to_f32().is_infinite());
        assert!(F16(0x7e00).to_f32().is_nan());
        assert_eq!(Bf16(0x3f80).to_f32(), 1.0);
    }

    #[test]
    fn bool_bytes_must_be_0_or_1() {
        assert!(bool::valid_bytes(&[0, 1, 1, 0]));
        assert!(!bool::valid_bytes(&[0, 2]));
        assert!(f32::valid_bytes(&[0xff; 8]));
    }
}
