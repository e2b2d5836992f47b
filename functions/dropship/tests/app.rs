//! The web app as `dropship serve` hosts it: `/app/` is the embedded
//! index.html with strict headers, `/` redirects to `/app/index.html`, and
//! nothing outside the embedded files is served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_dropship");

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &std::path::Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("dropship serving http://") {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            return Server { child, addr };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve exited before listening");
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request with the path sent exactly as given (no client
/// normalises `..` away).
fn request(s: &Server, method: &str, path: &str, extra: &str) -> Reply {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n",
        s.addr
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status: status.parse().unwrap(),
        headers,
        body: body.to_owned(),
    }
}

fn get(s: &Server, path: &str) -> Reply {
    request(s, "GET", path, "")
}

#[test]
fn app_is_served_with_strict_headers_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path());

    let index = get(&s, "/app/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(index.header("cache-control"), Some("no-cache"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    let csp = index.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        index
            .body
            .contains(r#"<script type="module" src="app.js"></script>"#),
        "{}",
        index.body
    );
    assert_eq!(get(&s, "/app/index.html").body, index.body);

    // Revalidation with the ETag.
    let etag = index.header("etag").unwrap().to_owned();
    let again = request(&s, "GET", "/app/", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    for (path, ty) in [
        ("/app/app.js", "text/javascript; charset=utf-8"),
        ("/app/order.js", "text/javascript; charset=utf-8"),
        ("/app/app.css", "text/css; charset=utf-8"),
        ("/app/favicon.svg", "image/svg+xml"),
    ] {
        let r = get(&s, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ty), "{path}");
        assert!(r.header("content-security-policy").is_some(), "{path}");
    }

    for path in ["/", "/app"] {
        let r = get(&s, path);
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(r.header("location"), Some("/app/index.html"), "{path}");
    }

    for path in [
        "/app/missing.js",
        "/app/../Cargo.toml",
        "/app/..%2f..%2fCargo.toml",
        "/app/%2e%2e/events/demo-seed.json",
        "/app//etc/passwd",
    ] {
        let r = get(&s, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("[workspace]"), "{path}");
    }
    assert_eq!(request(&s, "POST", "/app/", "").status, 405);

    // The API is still where it was, and the app sits beside it.
    let me = request(
        &s,
        "GET",
        "/v1/me",
        "Authorization: Bearer demo-seller-edi-key\r\n",
    );
    assert_eq!(me.status, 200);
    assert!(me.body.contains(r#""cancel_items":false"#), "{}", me.body);
}
