//! Programs and terminal features outside the TUI: the draft in
//! `$VISUAL`/`$EDITOR`, code blocks in `$PAGER` (both with the screen
//! suspended), URLs handed to the platform opener, and OSC 52 copies (only
//! of a link the user picked). `update` asks for them as
//! [`Effect::External`](super::state::Effect::External); the driver calls
//! [`run`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ratatui::Terminal;
use ratatui::backend::Backend;

use super::markdown::allowed_url;
use super::state::Action;

/// What to do outside the TUI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum External {
    /// Edit this draft; the result comes back as `Action::EditorDone`.
    Editor { draft: String },
    /// Show this text in `$PAGER` (default `less`).
    Pager { text: String },
    /// Open with `xdg-open` (`open` on macOS).
    OpenUrl(String),
    /// Put on the clipboard with OSC 52.
    Copy(String),
}

/// Carries out `x`; returns the action to feed back, if any. `out` is the
/// terminal's byte stream (OSC 52 goes there).
pub fn run<B>(
    terminal: &mut Terminal<B>,
    x: External,
    out: &mut dyn Write,
) -> anyhow::Result<Option<Action>>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    match x {
        External::Editor { draft } => {
            let result = suspended(terminal, || edit(&draft))?;
            Ok(Some(Action::EditorDone(result)))
        }
        External::Pager { text } => {
            let result = suspended(terminal, || page(&text))?;
            Ok(result.err().map(|e| Action::EditorDone(Err(e))))
        }
        External::OpenUrl(url) => Ok(open_url(&url).err().map(|e| Action::EditorDone(Err(e)))),
        External::Copy(text) => {
            if let Some(seq) = osc52(&text) {
                out.write_all(seq.as_bytes())?;
                out.flush()?;
            }
            Ok(None)
        }
    }
}

/// Runs `f` with the terminal handed back to the shell, then takes it again
/// and redraws everything.
fn suspended<B, T>(terminal: &mut Terminal<B>, f: impl FnOnce() -> T) -> anyhow::Result<T>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let active = super::terminal::suspend();
    let result = f();
    if active {
        super::terminal::resume()?;
    }
    terminal.clear()?;
    Ok(result)
}

/// The editor command: `$VISUAL`, then `$EDITOR`, then `vi`.
pub fn editor_command() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// Edits `draft` in the editor (run by `sh`, so `EDITOR="code --wait"`
/// works). Ok(new text), or Err(why the draft is unchanged).
pub fn edit(draft: &str) -> Result<String, String> {
    let path = temp_path();
    write_private(&path, draft).map_err(|e| format!("could not write the draft file: {e}"))?;
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{} \"$1\"", editor_command()))
        .arg("sh")
        .arg(&path)
        .status();
    let result = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&path)
            .map(|t| t.strip_suffix('\n').unwrap_or(&t).to_owned())
            .map_err(|e| format!("could not read the edited draft: {e}")),
        Ok(s) => Err(format!(
            "the editor exited with {s}: the draft is unchanged"
        )),
        Err(e) => Err(format!("could not start the editor: {e}")),
    };
    let _ = std::fs::remove_file(&path);
    result
}

fn page(text: &str) -> Result<(), String> {
    let pager = std::env::var("PAGER")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less".to_owned());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&pager)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start the pager: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit early closes the pipe: not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().map_err(|e| format!("the pager failed: {e}"))?;
    Ok(())
}

fn open_url(url: &str) -> Result<(), String> {
    if !allowed_url(url) {
        return Err("only http, https and mailto links are opened".to_owned());
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not run {opener}: {e}"))?;
    // Reaped in the background: a browser may keep it for long.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The OSC 52 sequence putting `text` on the clipboard (None when the text
/// could carry anything but printable ASCII: only picked URLs are copied).
pub fn osc52(text: &str) -> Option<String> {
    if !allowed_url(text) {
        return None;
    }
    Some(format!("\x1b]52;c;{}\x07", base64(text.as_bytes())))
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn temp_path() -> PathBuf {
    let nonce: u64 = rand::random();
    std::env::temp_dir().join(format!(
        "convo-draft-{}-{nonce:016x}.md",
        std::process::id()
    ))
}

/// Creates `path` (it must not exist) readable by the user only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_only_for_urls_and_encoded() {
        assert_eq!(
            osc52("https://a.example").as_deref(),
            Some("\x1b]52;c;aHR0cHM6Ly9hLmV4YW1wbGU=\x07")
        );
        assert_eq!(osc52("rm -rf /"), None);
        assert_eq!(osc52("https://a\x07"), None);
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }
}
