//! The engine data the UI displays: re-exports of sync-core's public types
//! (docs/SYNC-CORE-API.md) plus small helpers the UI needs on them. Every
//! `ui` module imports engine types from here, so the UI has one seam.

pub use sync_core::protocol::features;
pub use sync_core::protocol::{ConvId, ConvKind, EntryKind, MAX_BODY_BYTES, Message, Seq};
pub use sync_core::{
    ConnState, ConvRow, LocalMessage, Notify, OutboxItem, OutboxKind, OutboxState, ReactionCount,
    SearchHit, SettingsChange, ThreadWindow, TimelineItem, TimelineQuery,
};

/// A plain text entry (tests and benches build timelines with it).
pub fn text_message(seq: Seq, sender: &str, ts: i64, body: &str) -> LocalMessage {
    LocalMessage::from_entry(&Message::text(seq, sender, ts, body))
}

/// The seq that orders an item (a gap by its first seq; pending echoes sort last).
pub fn order_seq(item: &TimelineItem) -> Seq {
    match item {
        TimelineItem::Message(m) => m.seq,
        TimelineItem::Gap { from, .. } => *from,
        TimelineItem::Pending(_) => Seq::MAX,
    }
}
