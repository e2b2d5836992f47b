//! The web app's static files, embedded in the binary and served at `/app/`.
//!
//! Files are looked up by exact name in a fixed table, never on disk, so no
//! request path can reach anything else (`..`, encoded slashes and the like
//! simply match no entry and get a 404). The same `app/` directory is what
//! the AWS deployment uploads to S3 behind CloudFront.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode};

/// Where the app lives.
pub const PREFIX: &str = "/app/";

/// Sent with every page and asset: scripts, styles and API calls only from
/// this origin; no inline code, no framing, no plugins, no form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    etag: u64,
}

/// FNV-1a, evaluated at compile time: a strong-enough validator for ETags.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../app/", $name)),
            etag: fnv1a(include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../app/",
                $name
            ))),
        }
    };
}

/// Every file of `app/` (a test checks that none is missing).
pub const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("order.js", "text/javascript; charset=utf-8"),
    asset!("ui.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The embedded file called `name` (`""` is `index.html`).
pub fn find(name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS.iter().find(|a| a.name == name)
}

type Reply = Response<Full<Bytes>>;

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn plain(status: StatusCode, text: &'static str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    security_headers(h);
    r
}

fn redirect(to: &'static str) -> Reply {
    let mut r = plain(StatusCode::FOUND, "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

fn not_allowed() -> Reply {
    let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

fn etag_matches(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn serve_asset(asset: &Asset, method: &Method, request: &HeaderMap) -> Reply {
    let etag = format!("\"{:016x}\"", asset.etag);
    let not_modified = etag_matches(request, &etag);
    let body = if not_modified || *method == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(asset.body)
    };
    let mut r = Response::new(Full::new(body));
    if not_modified {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if *method == Method::HEAD && !not_modified {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.body.len()));
    }
    // File names carry no content hash, so every use revalidates (cheaply,
    // with the ETag) and a new build is picked up at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    security_headers(h);
    r
}

/// The reply for `path` when it belongs to the app (`/`, `/app`, `/app/...`);
/// `None` for every other path.
pub fn respond(method: &Method, path: &str, request: &HeaderMap) -> Option<Reply> {
    let readable = *method == Method::GET || *method == Method::HEAD;
    if path == "/" || path == "/app" {
        return Some(if readable {
            redirect(PREFIX)
        } else {
            not_allowed()
        });
    }
    let name = path.strip_prefix(PREFIX)?;
    if !readable {
        return Some(not_allowed());
    }
    Some(match find(name) {
        Some(asset) => serve_asset(asset, method, request),
        None => plain(StatusCode::NOT_FOUND, "not found\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Reply {
        respond(&Method::GET, path, &HeaderMap::new()).expect("an app path")
    }

    #[test]
    fn every_file_of_the_app_directory_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../app");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("app/ exists")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn paths_outside_the_table_are_not_found() {
        for p in [
            "/app/../Cargo.toml",
            "/app/..%2fCargo.toml",
            "/app/%2e%2e/Cargo.toml",
            "/app//index.html",
            "/app/index.html/",
            "/app/nope.js",
            "/app/INDEX.HTML",
        ] {
            assert_eq!(get(p).status(), StatusCode::NOT_FOUND, "{p}");
        }
        assert!(respond(&Method::GET, "/v1/orders", &HeaderMap::new()).is_none());
        assert!(respond(&Method::GET, "/application", &HeaderMap::new()).is_none());
    }

    #[test]
    fn revalidation_and_methods() {
        let first = get("/app/app.js");
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        let again = respond(&Method::GET, "/app/app.js", &h).expect("app path");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let post = respond(&Method::POST, "/app/", &HeaderMap::new()).expect("app path");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        let head = respond(&Method::HEAD, "/app/", &HeaderMap::new()).expect("app path");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(
            head.headers()[header::CONTENT_LENGTH],
            HeaderValue::from(find("").map_or(0, |a| a.body.len()))
        );
    }
}
