//! What real clients send, against 127.0.0.1 only: `wrk` (it never retries) with many
//! keep-alive connections, GETs and POSTs, every answer's body checked; and long-lived
//! connections, a WebSocket sending a message every 100 ms and a server-sent-events
//! stream, each recording which container answered and how it ended.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The test-only app (tests/fixtures/traffic/) as the tests write it into a project.
pub const APP: &str = include_str!("../fixtures/traffic/app.py");
const DOCKERFILE: &str = include_str!("../fixtures/traffic/Dockerfile");

/// Writes the test-only app into `project` as the build folder `traffic/`.
pub fn write_app(project: &super::TestProject) {
    project.write("traffic/app.py", APP);
    project.write("traffic/Dockerfile", DOCKERFILE);
}

/// A free loopback port, for a fixed `publish` the test chooses.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// wrk's Lua: every fourth request a POST to /echo; each answer's body checked (GET:
/// `Hello, world!`, POST: what was sent), the wrong ones counted across threads.
const SCRIPT: &str = r#"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) n = 0; bad = 0; posts = 0 end
function request()
  n = n + 1
  if n % 4 == 0 then
    posts = posts + 1
    return wrk.format("POST", "/echo", {["Content-Type"] = "text/plain"}, "stackgen post")
  end
  return wrk.format("GET", "/")
end
function response(status, headers, body)
  if body ~= "Hello, world!" and body ~= "stackgen post" then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b, p = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); p = p + t:get("posts") end
  io.write(string.format("stackgen: bad=%d posts=%d p99us=%d p50us=%d\n", b, p,
    latency:percentile(99), latency:percentile(50)))
end
"#;

/// What one wrk run saw.
#[derive(Debug, Default, Clone)]
pub struct WrkReport {
    pub requests: u64,
    pub posts: u64,
    /// Connect, read, write and timeout errors, and non-2xx answers, and wrong bodies.
    pub failed: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub output: String,
}

pub struct Wrk {
    child: Child,
    _script: tempfile::NamedTempFile,
}

impl Wrk {
    /// `connections` keep-alive connections on 2 threads against `url` for `seconds`,
    /// unthrottled: as fast as this machine goes.
    pub fn start(url: &str, connections: u32, seconds: u32) -> Wrk {
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
            "load goes to loopback only: {url}"
        );
        Wrk::spawn(url, connections, seconds)
    }

    /// As [`Wrk::start`], against a node of the test's own rig (an address on this
    /// machine's private veth, never routed off it), until [`Wrk::stop`].
    pub fn start_on_node(nodes: &super::nodes::Nodes, url: &str, connections: u32) -> Wrk {
        assert!(
            (1..=3).any(|i| url.starts_with(&format!("http://{}:", nodes.address(i)))),
            "load goes to the rig's nodes only: {url}"
        );
        Wrk::spawn(url, connections, 900)
    }

    /// Ends the run now (wrk reports what it saw on SIGINT) and reads its report.
    pub fn stop(self) -> WrkReport {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        self.finish()
    }

    fn spawn(url: &str, connections: u32, seconds: u32) -> Wrk {
        let mut script = tempfile::NamedTempFile::new().expect("a script file");
        script
            .write_all(SCRIPT.as_bytes())
            .expect("write the script");
        let child = Command::new("wrk")
            .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s")])
            .args(["--timeout", "5s", "-s"])
            .arg(script.path())
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run wrk (scripts/ensure-tools.sh test installs it)");
        Wrk {
            child,
            _script: script,
        }
    }

    /// Waits for the run to end and reads its report.
    pub fn finish(self) -> WrkReport {
        let out = self.child.wait_with_output().expect("wait for wrk");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse(&text)
    }
}

fn parse(text: &str) -> WrkReport {
    let number_after = |key: &str| -> u64 {
        text.split(key)
            .nth(1)
            .and_then(|rest| {
                let digits: String = rest
                    .trim_start()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .unwrap_or(0)
    };
    let socket_errors = ["connect ", "read ", "write ", "timeout "]
        .iter()
        .map(|k| {
            text.lines()
                .find(|l| l.contains("Socket errors"))
                .map_or(0, |l| {
                    l.split(k)
                        .nth(1)
                        .and_then(|r| r.split(',').next())
                        .and_then(|n| n.trim().parse::<u64>().ok())
                        .unwrap_or(0)
                })
        })
        .sum::<u64>();
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    WrkReport {
        requests,
        posts: number_after("posts="),
        failed: socket_errors + number_after("Non-2xx or 3xx responses:") + number_after("bad="),
        p50: Duration::from_micros(number_after("p50us=")),
        p99: Duration::from_micros(number_after("p99us=")),
        output: text.to_string(),
    }
}

/// How a long-lived connection went.
#[derive(Debug, Default, Clone)]
pub struct StreamReport {
    /// Messages (WebSocket echoes, SSE events) received.
    pub received: u64,
    /// The containers that answered, in order of first answer.
    pub containers: Vec<String>,
    /// How it ended when the client did not end it: a close frame's code, the stream's
    /// last event, or the error.
    pub ended: Option<String>,
    /// When it ended, from its start.
    pub ended_after: Option<Duration>,
}

pub struct Stream {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<StreamReport>,
}

impl Stream {
    /// A WebSocket to `<url>ws`, one text message every 100 ms, each echo checked.
    pub fn websocket(url: &str) -> Stream {
        let url = format!("{}ws", url.replacen("http://", "ws://", 1));
        Stream::spawn(move |stop| websocket(&url, stop))
    }

    /// A server-sent-events stream from `<url>sse`.
    pub fn events(url: &str) -> Stream {
        let addr = address(url);
        Stream::spawn(move |stop| events(&addr, stop))
    }

    fn spawn(run: impl FnOnce(&AtomicBool) -> StreamReport + Send + 'static) -> Stream {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || run(&flag));
        Stream { stop, thread }
    }

    /// Closes it (if it is still open) and reports.
    pub fn finish(self) -> StreamReport {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the stream's thread")
    }
}

fn address(url: &str) -> String {
    url.strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .expect("an http URL")
        .to_string()
}

fn seen(report: &mut StreamReport, container: &str) {
    if !report.containers.iter().any(|c| c == container) {
        report.containers.push(container.to_string());
    }
}

fn websocket(url: &str, stop: &AtomicBool) -> StreamReport {
    use tungstenite::Message;
    let mut report = StreamReport::default();
    let started = Instant::now();
    let tcp = TcpStream::connect(address(&url.replacen("ws://", "http://", 1))).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let (mut ws, _) = tungstenite::client(url, tcp).expect("a WebSocket handshake");
    let end = |report: &mut StreamReport, why: String| {
        report.ended = Some(why);
        report.ended_after = Some(started.elapsed());
    };
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if let Err(e) = ws.send(Message::text(n.to_string())) {
            end(&mut report, format!("send failed: {e}"));
            return report;
        }
        match ws.read() {
            Ok(Message::Text(t)) => match t.as_str().rsplit_once(':') {
                Some((container, echo)) if echo == n.to_string() => {
                    seen(&mut report, container);
                    report.received += 1;
                }
                _ => {
                    end(&mut report, format!("wrong echo `{t}` for {n}"));
                    return report;
                }
            },
            Ok(Message::Close(frame)) => {
                let code = frame.map_or("no code".into(), |f| u16::from(f.code).to_string());
                end(&mut report, format!("closed by the server: {code}"));
                return report;
            }
            Ok(_) => {}
            Err(e) => {
                end(&mut report, format!("read failed: {e}"));
                return report;
            }
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = ws.close(None);
    report
}

fn events(addr: &str, stop: &AtomicBool) -> StreamReport {
    let mut report = StreamReport::default();
    let started = Instant::now();
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        tcp,
        "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("send the request");
    let mut lines = BufReader::new(tcp);
    let mut line = String::new();
    let mut last_event = String::new();
    while !stop.load(Ordering::SeqCst) {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => {
                report.ended = Some(format!("closed by the server after `{last_event}`"));
                report.ended_after = Some(started.elapsed());
                return report;
            }
            Ok(_) => {
                if let Some(event) = line.trim_end().strip_prefix("event: ") {
                    last_event = event.to_string();
                }
                if last_event == "end" && line.starts_with("data: ") {
                    report.ended = Some("ended by the server (event: end)".into());
                    report.ended_after = Some(started.elapsed());
                    return report;
                }
                // A chunked body: an event's data line, among the chunk sizes.
                if let Some(data) = line.trim_end().strip_prefix("data: ")
                    && let Some((container, _)) = data.split_once(' ')
                    && last_event.is_empty()
                {
                    seen(&mut report, container);
                    report.received += 1;
                }
            }
            Err(e) => {
                report.ended = Some(format!("read failed: {e}"));
                report.ended_after = Some(started.elapsed());
                return report;
            }
        }
    }
    report
}
