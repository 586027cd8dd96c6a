//! Small HTTP servers of the runtime (health check, own metrics): bind at build time so an
//! address in use fails the start with a clear message, serve until cancelled.

use std::net::TcpListener;

use axum::Router;
use pipeline_api::BuildError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Bind a listen address as Go writes it (`:PORT`, `host:port`, `[v6]:port`).
pub use transport::net::bind_tcp as bind;

/// Serve `router` on `listener` until `token` fires, then finish in-flight requests.
pub fn serve(
    listener: TcpListener,
    router: Router,
    token: CancellationToken,
) -> Result<JoinHandle<()>, BuildError> {
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| BuildError::new(e.to_string()))?;
    Ok(tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(token.cancelled_owned())
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }))
}

/// RFC 3339 with nanoseconds in UTC, as Go's `time.RFC3339Nano` prints it.
pub fn rfc3339_nanos(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // civil-from-days (proleptic Gregorian)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_nanos(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_605_068_351, 684_717_400);
        assert_eq!(rfc3339_nanos(t), "2020-11-11T04:19:11.6847174Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_nanos(t), "2000-02-29T00:00:00Z");
    }
}
