//! The `switchboard` binary: parse the command line, load the configuration, set up
//! logging, run the command and turn its error into an exit code.
#![forbid(unsafe_code)]

use clap::Parser;
use switchboard::cli::{self, Cli};

fn main() {
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
