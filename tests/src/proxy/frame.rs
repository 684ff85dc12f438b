//! WebSocket frame boundaries (RFC 6455 §5.2) and the HTTP upgrade boundary, read from raw bytes.
//!
//! The proxy never decodes payloads: it only needs to know where each frame ends so it can
//! cut between frames, cut inside one, or hold a whole frame back.

/// The fixed part of a frame header, enough to know the frame's total length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN bit: last fragment of a message.
    pub fin: bool,
    /// Opcode: 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xA pong, 0x0 continuation.
    pub opcode: u8,
    /// Whether the payload is masked (client-to-server frames always are).
    pub masked: bool,
    /// Header bytes including extended length and mask key.
    pub header_len: usize,
    /// Payload bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Total bytes of the frame on the wire, or `None` if it cannot be addressed on this machine.
    pub fn total_len(&self) -> Option<usize> {
        usize::try_from(self.payload_len)
            .ok()?
            .checked_add(self.header_len)
    }
}

/// Parses the header at the start of `buf`; `None` while too few bytes have arrived.
pub fn parse_header(buf: &[u8]) -> Option<FrameHeader> {
    let (&b0, rest) = buf.split_first()?;
    let &b1 = rest.first()?;
    let masked = b1 & 0x80 != 0;
    let (len_bytes, payload_len) = match b1 & 0x7f {
        126 => {
            let ext: [u8; 2] = buf.get(2..4)?.try_into().ok()?;
            (2, u64::from(u16::from_be_bytes(ext)))
        }
        127 => {
            let ext: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            (8, u64::from_be_bytes(ext))
        }
        n => (0, u64::from(n)),
    };
    Some(FrameHeader {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        masked,
        header_len: 2 + len_bytes + if masked { 4 } else { 0 },
        payload_len,
    })
}

/// Length of the complete frame at the start of `buf`, or `None` if it has not fully arrived.
pub fn complete_frame_len(buf: &[u8]) -> Option<usize> {
    let total = parse_header(buf)?.total_len()?;
    (buf.len() >= total).then_some(total)
}

/// Length of the HTTP upgrade request/response at the start of `buf` (through the blank line).
pub fn http_head_len(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_masked_text_frame() {
        // "hello" from a client: 2 header bytes, 4 mask bytes, 5 payload bytes.
        let mut f = vec![0x81, 0x85, 1, 2, 3, 4];
        f.extend_from_slice(b"abcde");
        let h = parse_header(&f).unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.masked, h.header_len, h.payload_len),
            (true, 1, true, 6, 5)
        );
        assert_eq!(complete_frame_len(&f), Some(11));
        assert_eq!(complete_frame_len(&f[..10]), None);
    }

    #[test]
    fn extended_lengths() {
        let mut f = vec![0x82, 126, 0x01, 0x00];
        f.resize(4 + 256, 0);
        assert_eq!(complete_frame_len(&f), Some(260));
        assert_eq!(parse_header(&[0x82, 126, 0x01]), None);
        let h = parse_header(&[0x01, 127, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.header_len, h.payload_len),
            (false, 1, 10, 65536)
        );
    }

    #[test]
    fn http_head_ends_at_blank_line() {
        let b = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";
        assert_eq!(http_head_len(b), Some(b.len() - 4));
        assert_eq!(http_head_len(b"HTTP/1.1 101\r\n"), None);
    }
}
