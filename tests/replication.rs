//! The Litestream drill in a test binary of its own. Cargo runs test binaries one after
//! another, so Litestream's sync interval is measured while the rest of the suite is not
//! running beside it; in the shared binary, dozens of tests at once on a small machine
//! delayed its syncs by seconds.

#[allow(dead_code)]
#[path = "api/process.rs"]
mod process;

#[path = "api/litestream.rs"]
mod litestream;
