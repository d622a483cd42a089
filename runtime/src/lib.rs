//! Weir
