//! The client's address behind a trusted proxy (`--trusted-proxy CIDR`):
//! the PROXY protocol (v1 text, v2 binary) from TCP balancers, and
//! `X-Forwarded-For` from HTTP proxies. Both are believed only when the TCP
//! peer is itself a trusted proxy: anyone else could claim any address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// An address range, `10.0.0.0/8` or `::1/128` (a bare address is /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR[/PREFIX]`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?}: not an IP address"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix is 0..={max}"))?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = crate::state::canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Whether `ip` is one of the trusted proxies.
pub fn trusted(proxies: &[Cidr], ip: IpAddr) -> bool {
    proxies.iter().any(|c| c.contains(ip))
}

/// The client of an `X-Forwarded-For: client, proxy1, proxy2` chain: the
/// rightmost entry that is not itself a trusted proxy.
pub fn forwarded_for(header: &str, proxies: &[Cidr]) -> Option<IpAddr> {
    header
        .split(',')
        .rev()
        .filter_map(|e| e.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted(proxies, *ip))
}

const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Reads a PROXY protocol header if the stream starts with one (v1 or v2)
/// and returns the source address it names. Call only for trusted peers.
pub async fn read_proxy_header(tcp: &mut TcpStream) -> std::io::Result<Option<IpAddr>> {
    let mut peek = [0u8; 16];
    let n = tcp.peek(&mut peek).await?;
    if n >= 6 && &peek[..6] == b"PROXY " {
        // v1: one text line of at most 107 bytes ending in \r\n.
        let mut line = Vec::with_capacity(108);
        loop {
            let b = tcp.read_u8().await?;
            line.push(b);
            if line.ends_with(b"\r\n") || line.len() >= 108 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&line);
        let parts: Vec<&str> = text.trim_end().split(' ').collect();
        return Ok(match parts.as_slice() {
            ["PROXY", "TCP4" | "TCP6", src, ..] => src.parse().ok(),
            _ => None,
        });
    }
    if n >= 16 && peek[..12] == V2_SIGNATURE {
        let mut head = [0u8; 16];
        tcp.read_exact(&mut head).await?;
        let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await?;
        // Version 2, command PROXY (0x21); family in the high nibble of byte 13.
        if head[12] != 0x21 {
            return Ok(None);
        }
        return Ok(match head[13] >> 4 {
            1 if body.len() >= 12 => Some(IpAddr::V4(Ipv4Addr::new(
                body[0], body[1], body[2], body[3],
            ))),
            2 if body.len() >= 36 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&body[..16]);
                Some(IpAddr::V6(Ipv6Addr::from(a)))
            }
            _ => None,
        });
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_forwarded_chains() {
        let proxies = [
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ];
        assert!(trusted(&proxies, "10.1.2.3".parse().unwrap()));
        assert!(trusted(&proxies, "::1".parse().unwrap()));
        assert!(!trusted(&proxies, "11.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert_eq!(
            forwarded_for("203.0.113.9, 198.51.100.7, 10.0.0.2", &proxies),
            Some("198.51.100.7".parse().unwrap()),
            "the rightmost entry that is not a trusted proxy"
        );
        assert_eq!(forwarded_for("10.0.0.3", &proxies), None);
    }
}
