//! Integration tests through real HTTP: one binary, one module per surface.

mod auth;
mod backup;
mod browser;
mod browser_numbers;
mod cli;
mod dashboard;
mod demo;
mod doctor;
mod flags;
mod health;
mod helpers;
mod numbers;
mod openapi;
mod providers;
mod real_setup;
mod sagas;
mod simulate;
mod storage;
mod tokens;
mod twilio_payloads;
mod twilio_security;
mod twilio_sms;
mod twilio_voice;
mod twiml_reference;
mod vapi;
mod vapi_payloads;
