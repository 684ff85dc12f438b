//! A tiny bot on top of sync-core: it logs in (or registers), then answers
//! every text someone sends it. Everything else — reconnects, catch-up, the
//! durable outbox, dedup — is the library's job.
//!
//! `cargo run -p sync-core --example bot -- ws://127.0.0.1:7878/v1 echobot password123`

use std::time::Duration;

use sync_core::protocol::EntryKind;
use sync_core::{ClientBuilder, Event};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7878/v1".into());
    let user = args.next().unwrap_or_else(|| "echobot".into());
    let password = args.next().unwrap_or_else(|| "echobot-password".into());
    let db = std::env::temp_dir().join(format!("{user}-bot.db"));

    let (client, mut events) = ClientBuilder::new(url, db, "bot-1").open()?;
    if client.session().is_some() {
        client.resume(None).await?;
    } else if client.login(&user, &password).await.is_err() {
        client.register(&user, &password).await?;
    }
    let report = client.wait_live(Duration::from_secs(30)).await?;
    println!("{user} is live: {} conversations", report.conversations);

    // NewMessage is only raised for entries by other users, so the bot never
    // answers itself.
    while let Some(event) = events.recv().await {
        match event {
            Event::NewMessage { conv, message } if message.kind == EntryKind::Text => {
                let body = message.body.unwrap_or_default();
                client.send(&conv, &format!("{} said: {body}", message.sender))?;
                client.mark_read(&conv, message.seq)?;
            }
            Event::Connection(state) => println!("connection: {state:?}"),
            Event::Error(e) => eprintln!("error: {e}"),
            _ => {}
        }
    }
    Ok(())
}
