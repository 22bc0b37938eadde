//! The parts of the page, one per file. Each takes plain props and callbacks; none of them
//! knows about the socket, the storage or the reducer.

pub mod app_bar;
pub mod capacity_state;
pub mod change_button;
pub mod count_display;
pub mod create;
pub mod gone_notice;
pub mod invalid_name;
pub mod label_field;
pub mod notice;
pub mod open_counter;
pub mod owner;
pub mod role_badge;
pub mod share_button;
pub mod status_badge;
pub mod undo_button;
pub mod viewer_notice;
