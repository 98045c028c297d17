//! A PCR selection in the SHA-256 bank: a set of PCR numbers, as policy
//! names them (`tpm.pcrs = [7]`).

use std::fmt;

/// PCRs 0 to 23, the ones a PC client TPM has.
pub const PCR_COUNT: u8 = 24;

/// A sorted set of PCR numbers, each below [`PCR_COUNT`]. May be empty (the
/// secret is then bound to the TPM and the PIN only).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Pcrs(Vec<u8>);

impl Pcrs {
    /// The selection of `numbers` (any order, no repeats), or the reason it
    /// is not one.
    pub fn new(numbers: &[u32]) -> Result<Self, String> {
        let mut out = Vec::with_capacity(numbers.len());
        for &n in numbers {
            let n = u8::try_from(n)
                .ok()
                .filter(|n| *n < PCR_COUNT)
                .ok_or_else(|| format!("PCR {n} does not exist (PCRs are 0 to 23)"))?;
            if out.contains(&n) {
                return Err(format!("PCR {n} is named twice"));
            }
            out.push(n);
        }
        out.sort_unstable();
        Ok(Self(out))
    }

    pub fn numbers(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Pcrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pcrs{:?}", self.0)
    }
}

impl fmt::Display for Pcrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<String> = self.0.iter().map(u8::to_string).collect();
        f.write_str(&names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_are_sorted_and_checked() {
        assert_eq!(Pcrs::new(&[7, 0]).unwrap().numbers(), &[0, 7]);
        assert!(Pcrs::new(&[]).unwrap().is_empty());
        assert_eq!(
            Pcrs::new(&[24]).unwrap_err(),
            "PCR 24 does not exist (PCRs are 0 to 23)"
        );
        assert_eq!(Pcrs::new(&[7, 7]).unwrap_err(), "PCR 7 is named twice");
        assert_eq!(Pcrs::new(&[7, 0]).unwrap().to_string(), "0, 7");
    }
}
