//! `<service> --healthcheck`: asks the running service's own `/health` on $HOST:$PORT (loopback
//! when `HOST` is every interface or unset) and exits 0 on a 200, 1 otherwise — a container health
//! check that needs no curl in the image.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// If the process was started with `--healthcheck`, runs the check and exits; otherwise returns.
pub fn exit_if_requested(default_port: u16) {
    if !std::env::args().skip(1).any(|a| a == "--healthcheck") {
        return;
    }
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(default_port);
    let host = probed(std::env::var("HOST").ok().as_deref());
    std::process::exit(if check_at(host, port) { 0 } else { 1 });
}

/// Where the service bound to `HOST` answers: that address, or loopback for every interface.
pub fn probed(host: Option<&str>) -> IpAddr {
    match host.and_then(|h| h.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V6(a)) if a.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(a) if !a.is_unspecified() => a,
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// True when `GET /health` on `host`:`port` answers 200 within 2 s.
pub fn check_at(host: IpAddr, port: u16) -> bool {
    let addr = SocketAddr::from((host, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 16];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    let status = String::from_utf8_lossy(&head[..read]);
    status.starts_with("HTTP/1.") && status.get(9..12) == Some("200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_goes_where_the_service_listens() {
        assert_eq!(probed(None).to_string(), "127.0.0.1");
        assert_eq!(probed(Some("0.0.0.0")).to_string(), "127.0.0.1");
        assert_eq!(probed(Some("::")).to_string(), "::1");
        assert_eq!(probed(Some("10.1.2.3")).to_string(), "10.1.2.3");
        assert_eq!(probed(Some("nonsense")).to_string(), "127.0.0.1");
    }

    #[tokio::test]
    async fn healthy_and_unhealthy_services_are_told_apart() {
        let ok = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, ok).await });
        assert!(tokio::task::spawn_blocking(move || check_at(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port
        ))
        .await
        .unwrap());

        let bad = axum::Router::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bad_port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, bad).await });
        assert!(!tokio::task::spawn_blocking(move || check_at(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            bad_port
        ))
        .await
        .unwrap());

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(!check_at(IpAddr::V4(Ipv4Addr::LOCALHOST), closed_port));
    }
}
