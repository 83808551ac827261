//! Streaming extensions of the planner: event time (watermarks and time attributes) and
//! window table functions.

pub mod time;
pub mod windows;

pub use time::TimeAttr;
