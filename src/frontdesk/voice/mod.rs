//! Voice calls on Twilio numbers (SPEC §3.2–§3.5): the role decides, the call flow
//! drives the menu, every path ends at a person, a voicemail or a polite goodbye, and the
//! call row converges whatever order Twilio's callbacks arrive in.
//!
//! One file a stage of the call: [`call`] loads the call every stage starts from, then
//! [`entry`], [`menu`] (with the recording consent), [`dial`] (ringing people, screening),
//! [`voicemail`] (recording, transcript) and [`status`] (the end, the text-back).

pub mod call;
pub mod dial;
pub mod entry;
pub mod menu;
pub mod status;
pub mod voicemail;

pub use call::{Recording, VoiceParams};

pub const TOO_MANY_CALLS_MESSAGE: &str =
    "We are receiving too many calls from this number right now. Please try again in a few minutes. Goodbye.";
pub const TROUBLE_MESSAGE: &str =
    "Sorry, we are having trouble answering your call. Please try again in a few minutes. Goodbye.";
