//! The `switchboard` binary: parse the command line, load the configuration, set up
//! logging, run the command and turn its error into an exit code.
#![forbid(unsafe_code)]

use clap::Parser;
use switchboard::cli::{self, Cli};

fn main() {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("switchboard: configuration error: {e}");
            std::process::exit(78);
        }
    };
    env_logger::Builder::new()
        .parse_filters(&config.log)
        .format_timestamp_millis()
        .init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = actix_web::rt::System::with_tokio_rt(|| runtime).block_on(cli::run(cli, config));
    if let Err(e) = result {
        eprintln!("switchboard: {e}");
        std::process::exit(e.exit_code());
    }
}

/// `switchboard config | head` closes standard output before everything is printed: end
/// there like other command-line tools (exit 141, as if by SIGPIPE) instead of reporting
/// a panic from `println!`.
fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}
