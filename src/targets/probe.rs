//! stackgen's own readiness probe: one HTTP/1.0 GET to a container's address, straight from
//! this host over the bridge network. It is far faster than the engine's health check
//! (no process in the container, no interval to wait out), so a new container is known
//! to answer within a few hundred milliseconds of it doing so.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::targets::interface::Probe;

/// How long one probe of `status` may take, for the connect and again for the answer.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(800);

/// `GET path` at `address` as `status` asks it, timed: `what` it asks (`the URL`, a
/// container), and whether any answer below 500 counts (a URL: a 404 is the app's own
/// answer) or only 2xx and 3xx (a health path).
pub fn ask(what: &str, address: &str, host: Option<&str>, path: &str, any_answer: bool) -> Probe {
    let started = Instant::now();
    let answer = get(address, host, path, STATUS_TIMEOUT);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (ok, answer) = match answer {
        Ok(code) if code < 400 || (any_answer && code < 500) => (true, code.to_string()),
        Ok(code) => (false, format!("wrong answer ({code})")),
        Err(why) => (false, why),
    };
    Probe {
        what: what.to_string(),
        address: address.to_string(),
        host: host.map(str::to_string),
        path: path.to_string(),
        ok,
        answer,
        ms: (ms * 10.0).round() / 10.0,
    }
}

/// The longest wait between two tries.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Whether `GET path` at `addr` answers 2xx or 3xx within `timeout`; `Err` says why not.
pub fn http_ok(addr: &str, path: &str, timeout: Duration) -> Result<(), String> {
    match get(addr, None, path, timeout)? {
        code if (200..400).contains(&code) => Ok(()),
        code => Err(format!("answered {code}")),
    }
}

/// The status code of `GET path` at `addr` (with `host` as its Host header, else the
/// address), within `timeout` for the connect and again for the answer. `Err` says why
/// there is none in the words an operator reads: `refused`, `timeout`, `no HTTP answer`.
pub fn get(addr: &str, host: Option<&str>, path: &str, timeout: Duration) -> Result<u16, String> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad address `{addr}`: {e}"))?;
    let mut stream =
        TcpStream::connect_timeout(&parsed, timeout).map_err(|e| io_reason("connect", &e))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    let host = host.unwrap_or(addr);
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: stackgen-probe\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| io_reason("send", &e))?;
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match stream.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(io_reason("read", &e)),
        }
    }
    let line = String::from_utf8_lossy(&head[..got]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "no HTTP answer".to_string())
}

/// `refused` and `timeout` by name; any other error as the system says it.
fn io_reason(step: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "refused".into(),
        TimedOut | WouldBlock => "timeout".into(),
        _ => format!("{step}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(answer.as_bytes());
        });
        addr
    }

    #[test]
    fn a_2xx_answer_is_ready_and_others_say_why_not() {
        let t = Duration::from_secs(2);
        assert_eq!(
            http_ok(&serve_once("HTTP/1.1 200 OK\r\n\r\nhi"), "/", t),
            Ok(())
        );
        assert_eq!(
            http_ok(
                &serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n"),
                "/",
                t
            ),
            Err("answered 503".into())
        );
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert_eq!(http_ok(&closed.to_string(), "/", t), Err("refused".into()));
        // A listener that never answers: a timeout, not a hang.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let quick = Duration::from_millis(100);
        let at = silent.local_addr().unwrap().to_string();
        assert_eq!(get(&at, Some("x.test"), "/", quick), Err("timeout".into()));
    }
}
