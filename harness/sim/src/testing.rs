//! test fake (filled next)
