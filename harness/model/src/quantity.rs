//! Kubernetes resource quantities and Spark (JVM-style) memory strings.
//!
//! Entry points: [`parse_cpu_millis`], [`parse_bytes`], [`parse_spark_mib`].
//! Everything is integer: CPU in millicores, memory in bytes (or MiB for Spark sizes).

use std::fmt;

/// Why a quantity string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid {what}: {why}")]
pub struct QuantityError {
    /// The text that was given.
    pub input: String,
    /// What was expected ("cpu quantity", "memory quantity", "Spark memory size").
    pub what: &'static str,
    /// Why it was rejected.
    pub why: &'static str,
}

const MIB: i64 = 1024 * 1024;

/// Splits `"1.5Gi"` into the decimal number (as a rational `mantissa / 10^scale`) and the suffix.
fn split_number(s: &str) -> Option<(i128, u32, &str)> {
    let s = s.trim();
    let end = s.char_indices().find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '+' || *c == '-')).map_or(s.len(), |(i, _)| i);
    let (num, suffix) = s.split_at(end);
    if num.is_empty() {
        return None;
    }
    let (neg, num) = match num.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mantissa: i128 = digits.parse().ok()?;
    Some((if neg { -mantissa } else { mantissa }, frac.len() as u32, suffix))
}

/// Multiplier of a Kubernetes quantity suffix as `(numerator, denominator)`.
fn k8s_suffix(suffix: &str) -> Option<(i128, i128)> {
    let pow = |b: i128, e: u32| b.pow(e);
    Some(match suffix {
        "" => (1, 1),
        "m" => (1, 1000),
        "k" => (1000, 1),
        "M" => (pow(1000, 2), 1),
        "G" => (pow(1000, 3), 1),
        "T" => (pow(1000, 4), 1),
        "P" => (pow(1000, 5), 1),
        "E" => (pow(1000, 6), 1),
        "Ki" => (1024, 1),
        "Mi" => (pow(1024, 2), 1),
        "Gi" => (pow(1024, 3), 1),
        "Ti" => (pow(1024, 4), 1),
        "Pi" => (pow(1024, 5), 1),
        "Ei" => (pow(1024, 6), 1),
        _ => return None,
    })
}

/// Reads a Kubernetes quantity and returns it scaled by `unit` (1000 for milli), rounding up as
/// Kubernetes does for requests (`resource.Quantity.MilliValue` rounds up).
fn parse_k8s(input: &str, unit: i128, what: &'static str) -> Result<i64, QuantityError> {
    let err = |why| QuantityError { input: input.to_string(), what, why };
    let (mantissa, scale, suffix) = split_number(input).ok_or_else(|| err("expected a number with an optional suffix"))?;
    if mantissa < 0 {
        return Err(err("quantities cannot be negative here"));
    }
    let (num, den) = k8s_suffix(suffix).ok_or_else(|| err("unknown suffix (use m, k, M, G, Ki, Mi, Gi, ...)"))?;
    let den = den * 10i128.pow(scale);
    let value = mantissa * num * unit;
    let rounded = (value + den - 1) / den;
    i64::try_from(rounded).map_err(|_| err("too large"))
}

/// CPU quantity (`"2"`, `"500m"`, `"0.5"`) in millicores.
pub fn parse_cpu_millis(input: &str) -> Result<i64, QuantityError> {
    parse_k8s(input, 1000, "cpu quantity")
}

/// Memory (or any byte) quantity (`"32Gi"`, `"1408Mi"`, `"1G"`) in bytes.
pub fn parse_bytes(input: &str) -> Result<i64, QuantityError> {
    parse_k8s(input, 1, "memory quantity")
}

/// A Spark/JVM memory size (`"512m"`, `"1g"`, `"4096"`) in MiB.
///
/// Spark reads `spark.{driver,executor}.memory` with `ConfigBuilder.bytesConf(ByteUnit.MiB)`:
/// suffixes `k`, `m`, `g`, `t`, `p` (case-insensitive, optional trailing `b`), no suffix = MiB.
pub fn parse_spark_mib(input: &str) -> Result<i64, QuantityError> {
    let err = |why| QuantityError { input: input.to_string(), what: "Spark memory size", why };
    let lower = input.trim().to_ascii_lowercase();
    let body = lower.strip_suffix('b').filter(|b| b.ends_with(|c: char| c.is_ascii_alphabetic())).unwrap_or(&lower);
    let (digits, suffix) = body.split_at(body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len()));
    if suffix.starts_with('.') {
        return Err(err("Spark sizes are whole numbers (e.g. 1536m rather than 1.5g)"));
    }
    let n: i64 = digits.parse().map_err(|_| err("expected a whole number with an optional k/m/g/t suffix"))?;
    let kib = match suffix {
        "k" => return Ok(n / 1024),
        "" | "m" => 1024,
        "g" => 1024 * 1024,
        "t" => 1024 * 1024 * 1024,
        "p" => 1024 * 1024 * 1024 * 1024,
        _ => return Err(err("unknown suffix (use k, m, g or t)")),
    };
    Ok(n * kib / 1024)
}

/// Bytes for a number of MiB.
pub const fn mib(n: i64) -> i64 {
    n * MIB
}

/// Formats bytes the way `kubectl` shows requests: whole `Gi` or `Mi` when exact.
pub struct Bytes(pub i64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b != 0 && b % (1024 * MIB) == 0 {
            write!(f, "{}Gi", b / (1024 * MIB))
        } else if b % MIB == 0 {
            write!(f, "{}Mi", b / MIB)
        } else if b % 1024 == 0 {
            write!(f, "{}Ki", b / 1024)
        } else {
            write!(f, "{b}")
        }
    }
}

/// Formats millicores as `kubectl` does: whole cores without a suffix, else `m`.
pub struct Millis(pub i64);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % 1000 == 0 { write!(f, "{}", self.0 / 1000) } else { write!(f, "{}m", self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities() {
        assert_eq!(parse_cpu_millis("2").unwrap(), 2000);
        assert_eq!(parse_cpu_millis("500m").unwrap(), 500);
        assert_eq!(parse_cpu_millis("0.5").unwrap(), 500);
        assert_eq!(parse_cpu_millis("0.2").unwrap(), 200);
        // Kubernetes rounds sub-millicore requests up.
        assert_eq!(parse_cpu_millis("0.0001").unwrap(), 1);
        assert!(parse_cpu_millis("two").is_err());
        assert!(parse_cpu_millis("1x").is_err());
    }

    #[test]
    fn memory_quantities() {
        assert_eq!(parse_bytes("32Gi").unwrap(), 32 * 1024 * MIB);
        assert_eq!(parse_bytes("1408Mi").unwrap(), 1408 * MIB);
        assert_eq!(parse_bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("1.5Gi").unwrap(), 1536 * MIB);
        assert!(parse_bytes("-1Gi").is_err());
        assert!(parse_bytes("1gb").is_err());
    }

    #[test]
    fn spark_memory_sizes() {
        assert_eq!(parse_spark_mib("512m").unwrap(), 512);
        assert_eq!(parse_spark_mib("1g").unwrap(), 1024);
        assert_eq!(parse_spark_mib("4G").unwrap(), 4096);
        assert_eq!(parse_spark_mib("2048").unwrap(), 2048);
        assert_eq!(parse_spark_mib("1gb").unwrap(), 1024);
        assert_eq!(parse_spark_mib("2048k").unwrap(), 2);
        assert!(parse_spark_mib("1.5g").unwrap_err().why.contains("whole numbers"));
    }

    #[test]
    fn display_like_kubectl() {
        assert_eq!(Bytes(1408 * MIB).to_string(), "1408Mi");
        assert_eq!(Bytes(64 * 1024 * MIB).to_string(), "64Gi");
        assert_eq!(Millis(1500).to_string(), "1500m");
        assert_eq!(Millis(8000).to_string(), "8");
    }
}
