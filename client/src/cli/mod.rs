//! The `convo` command line: clap definitions and dispatch to one module per
//! command family (accounts, conversations, messages, the TUI).
//!
//! Exit codes: 0 success, 1 error (one line on stderr), 2 usage error (clap),
//! 3 the server does not support the protocol 1.1 feature the command needs.

mod account;
mod body;
mod convs;
mod messages;
mod session;
mod status;
mod tui;
mod v11;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use account::save_token;
pub use session::{Ctx, is_conflict};
pub use v11::{EXIT_UNSUPPORTED, is_unsupported};

/// convo: a terminal chat client.
///
/// With no command it opens the chat TUI. `convo --local` runs a server on
/// this machine (database in the data dir) and opens the TUI on it.
#[derive(Debug, Parser)]
#[command(name = "convo", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Server URL, e.g. ws://127.0.0.1:7878/v1, or several of one service
    /// separated by commas (URL1,URL2: tried in order, failing over to the
    /// next). Default: $CONVO_SERVER, the account remembered by the last
    /// `convo login`, config.toml's `server`.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub server: Option<String>,
    /// User name (default: $CONVO_USER, the remembered account, config.toml's
    /// `user`, else $USER). With several remembered accounts it picks one.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME"
    )]
    pub user: Option<String>,
    /// A remembered account by name (`convo login --profile work …` names one;
    /// default: the user name). Also $CONVO_PROFILE.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "NAME",
        env = "CONVO_PROFILE"
    )]
    pub profile: Option<String>,
    /// Where local stores and token files live (one store per server+user).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR",
        env = "CONVO_DATA_DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// Config file (default: the platform config dir's convo/config.toml).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "FILE",
        env = "CONVO_CONFIG"
    )]
    pub config: Option<PathBuf>,
    /// Run the bundled server in this process (127.0.0.1, database in the
    /// data dir) and use it. The account gets a generated password kept with
    /// its token, so no set-up is needed.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "server"
    )]
    pub local: bool,
    /// Port for --local (default 7878, or the next free one).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        requires = "local",
        value_name = "PORT"
    )]
    pub port: Option<u16>,
    /// Also trust the CA certificate(s) in this PEM file for wss:// (a
    /// private or self-signed CA); the platform's roots are always trusted.
    /// Default: $CONVO_CA_FILE, config.toml's `ca_file`.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "PEM",
        env = "CONVO_CA_FILE"
    )]
    pub ca_file: Option<PathBuf>,
}

/// Scriptable commands. They share the TUI's store and token.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account and keep its token.
    Register(RegisterOpts),
    /// Log in and keep the token.
    Login(PasswordOpts),
    /// Revoke the token on the server and forget it (and the remembered account) here.
    Logout {
        /// Sign out every device of this user (the server must support `account`).
        #[arg(long)]
        all: bool,
    },
    /// Change the password; the user's other devices are signed out. The old
    /// and new passwords come from $CONVO_PASSWORD and $CONVO_NEW_PASSWORD,
    /// two lines of stdin (--password-stdin), or no-echo prompts.
    Passwd(PasswordOpts),
    /// Print the account plain commands use (server, user, profile, session).
    Whoami {
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Connect and print which server URL answered (with `--server
    /// URL1,URL2`, the one failed over to), the user and the state.
    Status {
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Connect, catch up, flush the outbox, print a one-line summary.
    Sync,
    /// List conversations (syncs first; cached list if the server is unreachable).
    List {
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
        /// Do not contact the server.
        #[arg(long)]
        offline: bool,
        /// Only the archived conversations.
        #[arg(long, conflicts_with = "all")]
        archived: bool,
        /// Every conversation: the main list, then the archived ones.
        #[arg(long)]
        all: bool,
    },
    /// Send a message. TARGET: a conversation id, a group title, or @user.
    Send {
        /// Conversation id, group title, or @user (creates the direct conversation).
        target: String,
        /// Message text; `-` reads it from stdin.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        text: Option<String>,
        /// Wrap the text in a code block tagged LANG (e.g. rust, text).
        #[arg(long, value_name = "LANG")]
        code: Option<String>,
        /// Send a file as a code block, the language from its extension.
        #[arg(long, value_name = "PATH")]
        file: Option<std::path::PathBuf>,
        /// Queue it and exit; it goes out on the next connection.
        #[arg(long)]
        no_wait: bool,
        /// Reply to the text #SEQ (filed in its thread; needs `reply`).
        #[arg(long, value_name = "SEQ")]
        reply_to: Option<u64>,
        /// One JSON object on stdout: `{conv, seq}` (plus `reply_to`), or
        /// with --no-wait `{conv, seq: null, client_id, state: "pending"}`.
        #[arg(long)]
        json: bool,
    },
    /// Add (or with --remove withdraw) a reaction to the text #SEQ.
    React {
        /// Conversation id, group title, or @user.
        target: String,
        /// The text reacted to.
        seq: u64,
        /// An emoji or a :shortcode: (1–64 bytes, no spaces).
        key: String,
        /// Withdraw my reaction instead.
        #[arg(long)]
        remove: bool,
    },
    /// Print a thread: its root text #SEQ and every reply.
    Thread {
        /// Conversation id, group title, or @user.
        target: String,
        /// The root text.
        seq: u64,
        /// One JSON array on stdout (items as in `show --json`).
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Bodies exactly as sent (sanitized), not rendered as markdown.
        #[arg(long)]
        raw: bool,
    },
    /// Print or change my settings for a conversation (all my devices follow).
    Settings {
        /// Conversation id, group title, or @user.
        target: String,
        /// When it notifies: all, mentions or none.
        #[arg(long, value_name = "WHEN", value_parser = v11::parse_notify)]
        notify: Option<sync_core::Notify>,
        /// Pin it to the top of the list.
        #[arg(long, conflicts_with = "unpin")]
        pin: bool,
        /// Unpin it.
        #[arg(long)]
        unpin: bool,
        /// Archive it (`list` leaves it out).
        #[arg(long, conflicts_with = "unarchive")]
        archive: bool,
        /// Bring it back from the archive.
        #[arg(long)]
        unarchive: bool,
        /// One JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Print a conversation's newest messages.
    Show {
        /// Conversation id, group title, or @user.
        target: String,
        /// How many messages.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
        /// One JSON array on stdout.
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Bodies exactly as sent (sanitized), not rendered as markdown.
        #[arg(long)]
        raw: bool,
    },
    /// Stream new messages (all conversations, or TARGET) until interrupted.
    Tail {
        /// Conversation id, group title, or @user.
        target: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Store the position under NAME: the next run with the same NAME
        /// prints what arrived in between, then goes on.
        #[arg(long, value_name = "NAME")]
        consumer: Option<String>,
    },
    /// Create a group with a title and members.
    CreateGroup {
        /// Group title.
        title: String,
        /// Members besides you.
        users: Vec<String>,
    },
    /// Add members to a group.
    Invite {
        /// Group id or title.
        target: String,
        /// The users to add.
        #[arg(required = true)]
        users: Vec<String>,
    },
    /// Leave a group (its history stays here, read-only).
    Leave {
        /// Group id or title.
        target: String,
    },
    /// Rename a group.
    Rename {
        /// Group id or title.
        target: String,
        /// The new title.
        title: String,
    },
    /// Replace the body of my text #SEQ (TEXT `-` reads it from stdin).
    Edit {
        /// Conversation id, group title, or @user.
        target: String,
        /// My text to edit.
        seq: u64,
        /// The new body, or `-` for stdin.
        text: String,
    },
    /// Delete my text #SEQ (erased for everyone on a server with real deletion).
    Delete {
        /// Conversation id, group title, or @user.
        target: String,
        /// My text to delete.
        seq: u64,
    },
    /// Mark a conversation read up to its newest message.
    Read {
        /// Conversation id, group title, or @user.
        target: String,
    },
    /// Search the messages held locally (after syncing).
    Search {
        /// Text to find.
        text: String,
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
        /// Most hits to print (1-10000, as `show --limit`).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10000))]
        limit: u32,
    },
}

/// How a password is supplied (never as an argument: argv is visible to all).
#[derive(Debug, Args)]
pub struct RegisterOpts {
    #[command(flatten)]
    pub password: PasswordOpts,
    /// Invite code, for a server where registration is invite-only.
    #[arg(long, value_name = "CODE", env = "CONVO_INVITE")]
    pub invite: Option<String>,
}

/// How a password is read.
#[derive(Debug, Args)]
pub struct PasswordOpts {
    /// Read the password from the first line of stdin
    /// (otherwise $CONVO_PASSWORD, else a no-echo prompt).
    #[arg(long)]
    pub password_stdin: bool,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut ctx = Ctx::new(&cli.global)?;
    let local = if cli.global.local {
        Some(crate::local::start(&mut ctx, cli.global.port).await?)
    } else {
        None
    };
    let peers = local.as_ref().and_then(crate::local::LocalServer::peers);
    let tui = cli.command.is_none();
    let result = dispatch(&ctx, cli.command, peers).await;
    if let Some(server) = local {
        // Said when the TUI quits: everyone else on it sees it close (1001).
        if let Some(url) = server.url().filter(|_| tui) {
            // This run's own clients have stopped: whoever is left is someone else.
            let others = server.connections();
            eprintln!(
                "convo: stopped the local server at {url} ({others} other connection{} closed)",
                if others == 1 { "" } else { "s" }
            );
        }
        server.shutdown().await;
    }
    result
}

async fn dispatch(
    ctx: &Ctx,
    command: Option<Command>,
    peers: Option<crate::ui::engine::LocalPeers>,
) -> anyhow::Result<()> {
    match command {
        None => tui::run(ctx, peers).await,
        Some(Command::Register(r)) => account::register(ctx, &r).await,
        Some(Command::Login(p)) => account::login(ctx, &p).await,
        Some(Command::Logout { all }) => account::logout(ctx, all).await,
        Some(Command::Passwd(p)) => account::passwd(ctx, &p).await,
        Some(Command::Whoami { json }) => account::whoami(ctx, json),
        Some(Command::Status { json }) => status::status(ctx, json).await,
        Some(Command::Sync) => convs::sync(ctx).await,
        Some(Command::List {
            json,
            offline,
            archived,
            all,
        }) => {
            let which = match (archived, all) {
                (true, _) => convs::Which::Archived,
                (_, true) => convs::Which::All,
                _ => convs::Which::Main,
            };
            convs::list(ctx, json, offline, which).await
        }
        Some(Command::CreateGroup { title, users }) => {
            convs::create_group(ctx, &title, &users).await
        }
        Some(Command::Invite { target, users }) => convs::invite(ctx, &target, &users).await,
        Some(Command::Leave { target }) => convs::leave(ctx, &target).await,
        Some(Command::Rename { target, title }) => convs::rename(ctx, &target, &title).await,
        Some(Command::Edit { target, seq, text }) => {
            let body = body::read_body(Some(&text), None, None)?;
            messages::edit(ctx, &target, seq, &body).await
        }
        Some(Command::Delete { target, seq }) => messages::delete(ctx, &target, seq).await,
        Some(Command::Read { target }) => convs::read(ctx, &target).await,
        Some(Command::Search { text, json, limit }) => {
            convs::search(ctx, &text, json, limit as usize).await
        }
        Some(Command::Send {
            target,
            text,
            code,
            file,
            no_wait,
            reply_to,
            json,
        }) => {
            let body = body::read_body(text.as_deref(), code.as_deref(), file.as_deref())?;
            let outcome = match reply_to {
                Some(seq) => v11::send_reply(ctx, &target, seq, &body, no_wait).await?,
                None => messages::send(ctx, &target, &body, no_wait).await?,
            };
            outcome.print(json)
        }
        Some(Command::React {
            target,
            seq,
            key,
            remove,
        }) => v11::react(ctx, &target, seq, &key, remove).await,
        Some(Command::Thread {
            target,
            seq,
            json,
            raw,
        }) => v11::thread(ctx, &target, seq, json, raw).await,
        Some(Command::Settings {
            target,
            notify,
            pin,
            unpin,
            archive,
            unarchive,
            json,
        }) => {
            let flag = |on: bool, off: bool| match (on, off) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let change = sync_core::SettingsChange {
                notify,
                pinned: flag(pin, unpin),
                archived: flag(archive, unarchive),
            };
            v11::settings(ctx, &target, change, json).await
        }
        Some(Command::Show {
            target,
            limit,
            json,
            raw,
        }) => messages::show(ctx, &target, limit, json, raw).await,
        Some(Command::Tail {
            target,
            json,
            consumer,
        }) => messages::tail(ctx, target.as_deref(), json, consumer.as_deref()).await,
    }
}
