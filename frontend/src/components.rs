//! The parts of the page, one per file. Each takes plain props and callbacks; none of them
//! knows about the socket or the reducer.

pub mod change_button;
pub mod count_heading;
pub mod notice;
pub mod status_badge;
