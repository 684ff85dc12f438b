//! An echo bot on sync-core's message stream. It answers every text sent to
//! it, in direct conversations and groups, exactly once: messages that
//! arrived while it was stopped are answered when it starts, and killing it
//! (even with kill -9) at any moment loses and doubles nothing. Reconnects,
//! catch-up, the durable outbox and dedup are the library's job.
//!
//! `cargo run -p sync-core --example bot -- ws://127.0.0.1:7878/v1 echobot password123 [DB]`

use sync_core::{ClientBuilder, StreamOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7878/v1".into());
    let user = args.next().unwrap_or_else(|| "echobot".into());
    let password = args.next().unwrap_or_else(|| "echobot-password".into());
    let db = args.next().map_or_else(
        || std::env::temp_dir().join(format!("{user}-bot.db")),
        Into::into,
    );

    let (client, _events) = ClientBuilder::new(url, db, "bot-1").open()?;
    if client.session().is_some() {
        client.start(); // works offline too: the stream waits for the server
    } else if client.login(&user, &password).await.is_err() {
        client.register(&user, &password).await?;
    }
    // Texts by others in every conversation, after the stored position:
    // a restart resumes after the last message answered.
    let mut stream = client.stream("echo", StreamOptions::texts()).await?;
    println!("{user} is answering");
    loop {
        let item = stream.next().await?;
        let text = item.message.body.as_deref().unwrap_or("");
        let answer = format!("{} said: {text}", item.message.sender);
        // The reply and the stream's ack commit in one transaction, under a
        // client id derived from the item: answered exactly once.
        stream.reply(&item, &answer).await?;
        client.mark_read(&item.conv, item.seq()).await?;
    }
}
