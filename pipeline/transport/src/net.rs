//! Listen addresses as Go writes them (`net.Listen("tcp", endpoint)`):
//! - `:PORT` (or `0.0.0.0:PORT`'s Go spelling without a host): every interface, IPv4 and IPv6;
//! - `host:port` with a name (resolved; the first address that binds wins) or an IPv4 address;
//! - `[v6]:port`.
//!
//! Port 0 picks a free port. Every failure names the component's key and the endpoint as
//! written.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};

use pipeline_api::BuildError;

/// Check an endpoint's form without resolving or binding (config validation).
pub fn check_endpoint(endpoint: &str, example_port: u16) -> Result<(), String> {
    let e = endpoint.trim();
    if e.is_empty() {
        return Err(format!(
            "must not be empty; write host:port, e.g. 0.0.0.0:{example_port} or :{example_port}"
        ));
    }
    let Some((host, port)) = e.rsplit_once(':') else {
        return Err(format!("{e:?} is not host:port (missing port)"));
    };
    if port.is_empty() {
        // Go listens on a free port; an empty port is almost always an unset variable
        return Err(format!(
            "{e:?}: no port after the colon (an unset environment variable?); write {host}:0 for a free port"
        ));
    }
    if port.parse::<u16>().is_err() {
        return Err(format!("{e:?}: invalid port {port:?}"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!(
            "{e:?}: an IPv6 host must be in brackets, e.g. [::1]:{example_port}"
        ));
    }
    Ok(())
}

/// The addresses to try for a listen endpoint, in order.
pub fn listen_addrs(endpoint: &str) -> Result<Vec<SocketAddr>, String> {
    let e = endpoint.trim();
    check_endpoint(e, 4317)?;
    if let Some(port) = e.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| format!("invalid port {port:?}"))?;
        // Go listens on both families for an empty host; `[::]` is dual-stack on Linux
        // (unless IPv6 is off or `bindv6only` is set), `0.0.0.0` is the fallback
        return Ok(vec![
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ]);
    }
    let addrs: Vec<SocketAddr> = e
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {e:?}: {err}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{e:?} resolves to no address"));
    }
    Ok(addrs)
}

/// Bind a TCP listener (non-blocking, for tokio) on a Go-style endpoint. `what` names the
/// config key in errors, e.g. `receivers::otlp::protocols::grpc::endpoint`.
pub fn bind_tcp(endpoint: &str, what: &str) -> Result<TcpListener, BuildError> {
    let addrs = listen_addrs(endpoint)
        .map_err(|e| BuildError::new(format!("{what}: invalid endpoint: {e}")))?;
    let mut last = None;
    for addr in addrs {
        match TcpListener::bind(addr) {
            Ok(l) => {
                l.set_nonblocking(true)
                    .map_err(|e| BuildError::new(format!("{what}: {endpoint}: {e}")))?;
                return Ok(l);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(BuildError::new(match last {
        Some(e) => format!("{what}: failed to listen on {endpoint}: {e}"),
        None => format!("{what}: endpoint {endpoint:?} resolves to no address"),
    }))
}

/// Bind a UDP socket (non-blocking, for tokio) on a Go-style endpoint, as [`bind_tcp`].
pub fn bind_udp(endpoint: &str, what: &str) -> Result<std::net::UdpSocket, BuildError> {
    let addrs = listen_addrs(endpoint)
        .map_err(|e| BuildError::new(format!("{what}: invalid endpoint: {e}")))?;
    let mut last = None;
    for addr in addrs {
        match std::net::UdpSocket::bind(addr) {
            Ok(s) => {
                s.set_nonblocking(true)
                    .map_err(|e| BuildError::new(format!("{what}: {endpoint}: {e}")))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(BuildError::new(match last {
        Some(e) => format!("{what}: failed to listen on {endpoint}: {e}"),
        None => format!("{what}: endpoint {endpoint:?} resolves to no address"),
    }))
}

/// Where a client on this host reaches a server listening on `endpoint`: an empty or
/// unspecified host (`:13133`, `0.0.0.0:13133`, `[::]:13133`) becomes `localhost`.
pub fn local_dial_address(endpoint: &str) -> String {
    let e = endpoint.trim();
    match e.rsplit_once(':') {
        Some((host, port)) if host.is_empty() || host == "0.0.0.0" || host == "[::]" => {
            format!("localhost:{port}")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms_parse() {
        assert_eq!(
            listen_addrs(":4317").unwrap(),
            vec![
                "[::]:4317".parse::<SocketAddr>().unwrap(),
                "0.0.0.0:4317".parse().unwrap()
            ]
        );
        assert_eq!(
            listen_addrs("127.0.0.1:8888").unwrap(),
            vec!["127.0.0.1:8888".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            listen_addrs("[::1]:8888").unwrap(),
            vec!["[::1]:8888".parse::<SocketAddr>().unwrap()]
        );
        assert!(listen_addrs("localhost:0")
            .unwrap()
            .iter()
            .all(|a| a.ip().is_loopback()));
        for bad in ["", "4317", "host:port", "::1:4317", "localhost:99999"] {
            assert!(listen_addrs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn check_names_the_problem() {
        assert!(check_endpoint("", 13133).unwrap_err().contains(":13133"));
        assert!(check_endpoint("::1:4317", 4317)
            .unwrap_err()
            .contains("brackets"));
        assert!(check_endpoint(":1888", 1888).is_ok());
        // `${env:HOST}:${env:PORT}` with both unset
        assert_eq!(
            check_endpoint(":", 4317).unwrap_err(),
            "\":\": no port after the colon (an unset environment variable?); write :0 for a free port"
        );
        assert!(check_endpoint("collector:", 4317)
            .unwrap_err()
            .contains("write collector:0"));
    }

    #[test]
    fn binds_loopback_and_reports_address_in_use() {
        let first = bind_tcp("127.0.0.1:0", "test").unwrap();
        let addr = first.local_addr().unwrap().to_string();
        let err = bind_tcp(&addr, "receivers::otlp").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("receivers::otlp: failed to listen on {addr}")),
            "{err}"
        );
        let v6 = bind_tcp("[::1]:0", "test");
        if let Ok(l) = v6 {
            assert!(l.local_addr().unwrap().ip().is_loopback());
        }
    }

    #[test]
    fn dial_addresses_for_unspecified_hosts() {
        assert_eq!(local_dial_address(":13133"), "localhost:13133");
        assert_eq!(local_dial_address("0.0.0.0:13133"), "localhost:13133");
        assert_eq!(local_dial_address("[::]:13133"), "localhost:13133");
        assert_eq!(local_dial_address("10.0.0.5:13133"), "10.0.0.5:13133");
    }
}
