//! Property tests: parsing and evaluation never panic.
