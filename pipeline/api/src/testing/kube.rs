//! A loopback Kubernetes API server for tests (no cluster runs here): it serves lists of the
//! objects put under a collection's path as the API does (JSON `List`s; a namespaced path
//! lists the cluster-wide collection's objects of that namespace), holds watches open as
//! chunked streams fed by [`FakeApi::event`] (a streaming list, `sendInitialEvents`, starts
//! with the objects and the bookmark that ends them), answers `/version`, and records every request
//! line with its `Authorization` header. Both Ferrotel's client and client-go (the Go
//! collector's) read it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

#[derive(Clone)]
pub struct FakeApi {
    pub addr: SocketAddr,
    objects: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    /// `(collection path, event line)` to every open watch of that collection.
    events: tokio::sync::broadcast::Sender<(String, String)>,
    requests: Arc<Mutex<Vec<(String, String)>>>,
}

impl FakeApi {
    /// Listen on 127.0.0.1 and serve until the runtime ends.
    pub async fn start() -> FakeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = FakeApi {
            addr: listener.local_addr().unwrap(),
            objects: Default::default(),
            events: tokio::sync::broadcast::channel(256).0,
            requests: Default::default(),
        };
        let me = api.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(me.clone().serve(conn));
            }
        });
        api
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What a list of the collection `path` returns (`/api/v1/pods`; a namespaced path
    /// put here is served as it is, else from the cluster-wide collection).
    pub fn put(&self, path: &str, items: Vec<Value>) {
        self.objects.lock().unwrap().insert(path.to_string(), items);
    }

    /// Send a watch event (`ADDED`, `MODIFIED`, `DELETED`) of the cluster-wide collection
    /// `path` to its open watches, namespaced ones included when the object is in their
    /// namespace.
    pub fn event(&self, path: &str, kind: &str, object: Value) {
        let line = json!({"type": kind, "object": object}).to_string();
        let _ = self.events.send((path.to_string(), line));
    }

    /// Every request line so far with its `Authorization` header (empty when none).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().unwrap().clone()
    }

    /// The cluster-wide collection of a request path and the namespace it asks for:
    /// `/api/v1/namespaces/shop/pods` → (`/api/v1/pods`, `shop`).
    fn collection(path: &str) -> (String, Option<String>) {
        let parts: Vec<&str> = path.split('/').collect();
        if let Some(i) = parts.iter().position(|p| *p == "namespaces") {
            if parts.len() == i + 3 {
                let mut whole: Vec<&str> = parts[..i].to_vec();
                whole.push(parts[i + 2]);
                return (whole.join("/"), Some(parts[i + 1].to_string()));
            }
        }
        (path.to_string(), None)
    }

    fn in_namespace(object: &Value, ns: &Option<String>) -> bool {
        ns.as_ref().is_none_or(|ns| {
            object["metadata"]["namespace"].as_str() == Some(ns.as_str())
                || object["object"]["metadata"]["namespace"].as_str() == Some(ns.as_str())
        })
    }

    /// A list's objects: those put under `path`, else the cluster-wide collection's in
    /// namespace `ns`.
    fn items(&self, path: &str, whole: &str, ns: &Option<String>) -> Vec<Value> {
        let objects = self.objects.lock().unwrap();
        match objects.get(path) {
            Some(exact) => exact.clone(),
            None => objects
                .get(whole)
                .into_iter()
                .flatten()
                .filter(|o| FakeApi::in_namespace(o, ns))
                .cloned()
                .collect(),
        }
    }

    async fn serve(self, mut conn: tokio::net::TcpStream) {
        loop {
            let Some(text) = super::read_request_head(&mut conn).await else {
                return;
            };
            let line = text.lines().next().unwrap_or("").to_string();
            let auth = text
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("authorization")
                        .then(|| v.trim().to_string())
                })
                .unwrap_or_default();
            self.requests.lock().unwrap().push((line.clone(), auth));
            let target = line.split(' ').nth(1).unwrap_or("/").to_string();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let (whole, ns) = FakeApi::collection(path);
            if query
                .split('&')
                .any(|q| q == "watch=true" || q == "watch=1")
            {
                let mut rx = self.events.subscribe();
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if conn.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // a streaming list (client-go's WatchList): the objects as ADDED events, then
                // a bookmark that marks their end
                if query.split('&').any(|q| q == "sendInitialEvents=true") {
                    let mut lines: Vec<Value> = self
                        .items(path, &whole, &ns)
                        .into_iter()
                        .map(|o| json!({"type": "ADDED", "object": o}))
                        .collect();
                    lines.push(json!({"type": "BOOKMARK", "object": {"metadata": {
                        "resourceVersion": "1",
                        "annotations": {"k8s.io/initial-events-end": "true"}}}}));
                    for l in lines {
                        let line = format!("{l}\n");
                        let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                        if conn.write_all(chunk.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
                while let Ok((of, ev)) = rx.recv().await {
                    let v: Value = serde_json::from_str(&ev).unwrap_or_default();
                    if of != whole || !FakeApi::in_namespace(&v, &ns) {
                        continue;
                    }
                    let line = format!("{ev}\n");
                    let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                    if conn.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
                return;
            }
            let body = if path == "/version" {
                json!({"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"})
            } else {
                let items = self.items(path, &whole, &ns);
                json!({"metadata": {"resourceVersion": "1"}, "items": items})
            }
            .to_string();
            // no `kind`: client-go takes the list's type from what it asked for (a generic
            // `List` would not decode as a `PodList`)
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if conn.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}
