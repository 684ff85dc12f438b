//! The `convo` binary: parse the command line, run it, map the outcome to an
//! exit code (0 ok, 1 error with one line on stderr, 2 usage error via clap).

use std::process::ExitCode;

#[cfg(feature = "wired")]
fn main() -> ExitCode {
    use clap::Parser;
    // Parses before the runtime starts; clap exits with 2 on usage errors and
    // 0 for --help/--version.
    let cli = client::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("convo: error: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(client::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain on one line: "step: cause: cause".
            let line = format!("{e:#}").replace('\n', " ");
            eprintln!("convo: error: {line}");
            if client::cli::is_unsupported(&e) {
                ExitCode::from(client::cli::EXIT_UNSUPPORTED)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

#[cfg(not(feature = "wired"))]
fn main() -> ExitCode {
    eprintln!("convo: this build is not wired to the engine yet (build with --features wired)");
    ExitCode::from(1)
}
