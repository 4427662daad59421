//! HTTPS at the edge (issue 25): a route with `tls` and no files gets a certificate
//! from stackgen's local CA, which a client trusting only that root accepts; plain HTTP
//! on the route redirects; replacing the certificate with files is a seamless reload
//! under `wrk` over HTTPS (64 keep-alive connections) with a server-sent-events stream
//! open over TLS: no request fails, the stream keeps flowing.
//!
//! Real engine, real HAProxy, real curl; fails (never skips) without the engine.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::traffic::{Wrk, free_port, write_app};
use common::{E2eStack, assert_exit, stderr, stdout};

/// `curl` trusting only `ca` (no system store): (exit code, body or error).
fn curl_trusting(ca: &std::path::Path, url: &str) -> (i32, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            "--capath",
            "/nonexistent",
            "--cacert",
        ])
        .arg(ca)
        .arg(url)
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    });
    (out.status.code().unwrap_or(-1), text.trim().to_string())
}

#[test]
fn https_from_the_local_ca_redirects_plain_http_and_a_new_certificate_drops_nothing() {
    let stack = E2eStack::new("tls");
    let (plain, secure) = (free_port(), free_port());
    write_app(&stack.project);
    let tls_local = format!("tls = {{ publish = {secure} }}");
    stack.project.edit_stack(|text| {
        text.to_string()
            + &format!(
                "\n[services.traffic]\nkind = \"python-web\"\nbuild = \"traffic\"\nport = 8000\n\
                 publish = {plain}\n{tls_local}\n"
            )
    });
    let (out, urls) = stack.up();
    let https = format!("https://127.0.0.1:{secure}/");
    assert_eq!(urls["traffic"], https, "urls know the HTTPS route");
    let root = stack.project.file(".stackgen/ca/root.crt");
    assert!(
        stderr(&out).contains("made a local CA for HTTPS: clients trust `.stackgen/ca/root.crt`"),
        "up says which root to trust: {}",
        stderr(&out)
    );
    let pem = stack.project.read(".stackgen/ca/root.crt");
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----") && stderr(&out).contains(pem.trim_end()),
        "and prints it: {}",
        stderr(&out)
    );

    // A client that trusts only stackgen's root gets the answer; one that does not, not.
    assert_eq!(
        curl_trusting(&root, &https),
        (0, "Hello, world!".to_string())
    );
    let (code, _) = curl_trusting(&stack.project.file("stack.toml"), &https);
    assert_ne!(
        code, 0,
        "a client without stackgen's root refuses the certificate"
    );

    // Plain HTTP on the route redirects to the same host and path over HTTPS.
    let head = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!("http://127.0.0.1:{plain}/slow?s=0"))
        .output()
        .expect("run curl");
    assert_eq!(
        String::from_utf8_lossy(&head.stdout),
        format!("308 https://127.0.0.1:{secure}/slow?s=0")
    );
    let status = stack.project.stackgen(&["status"]);
    assert_exit(&status, 0);
    assert!(
        stdout(&status).contains(&https),
        "status shows the HTTPS URL: {}",
        stdout(&status)
    );

    // A certificate of one's own, from files, replaces the CA's: under load over HTTPS
    // with a stream open over TLS, nothing fails and the stream keeps flowing.
    let own =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("a certificate");
    stack.project.write("certs/own.crt", &own.cert.pem());
    stack
        .project
        .write("certs/own.key", &own.signing_key.serialize_pem());
    let tls_files = format!(
        "tls = {{ publish = {secure}, cert = \"certs/own.crt\", key = \"certs/own.key\" }}"
    );
    stack
        .project
        .edit_stack(|t| t.replace(&tls_local, &tls_files));
    let mut stream = Command::new("curl")
        .args(["-sSN", "--capath", "/nonexistent", "--cacert"])
        .arg(&root)
        .arg(format!("{https}sse"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run curl for the stream");
    let events = Arc::new(AtomicU64::new(0));
    let counted = events.clone();
    let lines = BufReader::new(stream.stdout.take().expect("its output"));
    let reader = std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            if line.starts_with("data: ") {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    let load = Wrk::start(&https, 64, 10);
    std::thread::sleep(Duration::from_secs(1));
    let up = stack.project.stackgen(&["up"]);
    let load = load.finish();
    assert_exit(&up, 0);
    assert!(
        stderr(&up).contains("a certificate changed: reloading the edge"),
        "{}",
        stderr(&up)
    );
    assert!(load.requests > 1_000, "the load ran: {}", load.output);
    assert_eq!(
        load.failed,
        0,
        "no request failed: {}\n{}",
        load.output,
        stderr(&up)
    );
    let before = events.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        events.load(Ordering::SeqCst) > before && stream.try_wait().expect("poll").is_none(),
        "the stream opened before the new certificate still flows"
    );
    let _ = stream.kill();
    let _ = stream.wait();
    let _ = reader.join();

    // New connections get the new certificate; the next `up` changes nothing.
    let own_cert = stack.project.file("certs/own.crt");
    assert_eq!(
        curl_trusting(&own_cert, &https),
        (0, "Hello, world!".to_string())
    );
    let again = stack.project.stackgen(&["up"]);
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("nothing changed"),
        "{}",
        stderr(&again)
    );
}
