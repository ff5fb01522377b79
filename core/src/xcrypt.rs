//! The XCRYPT lines of the dialogue (spec section 4) as values: the versions, the server's
//! offer in its EHLO reply, the client's commands and the server's replies, parsed from
//! and written to byte lines without allocation. The state machines that use them are
//! still to come.

mod command;
mod line;
mod reply;
mod version;

pub use command::{Command, CommandError};
pub use line::{LINE_MAX, Line};
pub use reply::{Reply, ReplyError, offer_in_ehlo_line};
pub use version::{Offer, Version};
