//! A bounded request loop on loopback: one GET every 20 ms to a URL, each on a new TCP
//! connection, until it is stopped or hits its own bounds (a count and a time), counting
//! every answer that is not `200 Hello, world!` and the longest time without a good one.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(20);
/// Bounds: it stops by itself even if a test never stops it.
const MAX_REQUESTS: u32 = 30_000;
const MAX_TIME: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
pub struct Report {
    pub ok: u32,
    pub failed: u32,
    /// The longest stretch with no good answer, from the last good one.
    pub longest_outage: Duration,
    /// The first few failures, as read.
    pub errors: Vec<String>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Report>,
}

impl Load {
    /// Starts the loop against `url` (`http://127.0.0.1:port/`).
    pub fn start(url: &str) -> Load {
        let addr = url
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .expect("an http URL")
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || run(&addr, &flag));
        // Let it see the stack answer before the test changes anything.
        std::thread::sleep(Duration::from_millis(200));
        Load { stop, thread }
    }

    pub fn finish(self) -> Report {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the load thread")
    }
}

fn run(addr: &str, stop: &AtomicBool) -> Report {
    let mut report = Report::default();
    let started = Instant::now();
    let mut last_ok = Instant::now();
    while !stop.load(Ordering::SeqCst)
        && report.ok + report.failed < MAX_REQUESTS
        && started.elapsed() < MAX_TIME
    {
        let t = Instant::now();
        match once(addr) {
            Ok(()) => {
                report.ok += 1;
                last_ok = Instant::now();
            }
            Err(e) => {
                report.failed += 1;
                if report.errors.len() < 5 {
                    report.errors.push(e);
                }
                report.longest_outage = report.longest_outage.max(last_ok.elapsed());
            }
        }
        if let Some(rest) = INTERVAL.checked_sub(t.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    report
}

fn once(addr: &str) -> Result<(), String> {
    let timeout = Duration::from_secs(5);
    let sock = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.write_all(format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    if answer.starts_with("HTTP/1.1 200") && answer.ends_with("Hello, world!") {
        Ok(())
    } else {
        Err(answer.chars().take(80).collect())
    }
}
