//! Integration tests through real HTTP: one binary, one module per surface.

mod auth;
mod backup;
mod browser;
mod cli;
mod dashboard;
mod demo;
mod health;
mod helpers;
mod storage;
mod tokens;
