//! A minimal Docker Engine API client: one HTTP/1.1 request per connection (hyper) over the
//! engine's Unix socket or TCP, JSON answers, each bounded by the configured timeout.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde_json::Value;

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(String),
    Tcp(String),
}

impl Target {
    pub fn parse(endpoint: &str) -> Result<Target, String> {
        if let Some(p) = endpoint.strip_prefix("unix://") {
            if p.is_empty() {
                return Err(format!("{endpoint:?}: no socket path"));
            }
            Ok(Target::Unix(p.to_string()))
        } else if let Some(a) = endpoint
            .strip_prefix("tcp://")
            .or_else(|| endpoint.strip_prefix("http://"))
        {
            let a = a.trim_end_matches('/');
            if a.is_empty() {
                return Err(format!("{endpoint:?}: no address"));
            }
            Ok(Target::Tcp(a.to_string()))
        } else {
            Err(format!(
                "unable to parse docker host {endpoint:?}: use unix:///path or tcp://host:port"
            ))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Engine {
    target: Target,
    prefix: String,
    timeout: Duration,
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

impl Engine {
    pub fn new(endpoint: &str, api_version: &str, timeout: Duration) -> Result<Engine, String> {
        Ok(Engine {
            target: Target::parse(endpoint)?,
            prefix: if api_version.is_empty() {
                String::new()
            } else {
                format!("/v{}", api_version.trim())
            },
            timeout,
        })
    }

    fn describe(&self) -> String {
        match &self.target {
            Target::Unix(p) => format!("unix://{p}"),
            Target::Tcp(a) => format!("tcp://{a}"),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Io>, String> {
        match &self.target {
            Target::Unix(p) => tokio::net::UnixStream::connect(p)
                .await
                .map(|s| Box::new(s) as Box<dyn Io>),
            Target::Tcp(a) => tokio::net::TcpStream::connect(a)
                .await
                .map(|s| Box::new(s) as Box<dyn Io>),
        }
        .map_err(|e| {
            format!(
                "Cannot connect to the Docker daemon at {}: {e}",
                self.describe()
            )
        })
    }

    /// GET `path` (after the API version prefix), the answer as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, String> {
        let full = format!("{}{path}", self.prefix);
        let fut = async {
            let io = self.connect().await?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io))
                    .await
                    .map_err(|e| format!("{}: {e}", self.describe()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let req = http::Request::get(full.as_str())
                .header("host", "docker")
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| format!("GET {full}: {e}"))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("GET {full}: {e}"))?
                .to_bytes();
            if !status.is_success() {
                return Err(format!(
                    "GET {full}: the engine answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(256)]).trim()
                ));
            }
            serde_json::from_slice(&body).map_err(|e| format!("GET {full}: invalid JSON: {e}"))
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| format!("GET {full}: no answer within {:?}", self.timeout))?
    }
}
