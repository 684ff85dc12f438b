//! Which protocol 1.1 extensions (PROTOCOL.md §9) this server runs with:
//! all of them by default, none for a pure version 1 server
//! (`--features none`, alias `--protocol 1`), or a comma list. A feature that
//! is off is off everywhere: its requests are answered as an unknown type,
//! its request fields are ignored as unknown fields, and no entry or summary
//! carries its fields.

use sync_core::protocol::{ClientFrame, features as names};

/// The §9 extensions a server implements (`hello.features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// §9.1 replies and threads.
    pub reply: bool,
    /// §9.2 reactions.
    pub reactions: bool,
    /// §9.3 mentions.
    pub mentions: bool,
    /// §9.4 per-member conversation settings.
    pub settings: bool,
    /// §9.5 redaction erases the content.
    pub redaction: bool,
    /// §9.6 password change and signing out everywhere.
    pub account: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features::ALL
    }
}

impl Features {
    /// Every extension of protocol 1.1.
    pub const ALL: Features = Features {
        reply: true,
        reactions: true,
        mentions: true,
        settings: true,
        redaction: true,
        account: true,
    };

    /// A pure version 1 server.
    pub const NONE: Features = Features {
        reply: false,
        reactions: false,
        mentions: false,
        settings: false,
        redaction: false,
        account: false,
    };

    /// `all`, `none` (or `1`), or a comma list of feature names
    /// (`reply,reactions`).
    pub fn parse(s: &str) -> Result<Features, String> {
        match s.trim() {
            "all" => return Ok(Features::ALL),
            "none" | "1" => return Ok(Features::NONE),
            _ => {}
        }
        let mut f = Features::NONE;
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                names::REPLY => f.reply = true,
                names::REACTIONS => f.reactions = true,
                names::MENTIONS => f.mentions = true,
                names::SETTINGS => f.settings = true,
                names::REDACTION => f.redaction = true,
                names::ACCOUNT => f.account = true,
                other => {
                    return Err(format!(
                        "unknown feature {other:?} (known: {}, or all / none)",
                        names::ALL.join(", ")
                    ));
                }
            }
        }
        Ok(f)
    }

    /// The `hello.features` list, in §9 order.
    pub fn list(self) -> Vec<String> {
        let on = [
            self.reply,
            self.reactions,
            self.mentions,
            self.settings,
            self.redaction,
            self.account,
        ];
        names::ALL
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| (*n).to_owned())
            .collect()
    }

    /// Whether a request type exists on this server: a request of an
    /// extension that is off is answered as an unknown type.
    pub fn knows(self, frame: &ClientFrame) -> bool {
        match frame {
            ClientFrame::Thread { .. } => self.reply,
            ClientFrame::React { .. } => self.reactions,
            ClientFrame::Settings { .. } => self.settings,
            ClientFrame::Password { .. } => self.account,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_list() {
        assert_eq!(Features::parse("none"), Ok(Features::NONE));
        assert_eq!(Features::parse("1"), Ok(Features::NONE));
        assert_eq!(Features::parse("all"), Ok(Features::ALL));
        assert_eq!(
            Features::ALL.list(),
            [
                "reply",
                "reactions",
                "mentions",
                "settings",
                "redaction",
                "account"
            ]
        );
        let f = Features::parse("reactions, reply").unwrap();
        assert_eq!(f.list(), ["reply", "reactions"]);
        assert!(Features::NONE.list().is_empty());
        assert!(Features::parse("reply,nope").is_err());
    }
}
