//! A private tmux server for end-to-end tests: sessions running `convo`,
//! keys typed with send-keys, screens read with capture-pane (plain, or
//! with colour escapes), polled against a deadline.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long any one expected screen change may take.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A private tmux server (own socket), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// `tag` keeps sockets of tests running at once apart.
    pub fn new(tag: &str) -> Tmux {
        Tmux {
            socket: format!("convo-{tag}-{}", std::process::id()),
        }
    }

    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Opens a `w`x`h` session running `shell_cmd`; the pane stays after
    /// the program exits so a crash shows up in the capture.
    pub fn session(&self, name: &str, w: u16, h: u16, shell_cmd: &str) {
        let wrapped = format!("{shell_cmd}; echo \"[convo exited: $?]\"; sleep 600");
        let (w, h) = (w.to_string(), h.to_string());
        let st = self
            .cmd()
            .args([
                "new-session",
                "-d",
                "-x",
                &w,
                "-y",
                &h,
                "-s",
                name,
                &wrapped,
            ])
            .status()
            .unwrap();
        assert!(st.success(), "tmux new-session failed");
    }

    pub fn capture(&self, name: &str) -> String {
        self.capture_args(name, &[])
    }

    /// The screen with its colours and attributes as SGR escapes.
    pub fn capture_escapes(&self, name: &str) -> String {
        self.capture_args(name, &["-e"])
    }

    fn capture_args(&self, name: &str, extra: &[&str]) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", name])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn type_text(&self, name: &str, text: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", name, "-l", text])
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub fn key(&self, name: &str, key: &str) {
        let st = self
            .cmd()
            .args(["send-keys", "-t", name, key])
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Polls the screen until `pred` holds; panics with the screen otherwise.
    pub fn wait_for(&self, name: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture(name);
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > DEADLINE {
                panic!("{name}: timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// The shell command running the `convo` TUI for `user`, with `env` extra
/// variables (e.g. `EDITOR=…`).
pub fn convo_shell(bin: &str, data: &Path, server: &str, user: &str, env: &str) -> String {
    format!(
        "env CONVO_NO_KEYRING=1 CONVO_CONFIG={cfg} {env} {bin} --data-dir {data} --server {server} --user {user}",
        cfg = data.join("no-config.toml").display(),
        data = data.display(),
    )
}
