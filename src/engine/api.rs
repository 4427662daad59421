//! The engine's own HTTP API over its Unix socket, for the questions stackgen asks
//! often: is the daemon there, which containers a project has, which images are
//! present. One request costs a fraction of a millisecond; a `docker` process costs tens
//! of milliseconds before it asks anything.
//!
//! Deliberately small: HTTP/1.0 requests (the engine then answers without chunking and
//! closes the connection, so a response is "read to the end"), one connection per
//! request, JSON in and out. No async runtime and no client crate: bollard would bring
//! tokio and hyper for the same four endpoints. (The edge's runtime API is a line
//! protocol on a Unix socket of its own: `targets/compose/edge.rs`.) Where the CLI would talk to another
//! engine (`DOCKER_HOST` not a local socket, a non-default context), [`Api::local`]
//! answers `None` and the callers run the `docker` CLI as before.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The engine's socket when the CLI would use it too.
#[derive(Debug, Clone)]
pub struct Api {
    socket: PathBuf,
}

/// How long one request may take before it is an error rather than a hang.
const TIMEOUT: Duration = Duration::from_secs(30);

impl Api {
    /// The local engine's API, unless the `docker` CLI is pointed elsewhere: `DOCKER_HOST`
    /// other than `unix://`, `DOCKER_CONTEXT` or the CLI config's `currentContext` other
    /// than `default`, or `STACKGEN_ENGINE_API=off`.
    pub fn local() -> Option<Api> {
        let context = std::env::var("DOCKER_CONTEXT")
            .ok()
            .or_else(current_context);
        if context.is_some_and(|c| !c.is_empty() && c != "default") {
            return None;
        }
        Api::at(std::env::var("DOCKER_HOST").ok().as_deref())
    }

    /// The API of the engine that builds and pushes: `STACKGEN_BUILD_HOST` when set (a
    /// `unix://` socket, else `None`: the CLI is told the address), else [`Api::local`].
    pub fn builder() -> Option<Api> {
        match crate::engine::build_host() {
            Some(host) => Api::at(Some(&host)),
            None => Api::local(),
        }
    }

    /// The API at a `DOCKER_HOST`-style address, when it is a Unix socket this user may use.
    fn at(host: Option<&str>) -> Option<Api> {
        if std::env::var("STACKGEN_ENGINE_API").is_ok_and(|v| v == "off") {
            return None;
        }
        let socket = match host {
            Some(host) if !host.is_empty() => PathBuf::from(host.strip_prefix("unix://")?),
            _ => PathBuf::from("/var/run/docker.sock"),
        };
        // A socket this user may not use: the CLI's error messages say it better.
        let path = std::ffi::CString::new(socket.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: access(2) reads a NUL-terminated path and touches no memory of ours.
        if unsafe { libc::access(path.as_ptr(), libc::R_OK | libc::W_OK) } != 0 {
            return None;
        }
        Some(Api { socket })
    }

    /// `GET path`; the body of a 2xx answer.
    pub fn get(&self, path: &str) -> Result<Vec<u8>> {
        self.call("GET", path, None)
    }

    /// `GET path`, parsed as JSON.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value> {
        let body = self.get(path)?;
        serde_json::from_slice(&body).with_context(|| format!("cannot parse the engine's `{path}`"))
    }

    /// Whether `GET path` finds something: `true` on 2xx, `false` on 404.
    pub fn exists(&self, path: &str) -> Result<bool> {
        let (status, _) = self
            .request("GET", path, None)
            .with_context(|| format!("engine API `GET {path}` on `{}`", self.socket.display()))?;
        match status {
            200..300 => Ok(true),
            404 => Ok(false),
            _ => bail!("engine API `GET {path}` answered {status}"),
        }
    }

    /// `POST path` with a JSON body; the body of a 2xx answer.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Result<Vec<u8>> {
        self.call("POST", path, Some(body.to_string().as_bytes()))
    }

    fn call(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>> {
        let (status, body) = self.request(method, path, body).with_context(|| {
            format!(
                "engine API `{method} {path}` on `{}`",
                self.socket.display()
            )
        })?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            bail!("engine API `{method} {path}` answered {status}: {message}");
        }
        Ok(body)
    }

    fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<(u16, Vec<u8>)> {
        unix_request(&self.socket, method, path, "docker", body)
    }
}

/// One HTTP/1.0 request over the Unix socket at `socket`, on a new connection: the
/// status and the whole body.
fn unix_request(
    socket: &Path,
    method: &str,
    path: &str,
    host: &str,
    body: Option<&[u8]>,
) -> Result<(u16, Vec<u8>)> {
    let mut stream = connect(socket)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {host}\r\n");
    if let Some(body) = body {
        head.push_str("Content-Type: application/json\r\n");
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&out)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_response(&answer)
}

/// Connects to a Unix socket. A path too long for `sockaddr_un` (108 bytes: a deep
/// project folder) is reached through its open folder, `/proc/self/fd/N/name`.
fn connect(socket: &Path) -> std::io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    if socket.as_os_str().as_bytes().len() < 100 {
        return UnixStream::connect(socket);
    }
    let (Some(dir), Some(name)) = (socket.parent(), socket.file_name()) else {
        return UnixStream::connect(socket);
    };
    let dir = std::fs::File::open(dir)?;
    use std::os::fd::AsRawFd;
    let short = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    UnixStream::connect(short)
}

/// The CLI config's `currentContext` (`$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`), when one is set.
fn current_context() -> Option<String> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")))?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    config["currentContext"].as_str().map(str::to_string)
}

/// `HTTP/1.x <status> ...` headers, a blank line, the body. A chunked body (which an
/// HTTP/1.0 request should never get) is decoded all the same.
fn parse_response(answer: &[u8]) -> Result<(u16, Vec<u8>)> {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the engine's answer has no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let body = &answer[split + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("the engine's answer has no status: {head:.80}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok((
        status,
        if chunked {
            dechunk(body)?
        } else {
            body.to_vec()
        },
    ))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk has no size line")?;
        let size = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .context("a chunk size is not hex")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).context("a chunk is cut short")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

/// `?filters=` for a label filter, URL-encoded.
pub fn label_filter(label: &str) -> String {
    let json = serde_json::json!({ "label": [label] }).to_string();
    format!("filters={}", percent_encode(&json))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_chunked_answers_are_read() {
        let plain = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[1,2]";
        assert_eq!(parse_response(plain).unwrap(), (200, b"[1,2]".to_vec()));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (404, b"abcde".to_vec()));
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_err());
    }

    #[test]
    fn filters_are_encoded() {
        assert_eq!(
            label_filter("a.b=c d"),
            "filters=%7B%22label%22%3A%5B%22a.b%3Dc%20d%22%5D%7D"
        );
    }
}
