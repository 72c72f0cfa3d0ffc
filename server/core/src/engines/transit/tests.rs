//! Unit tests of the transit engine.
