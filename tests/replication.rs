//! The Litestream drill in a test binary of its own. It times Litestream's syncs, and
//! Cargo runs test binaries one after another, so they do not wait for a core behind the
//! dozens of tests the shared binary runs at once.

#[allow(dead_code)]
#[path = "api/process.rs"]
mod process;

#[path = "api/litestream.rs"]
mod litestream;
