//! The labels Go's OTLP exporters give their `otelcol_exporter_sent_*` and
//! `otelcol_exporter_send_failed_*` series (`endpointAttributes` in `otlpexporter` and
//! `otlphttpexporter` v0.155, through `exporterhelper.WithAttrs`).

/// gRPC: `net.SplitHostPort(endpoint)`; when the endpoint does not split (a scheme, no
/// port, too many colons) the whole endpoint is `server_address`; `server_port` only when
/// the port is a number.
pub fn grpc_labels(endpoint: &str) -> Vec<(&'static str, String)> {
    match split_host_port(endpoint) {
        None => vec![("server_address", endpoint.to_string())],
        Some((host, port)) => {
            let mut out = vec![("server_address", host.to_string())];
            if let Ok(p) = port.parse::<i64>() {
                out.push(("server_port", p.to_string()));
            }
            out
        }
    }
}

/// HTTP: the signal URL's host name (without brackets), its path when not empty, and its
/// explicit port.
pub fn http_labels(url: &str) -> Vec<(&'static str, String)> {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return vec![("server_address", String::new())];
    };
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let mut out = vec![("server_address", host)];
    // `http::Uri` reads an empty path as "/": only a path written in the URL counts
    let after_authority = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    if after_authority.contains('/') {
        out.push(("url_path", uri.path().to_string()));
    }
    if let Some(p) = uri.port_u16() {
        out.push(("server_port", p.to_string()));
    }
    out
}

/// Go's `net.SplitHostPort`: `host:port` or `[host]:port`; `None` where Go returns an error.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        if port.contains(':') || port.contains('[') || port.contains(']') {
            return None;
        }
        return Some((host, port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') || host.contains('[') || host.contains(']') {
        return None;
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: Vec<(&'static str, String)>) -> Vec<String> {
        v.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    #[test]
    fn grpc_endpoints_split_as_gos_split_host_port() {
        assert_eq!(
            text(grpc_labels("otel-gateway:4317")),
            vec!["server_address=otel-gateway", "server_port=4317"]
        );
        assert_eq!(
            text(grpc_labels("[::1]:4317")),
            vec!["server_address=::1", "server_port=4317"]
        );
        // a scheme makes too many colons: the whole endpoint is the address
        assert_eq!(
            text(grpc_labels("http://127.0.0.1:4317")),
            vec!["server_address=http://127.0.0.1:4317"]
        );
        assert_eq!(text(grpc_labels("tempo")), vec!["server_address=tempo"]);
        assert_eq!(
            text(grpc_labels("tempo:otlp")),
            vec!["server_address=tempo"]
        );
    }

    #[test]
    fn http_urls_give_host_path_and_explicit_port() {
        assert_eq!(
            text(http_labels("http://127.0.0.1:4318/v1/traces")),
            vec![
                "server_address=127.0.0.1",
                "url_path=/v1/traces",
                "server_port=4318"
            ]
        );
        assert_eq!(
            text(http_labels("https://otlp.example.com/v1/logs")),
            vec!["server_address=otlp.example.com", "url_path=/v1/logs"]
        );
        assert_eq!(
            text(http_labels("http://[::1]:4318")),
            vec!["server_address=::1", "server_port=4318"]
        );
    }
}
