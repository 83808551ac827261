//! Streaming extensions of the planner: event time (watermarks and time attributes) and
//! window table functions.

pub mod connector_table;
pub mod functions;
pub mod interval_join;
pub mod jobs;
pub mod json;
pub mod session_window;
pub mod statements;
pub mod status;
pub mod stream_provider;
pub mod temporal;
pub mod time;
pub mod windows;

pub use time::TimeAttr;
