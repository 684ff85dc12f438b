//! Compose-box slash commands: parsing `/dm bob`, `/group "Team" bob carol`, …
//! into a `Command`. Applying them is `update`'s job.

use super::model::{Notify, SettingsChange};

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Dm(String),
    Group {
        title: String,
        members: Vec<String>,
    },
    Invite(Vec<String>),
    Leave,
    /// `/edit` with no text loads the message into the compose box.
    Edit(Option<String>),
    Delete,
    /// §9.4 settings of the open conversation (`/mute`, `/notify`, `/pin`,
    /// `/unpin`, `/archive`, `/unarchive`).
    Settings(SettingsChange),
    /// `/react KEY`: react to the selected message (again: remove).
    React(String),
    Search(String),
    Read,
    Login,
    /// `/passwd`: change the password.
    Passwd,
    /// `/logout [all]`.
    Logout {
        all: bool,
    },
    Help,
    Quit,
}

/// Every command with its usage, for the help overlay.
pub const USAGE: [(&str, &str); 22] = [
    ("/dm USER", "open or start a direct conversation"),
    (
        "/group TITLE USER…",
        "create a group (quote titles with spaces)",
    ),
    ("/invite USER…", "add users to this conversation"),
    ("/leave", "leave this conversation"),
    ("/edit [TEXT]", "edit the selected or last own message"),
    ("/delete", "delete the selected or last own message"),
    (
        "/react EMOJI",
        "react to the selected message (again: remove)",
    ),
    (
        "/notify all|mentions|none",
        "when this conversation notifies",
    ),
    ("/mute", "never notify (= /notify none)"),
    ("/pin", "keep this conversation at the top"),
    ("/unpin", "unpin it"),
    ("/archive", "move it to the archived section"),
    ("/unarchive", "bring it back to the list"),
    ("/search TEXT", "search all local messages"),
    (
        "/code LANG",
        "fence the lines after it as a LANG code block",
    ),
    ("/read", "mark every conversation read"),
    ("/login", "log in (when started without a session)"),
    ("/passwd", "change your password (other devices log out)"),
    ("/logout [all]", "log out here (or on every device)"),
    ("/help", "this help"),
    ("/quit", "quit"),
    ("//TEXT", "send /TEXT (a message that starts with /)"),
];

/// Parses a line starting with `/`. Errors are shown to the user as is.
pub fn parse(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (name, rest) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    };
    let words = || {
        rest.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let need = |usage: &str| format!("usage: {usage}");
    match name {
        "/dm" => match words().as_slice() {
            [user] => Ok(Command::Dm(user.clone())),
            _ => Err(need("/dm USER")),
        },
        "/group" => {
            let (title, members) = split_title(rest).ok_or_else(|| need("/group TITLE USER…"))?;
            Ok(Command::Group { title, members })
        }
        "/invite" => match words() {
            users if !users.is_empty() => Ok(Command::Invite(users)),
            _ => Err(need("/invite USER…")),
        },
        "/leave" => Ok(Command::Leave),
        "/edit" => Ok(Command::Edit((!rest.is_empty()).then(|| rest.to_owned()))),
        "/delete" => Ok(Command::Delete),
        "/mute" => Ok(notify(Notify::None)),
        "/notify" => match rest {
            "all" => Ok(notify(Notify::All)),
            "mentions" => Ok(notify(Notify::Mentions)),
            "none" => Ok(notify(Notify::None)),
            _ => Err(need("/notify all|mentions|none")),
        },
        "/pin" | "/unpin" => Ok(Command::Settings(SettingsChange {
            pinned: Some(name == "/pin"),
            ..Default::default()
        })),
        "/archive" | "/unarchive" => Ok(Command::Settings(SettingsChange {
            archived: Some(name == "/archive"),
            ..Default::default()
        })),
        "/react" => match words().as_slice() {
            [key] => Ok(Command::React(key.clone())),
            _ => Err(need("/react EMOJI")),
        },
        "/search" if !rest.is_empty() => Ok(Command::Search(rest.to_owned())),
        "/search" => Err(need("/search TEXT")),
        "/read" => Ok(Command::Read),
        "/login" => Ok(Command::Login),
        "/passwd" => Ok(Command::Passwd),
        "/logout" => match rest {
            "" => Ok(Command::Logout { all: false }),
            "all" => Ok(Command::Logout { all: true }),
            _ => Err(need("/logout [all]")),
        },
        "/help" => Ok(Command::Help),
        "/quit" | "/exit" => Ok(Command::Quit),
        other => Err(format!(
            "unknown command {other} (see /help; a message that starts with / is sent as //…)"
        )),
    }
}

fn notify(level: Notify) -> Command {
    Command::Settings(SettingsChange {
        notify: Some(level),
        ..Default::default()
    })
}

/// `"Team chat" bob carol` or `Team bob carol` → (title, members).
fn split_title(rest: &str) -> Option<(String, Vec<String>)> {
    let (title, tail) = if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        (quoted[..end].to_owned(), &quoted[end + 1..])
    } else {
        let mut it = rest.splitn(2, char::is_whitespace);
        (it.next()?.to_owned(), it.next().unwrap_or(""))
    };
    if title.trim().is_empty() {
        return None;
    }
    Some((title, tail.split_whitespace().map(str::to_owned).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("/dm bob"), Ok(Command::Dm("bob".into())));
        assert_eq!(
            parse("/group \"Team chat\" bob carol"),
            Ok(Command::Group {
                title: "Team chat".into(),
                members: vec!["bob".into(), "carol".into()]
            })
        );
        assert_eq!(
            parse("/group ops dave"),
            Ok(Command::Group {
                title: "ops".into(),
                members: vec!["dave".into()]
            })
        );
        assert_eq!(
            parse("/edit fixed typo"),
            Ok(Command::Edit(Some("fixed typo".into())))
        );
        assert_eq!(parse("/edit"), Ok(Command::Edit(None)));
        assert_eq!(
            parse("/search  hello world "),
            Ok(Command::Search("hello world".into()))
        );
    }

    #[test]
    fn rejects_bad_usage_and_unknown_commands() {
        assert_eq!(parse("/dm"), Err("usage: /dm USER".into()));
        assert_eq!(parse("/dm a b"), Err("usage: /dm USER".into()));
        assert_eq!(parse("/invite"), Err("usage: /invite USER…".into()));
        assert_eq!(
            parse("/frob x"),
            Err(
                "unknown command /frob (see /help; a message that starts with / is sent as //…)"
                    .into()
            )
        );
    }
}
