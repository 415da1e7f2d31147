//! The actors of the examples, shared by the example programs and the test suite.

pub mod bank;
pub mod counter;
