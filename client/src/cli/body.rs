//! Where `convo send` gets its body: the TEXT argument, stdin (`-`) or a
//! file (`--file`), optionally wrapped in a code fence (`--code LANG`, or the
//! language a file's extension names); and the checks made before anything
//! is sent (the size against the limit the server said, once the store is
//! open).

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// The body `send` is asked to send.
pub fn read_body(text: Option<&str>, code: Option<&str>, file: Option<&Path>) -> Result<String> {
    if let Some(lang) = code {
        check_lang(lang)?;
    }
    let (content, lang) = match (text, file) {
        (_, Some(path)) => {
            let bytes = std::fs::read(path).with_context(|| {
                format!(
                    "reading {}",
                    crate::output::safe(&path.display().to_string())
                )
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", path.display()))?;
            let lang = code.map_or_else(|| lang_for_path(path), str::to_owned);
            return Ok(fence(&text, &lang));
        }
        (Some("-"), None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the message from stdin")?;
            (s, code)
        }
        (Some(t), None) => (t.to_owned(), code),
        (None, None) => bail!("nothing to send: give TEXT, `-` for stdin, or --file PATH"),
    };
    let body = match lang {
        Some(lang) => fence(&content, lang),
        // A trailing newline from a pipe is not part of the message.
        None => content.strip_suffix('\n').unwrap_or(&content).to_owned(),
    };
    Ok(body)
}

/// A body `client` may send: not blank, and within the server's
/// `max_body_bytes` (the last server's, or the protocol's 16 KiB before
/// any); otherwise the size and the limit, and nothing is sent.
pub fn check(client: &sync_core::Client, body: &str) -> Result<()> {
    check_size(body, client.server_limits().max_body_bytes)
}

fn check_size(body: &str, max: usize) -> Result<()> {
    if body.len() > max {
        bail!(
            "the message is {} bytes, over the limit of {max} bytes; nothing was sent",
            body.len()
        );
    }
    sync_core::protocol::validate::body(body, max).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

fn check_lang(lang: &str) -> Result<()> {
    if lang.is_empty()
        || lang.len() > 32
        || !lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-_.#".contains(c))
    {
        bail!(
            "--code {:?}: a language is letters, digits and + - _ . #",
            crate::output::safe(lang)
        );
    }
    Ok(())
}

pub use crate::ui::markdown::fence;

/// The fence language for a file: from its extension (empty when unknown).
pub fn lang_for_path(path: &Path) -> String {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let lang = match ext.as_str() {
        "rs" => "rust",
        "py" | "pyi" => "python",
        "js" | "mjs" | "cjs" => "javascript",
        "ts" | "tsx" => "typescript",
        "sh" | "bash" | "zsh" => "sh",
        "rb" => "ruby",
        "go" => "go",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" => "cpp",
        "java" => "java",
        "md" => "markdown",
        "yml" | "yaml" => "yaml",
        "toml" => "toml",
        "json" => "json",
        "sql" => "sql",
        "html" | "htm" => "html",
        "css" => "css",
        "diff" | "patch" => "diff",
        "txt" | "log" | "" => "",
        other if check_lang(other).is_ok() => other,
        _ => "",
    };
    lang.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks_inside() {
        assert_eq!(fence("a\n", "rust"), "```rust\na\n```");
        assert_eq!(fence("x ```` y", ""), "`````\nx ```` y\n`````");
    }

    #[test]
    fn languages_from_extensions() {
        assert_eq!(lang_for_path(Path::new("src/main.rs")), "rust");
        assert_eq!(lang_for_path(Path::new("x.PY")), "python");
        assert_eq!(lang_for_path(Path::new("Makefile")), "");
        assert_eq!(lang_for_path(Path::new("a.zig")), "zig");
        assert_eq!(lang_for_path(Path::new("a.we ird")), "");
    }

    #[test]
    fn over_the_limit_names_size_and_limit() {
        let big = "x".repeat(16_385);
        let e = check_size(&big, 16_384).unwrap_err().to_string();
        assert_eq!(
            e,
            "the message is 16385 bytes, over the limit of 16384 bytes; nothing was sent"
        );
        check_size(&big, 65_536).unwrap();
        assert!(check_size(" \n", 65_536).is_err());
        assert!(read_body(Some("hi"), Some("a b"), None).is_err());
        assert_eq!(
            read_body(Some("hi\n"), Some("sh"), None).unwrap(),
            "```sh\nhi\n```"
        );
    }
}
