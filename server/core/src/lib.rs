pub mod barrier;
pub mod error;
pub mod physical;
