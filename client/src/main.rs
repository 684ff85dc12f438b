//! The `convo` binary: parse the command line, run it, map the outcome to an
//! exit code (0 ok, 1 error with one line on stderr, 2 usage error via clap).

use std::process::ExitCode;

#[cfg(feature = "wired")]
fn main() -> ExitCode {
    use clap::Parser;
    // Parses before the runtime starts; clap exits with 2 on usage errors and
    // 0 for --help/--version.
    let cli = client::cli::Cli::parse();
    quiet_on_closed_pipe();
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

/// `convo show c1 | head -1`: once the reader is gone, the next `println!`
/// panics with "failed printing to stdout: Broken pipe". Like any Unix
/// filter whose reader left, exit at once and quietly (status 141, as a
/// shell reports a process ended by SIGPIPE); every other panic is reported
/// as before.
#[cfg(feature = "wired")]
fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to std") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        report(info);
    }));
}

#[cfg(not(feature = "wired"))]
fn main() -> ExitCode {
    eprintln!("convo: this build is not wired to the engine yet (build with --features wired)");
    ExitCode::from(1)
}
