//! Mirrors a user's messages to stdout: first everything that arrived since
//! the last run (catch-up), then live messages as they come, marking each
//! one read once printed.
//!
//! `cargo run -p sync-core --example mirror -- ws://127.0.0.1:7878/v1 alice password123 [DB]`

use sync_core::protocol::EntryKind;
use sync_core::{Arrival, ClientBuilder, StreamOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7878/v1".into());
    let user = args.next().unwrap_or_else(|| "alice".into());
    let password = args.next().unwrap_or_else(|| "alice-password".into());
    let db = args.next().map_or_else(
        || std::env::temp_dir().join(format!("{user}-mirror.db")),
        Into::into,
    );

    let (client, _events) = ClientBuilder::new(url, db, "mirror-1").open()?;
    if client.session().is_some() {
        client.start();
    } else {
        client.login(&user, &password).await?;
    }
    let options = StreamOptions {
        include_own: true,
        kinds: Some(vec![EntryKind::Text]),
        ..StreamOptions::default()
    };
    let mut stream = client.stream("mirror", options).await?;
    loop {
        let item = stream.next().await?;
        let how = match item.arrival {
            Arrival::Live => "live",
            Arrival::CatchUp => "missed",
        };
        let m = &item.message;
        let text = m.body.as_deref().unwrap_or("(deleted)");
        println!("[{how}] {} #{} {}: {text}", item.conv, m.seq, m.sender);
        client.mark_read(&item.conv, m.seq).await?;
        stream.ack(&item).await?;
    }
}
