//! A standup bot on sync-core's message stream. In every conversation it is
//! in, a text that mentions it (`@standupbot did the release notes`) is an
//! update: it reacts 👍. A text starting with `!standup` gets, in that
//! text's thread, a numbered list of the updates since the previous
//! `!standup` there, and a ✅ on the command.
//!
//! The updates are read back from the local store when asked for, so the bot
//! keeps no state of its own: the stream's stored position is all it needs
//! to survive `kill -9` without answering twice or missing what was sent
//! while it was down. Against a server without protocol 1.1 (`server-mock
//! --features none`) it answers with plain texts, reacts with nothing and
//! finds its mentions in the text itself, and says so once.
//!
//! `cargo run -p sync-core --example standup -- ws://127.0.0.1:7878/v1 standupbot password123 [DB]`

use sync_core::protocol::{ConvId, EntryKind, ErrorCode, Seq, features};
use sync_core::{
    Client, ClientBuilder, Effect, Error, LocalMessage, MessageStream, StreamItem, StreamOptions,
    TimelineItem, TimelineQuery,
};

/// The command that asks for the summary.
const COMMAND: &str = "!standup";
/// Updates listed at most in one summary (the newest ones).
const MAX_UPDATES: usize = 20;
/// Entries read back at most when collecting a summary.
const LOOKBACK: usize = 500;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7878/v1".into());
    let user = args.next().unwrap_or_else(|| "standupbot".into());
    let password = args.next().unwrap_or_else(|| "standupbot-password".into());
    let db = args.next().map_or_else(
        || std::env::temp_dir().join(format!("{user}-standup.db")),
        Into::into,
    );

    let (client, _events) = ClientBuilder::new(url, db, "standup-1").open()?;
    if client.session().is_some() {
        client.start(); // works offline too: the stream waits for the server
    } else {
        log_in_or_register(&client, &user, &password).await?;
    }
    // Texts by others in every conversation, after the stored position. A
    // group's history from before the bot was invited is not addressed to
    // it: the stream starts each conversation at the bot's joining it.
    let opts = StreamOptions {
        since_joined: true,
        ..StreamOptions::texts()
    };
    let mut stream = client.stream("standup", opts).await?;
    println!("{user} is collecting updates");
    let mut bot = Bot {
        client: client.clone(),
        me: user,
        said_fallback: false,
    };
    loop {
        let item = stream.next().await?;
        bot.handle(&stream, &item).await?;
        client.mark_read(&item.conv, item.seq()).await?;
    }
}

/// Logs in, or registers when the account does not exist. The server
/// answers `unauthorized` for a wrong password and an unknown user alike,
/// so a `conflict` from `register` means the password was wrong.
async fn log_in_or_register(client: &Client, user: &str, password: &str) -> Result<(), Error> {
    match client.login(user, password).await {
        Err(Error::Server {
            code: ErrorCode::Unauthorized,
            ..
        }) => match client.register(user, password).await {
            Err(Error::Server {
                code: ErrorCode::Conflict,
                ..
            }) => Err(Error::Invalid {
                field: "password",
                message: format!("{user} exists and the password was refused"),
            }),
            other => other.map(drop),
        },
        other => other.map(drop),
    }
}

struct Bot {
    client: Client,
    me: String,
    said_fallback: bool,
}

impl Bot {
    /// Handles one text and acks it (every path acks, through an effect or
    /// directly).
    async fn handle(&mut self, stream: &MessageStream, item: &StreamItem) -> Result<(), Error> {
        let body = item.message.body.as_deref().unwrap_or("");
        if is_command(body) {
            let summary = self.summary(&item.conv, item.seq())?;
            let effects = self.command_effects(&summary);
            // The ✅ and the summary are queued with the ack in one
            // transaction: a crash loses or doubles neither.
            match stream.answer(item, &effects).await {
                Err(Error::Unsupported(feature)) => {
                    // The server changed since `supports` was last told.
                    self.fallback(feature);
                    stream.reply(item, &summary).await.map(drop)
                }
                other => other.map(drop),
            }
        } else if self.mentions_me(&item.message) {
            self.react(stream, item, "👍").await
        } else {
            stream.ack(item).await
        }
    }

    /// A ✅ on the command and the summary in its thread, or what the
    /// server supports of that.
    fn command_effects<'a>(&mut self, summary: &'a str) -> Vec<Effect<'a>> {
        let mut effects = Vec::new();
        if self.client.supports(features::REACTIONS) {
            effects.push(Effect::React("✅"));
        } else {
            self.fallback(features::REACTIONS);
        }
        if self.client.supports(features::REPLY) {
            effects.push(Effect::ReplyInThread(summary));
        } else {
            self.fallback(features::REPLY);
            effects.push(Effect::Reply(summary));
        }
        effects
    }

    /// Reacts with `key` (and acks), or only acks against a server without
    /// reactions.
    async fn react(
        &mut self,
        stream: &MessageStream,
        item: &StreamItem,
        key: &str,
    ) -> Result<(), Error> {
        match stream.react(item, key).await {
            Ok(_) => Ok(()),
            Err(Error::Unsupported(feature)) => {
                self.fallback(feature);
                stream.ack(item).await
            }
            Err(e) => Err(e),
        }
    }

    /// Whether `m` mentions the bot: the server's list (§9.3), or, against a
    /// server without mentions, `@me` in the body.
    fn mentions_me(&mut self, m: &LocalMessage) -> bool {
        if self.client.supports(features::MENTIONS) {
            return m.mentions_me;
        }
        self.fallback(features::MENTIONS);
        m.body
            .as_deref()
            .is_some_and(|body| mentions_in_text(body, &self.me))
    }

    /// The updates after the previous command (or the bot's join) and
    /// before the command at `command`, numbered.
    fn summary(&mut self, conv: &ConvId, command: Seq) -> Result<String, Error> {
        let window = self.client.timeline(
            conv,
            TimelineQuery::Around {
                seq: command,
                before: LOOKBACK,
                after: 0,
            },
        )?;
        let mut updates = Vec::new();
        for entry in window.iter().rev() {
            let m = match entry {
                // What came before the bot joined is not for it.
                TimelineItem::Message(m) if m.adds_member(&self.me) => break,
                TimelineItem::Message(m) => m,
                // Not held (before the bot's stream started): stop there.
                TimelineItem::Gap { .. } => break,
                TimelineItem::Pending(_) => continue,
            };
            if m.kind != EntryKind::Text || m.redacted || m.sender == self.me {
                continue;
            }
            let body = m.body.as_deref().unwrap_or("");
            if is_command(body) {
                break;
            }
            if self.mentions_me(m) {
                updates.push(format!("{}: {}", m.sender, body.trim()));
            }
        }
        if updates.is_empty() {
            return Ok(format!(
                "No updates since the last standup. Mention @{} to add one.",
                self.me
            ));
        }
        let first = updates.len().saturating_sub(MAX_UPDATES);
        let mut out = format!("Standup: {} update(s)", updates.len());
        for (n, update) in updates.iter().rev().skip(first).enumerate() {
            out.push_str(&format!("\n{}. {update}", n + 1));
        }
        Ok(out)
    }

    /// Logs, once per run, that the server lacks protocol 1.1 features.
    fn fallback(&mut self, feature: &str) {
        if !self.said_fallback {
            self.said_fallback = true;
            eprintln!(
                "the server lacks protocol 1.1 ({feature}): answering with plain \
                 texts, without reactions, finding mentions in the text"
            );
        }
    }
}

fn is_command(body: &str) -> bool {
    body.trim_start().starts_with(COMMAND)
}

/// `@name` in `body`, at the start or after a character that cannot be in a
/// user name, and followed by the end or such a character (§9.3, simplified:
/// without the server, the members are unknown).
fn mentions_in_text(body: &str, name: &str) -> bool {
    let in_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let needle = format!("@{name}");
    body.match_indices(&needle).any(|(at, _)| {
        let before_ok = body[..at].chars().next_back().is_none_or(|c| !in_name(c));
        let after_ok = body[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !in_name(c));
        before_ok && after_ok
    })
}
