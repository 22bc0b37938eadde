//! The parts of the page, one per file. Each takes plain props and callbacks; none of them
//! knows about the socket, the storage or the reducer.

pub mod app_bar;
pub mod change_button;
pub mod count_display;
pub mod create;
pub mod invalid_name;
pub mod notice;
pub mod open_counter;
pub mod owner;
pub mod share_button;
pub mod status_badge;
