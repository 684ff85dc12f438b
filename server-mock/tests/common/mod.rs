//! Test client for the integration tests: a raw tokio-tungstenite connection
//! speaking JSON, with request/reply matching by `re`. Timeouts here only
//! guard against hangs; no test asserts on timing.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const HANG: Duration = Duration::from_secs(30);
pub const PASSWORD: &str = "correct horse";

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub hello: Value,
    pub pending: VecDeque<Value>,
    next_id: u64,
    pub token: String,
    pub user: String,
}

/// A server on 127.0.0.1:0 with a throwaway database and a generous rate limit.
pub async fn memory_server() -> server_mock::RunningServer {
    server_mock::start(test_config(server_mock::DbLocation::Memory))
        .await
        .unwrap()
}

pub fn test_config(db: server_mock::DbLocation) -> server_mock::Config {
    server_mock::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        db,
        send_rate_per_sec: 1_000_000.0,
        send_burst: 1_000_000,
        ..server_mock::Config::default()
    }
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(HANG, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect hangs")
            .expect("connect");
        Client::from_ws(ws).await
    }

    /// A client on an upgraded WebSocket: waits for `hello`.
    pub async fn from_ws(mut ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        let hello = loop {
            match tokio::time::timeout(HANG, ws.next())
                .await
                .expect("hello hangs")
            {
                Some(Ok(Message::Text(t))) => {
                    break serde_json::from_str::<Value>(t.as_str()).unwrap();
                }
                Some(Ok(_)) => continue,
                other => panic!("no hello: {other:?}"),
            }
        };
        assert_eq!(hello["type"], "hello");
        Client {
            ws,
            hello,
            pending: VecDeque::new(),
            next_id: 1,
            token: String::new(),
            user: String::new(),
        }
    }

    pub async fn register(url: &str, user: &str) -> Client {
        let mut c = Client::connect(url).await;
        let r = c
            .request(json!({"type":"register","user":user,"password":PASSWORD,"device":"dev-1"}))
            .await;
        assert_eq!(r["type"], "session", "{r}");
        c.token = r["token"].as_str().unwrap().to_owned();
        c.user = user.to_owned();
        c
    }

    /// Another connection of the same user and device (via `auth`).
    pub async fn again(&self, url: &str) -> Client {
        let mut c = Client::connect(url).await;
        let r = c
            .request(json!({"type":"auth","token":self.token,"device":"dev-1"}))
            .await;
        assert_eq!(r["type"], "session", "{r}");
        c.token = self.token.clone();
        c.user = self.user.clone();
        c
    }

    pub async fn send_text(&mut self, text: String) {
        tokio::time::timeout(HANG, self.ws.send(Message::Text(text.into())))
            .await
            .expect("send hangs")
            .expect("send");
    }

    /// Sends `v` with a fresh id; returns the id.
    pub async fn send_json(&mut self, mut v: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        v["id"] = json!(id);
        self.send_text(v.to_string()).await;
        id
    }

    /// Next frame off the wire (not the pending queue). None when closed.
    pub async fn read_wire(&mut self) -> Option<Value> {
        loop {
            match tokio::time::timeout(HANG, self.ws.next())
                .await
                .expect("read hangs")
            {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).unwrap());
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Every entry of `conv`, paging with `pull`.
    pub async fn pull_all(&mut self, conv: &str) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        loop {
            let after = out.last().map_or(0, |m| m["seq"].as_u64().unwrap());
            let r = self
                .request(json!({"type":"pull","conv":conv,"after":after,"limit":500}))
                .await;
            let page = r["messages"].as_array().unwrap().clone();
            let last = r["last_seq"].as_u64().unwrap();
            let done = page.is_empty() || after + page.len() as u64 >= last;
            out.extend(page);
            if done {
                return out;
            }
        }
    }

    /// Sends a request and returns its reply; frames in between are kept.
    pub async fn request(&mut self, v: Value) -> Value {
        let id = self.send_json(v).await;
        self.reply_to(id).await
    }

    pub async fn reply_to(&mut self, id: u64) -> Value {
        if let Some(pos) = self.pending.iter().position(|f| f["re"] == json!(id)) {
            return self.pending.remove(pos).unwrap();
        }
        loop {
            let f = self
                .read_wire()
                .await
                .expect("connection closed before reply");
            if f["re"] == json!(id) {
                return f;
            }
            self.pending.push_back(f);
        }
    }

    /// Next event (frame without `re`) of type `ty`, skipping other events.
    pub async fn event(&mut self, ty: &str) -> Value {
        if let Some(pos) = self
            .pending
            .iter()
            .position(|f| f["type"] == ty && f.get("re").is_none())
        {
            return self.pending.remove(pos).unwrap();
        }
        loop {
            let f = self
                .read_wire()
                .await
                .expect("connection closed before event");
            if f["type"] == ty && f.get("re").is_none() {
                return f;
            }
            self.pending.push_back(f);
        }
    }

    /// Reads until the server closes; returns the close code (None if the
    /// socket ended without a close frame).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(HANG, self.ws.next())
                .await
                .expect("close hangs")
            {
                Some(Ok(Message::Close(f))) => return f.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                None | Some(Err(_)) => return None,
            }
        }
    }

    pub async fn create_group(&mut self, title: &str, members: &[&str]) -> String {
        let r = self
            .request(json!({"type":"create","kind":"group","title":title,"members":members}))
            .await;
        assert_eq!(r["type"], "conversation", "{r}");
        r["conversation"]["conv"].as_str().unwrap().to_owned()
    }

    pub async fn send_msg(&mut self, conv: &str, client_id: &str, body: &str) -> Value {
        let r = self
            .request(json!({"type":"send","conv":conv,"client_id":client_id,"body":body}))
            .await;
        assert_eq!(r["type"], "sent", "{r}");
        r
    }
}
