//! approle tests
