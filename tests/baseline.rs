//! The benchmark baseline client's own tests: it is not part of the crate
//! (benches and the load tool include it by path), so its tests run here.
#[path = "../benches/support/baseline.rs"]
#[allow(dead_code)] // each includer uses part of it
mod baseline;
