//! The web app (`app/`): its files embedded in the binary and served under
//! `/app/` on the API's own origin, so the app calls the API without CORS.
//! One function from a `lambda_http::Request` to a response, hosted by the
//! `cancellation-api` Lambda (the HttpApi's `ROUTES` below) and by
//! `dropship serve` alike.
//!
//! Files are looked up by exact name in a fixed table, never on disk, so no
//! request path can reach anything else (`..`, encoded slashes and the like
//! simply match no entry and get a 404).

use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

use crate::response::HttpResponse;

/// Where the app lives.
pub const PREFIX: &str = "/app/";

/// The app's entry page: what `/` and `/app` redirect to. Named in full
/// because API Gateway routes `/app/{proxy+}` only with a file name after
/// the prefix (`/app/` alone is no route there).
pub const ENTRY: &str = "/app/index.html";

/// The HttpApi routes that serve the app, as (method, path template), all
/// to the `cancellation-api` function: the source of truth the SAM template
/// is checked against. `dropship serve` also answers `HEAD` and `/app/`.
pub const ROUTES: &[(&str, &str)] = &[("GET", "/"), ("GET", "/app"), ("GET", "/app/{proxy+}")];

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
    asset!("scorecard.js", "text/javascript; charset=utf-8"),
    // Chart.js 4.6.2 (MIT), the scorecard's charts: dist/chart.umd.min.js of
    // `npm pack chart.js@4.6.2` (registry.npmjs.org), unchanged. It runs under
    // the CSP as is: no eval, no injected <style>, styles set through the CSSOM.
    asset!("chart.umd.min.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The embedded file called `name` (`""` is `index.html`).
pub fn find(name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS.iter().find(|a| a.name == name)
}

/// Whether `path` belongs to the app (`/`, `/app`, `/app/...`): what a host
/// hands to `handle` rather than to the API.
pub fn serves(path: &str) -> bool {
    path == "/" || path == "/app" || path.starts_with(PREFIX)
}

/// Answer one request for a path of the app (see `serves`); any other path
/// is a plain 404. Reads no body and never fails.
pub fn handle(req: &Request) -> HttpResponse {
    respond(req.method(), req.uri().path(), req.headers())
}

fn respond(method: &Method, path: &str, request: &HeaderMap) -> HttpResponse {
    let readable = *method == Method::GET || *method == Method::HEAD;
    if path == "/" || path == "/app" {
        return if readable {
            redirect(ENTRY)
        } else {
            not_allowed()
        };
    }
    let Some(name) = path.strip_prefix(PREFIX) else {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    };
    if !readable {
        return not_allowed();
    }
    match find(name) {
        Some(asset) => serve_asset(asset, method, request),
        None => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

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

fn plain(status: StatusCode, text: &'static str) -> HttpResponse {
    let body = if text.is_empty() {
        Body::Empty
    } else {
        Body::Text(text.to_owned())
    };
    let mut r = Response::new(body);
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

fn redirect(to: &'static str) -> HttpResponse {
    let mut r = plain(StatusCode::FOUND, "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

fn not_allowed() -> HttpResponse {
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

/// A file's bytes as a response body: text where they are UTF-8 (every
/// file of the app is), so API Gateway passes them on without base64.
fn body_of(bytes: &'static [u8]) -> Body {
    match std::str::from_utf8(bytes) {
        Ok(text) => Body::Text(text.to_owned()),
        Err(_) => Body::Binary(bytes.to_vec()),
    }
}

fn serve_asset(asset: &Asset, method: &Method, request: &HeaderMap) -> HttpResponse {
    let etag = format!("\"{:016x}\"", asset.etag);
    let not_modified = etag_matches(request, &etag);
    let body = if not_modified || *method == Method::HEAD {
        Body::Empty
    } else {
        body_of(asset.body)
    };
    let mut r = Response::new(body);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, headers: HeaderMap) -> Request {
        let mut req = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .expect("a request");
        *req.headers_mut() = headers;
        req
    }

    fn get(path: &str) -> HttpResponse {
        handle(&request(Method::GET, path, HeaderMap::new()))
    }

    fn text(r: &HttpResponse) -> &str {
        match r.body() {
            Body::Text(t) => t,
            _ => "",
        }
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
            "/v1/orders",
        ] {
            assert_eq!(get(p).status(), StatusCode::NOT_FOUND, "{p}");
        }
        assert!(!serves("/v1/orders"));
        assert!(!serves("/application"));
        assert!(!serves("/webhooks/shopify"));
    }

    #[test]
    fn the_entry_and_its_redirects() {
        for p in ["/", "/app"] {
            assert!(serves(p));
            let r = get(p);
            assert_eq!(r.status(), StatusCode::FOUND, "{p}");
            assert_eq!(r.headers()[header::LOCATION], ENTRY);
        }
        let entry = get(ENTRY);
        assert_eq!(entry.status(), StatusCode::OK);
        assert!(text(&entry).starts_with("<!doctype html>"));
        assert_eq!(text(&get(PREFIX)), text(&entry));
        // Every route of the HttpApi reaches this handler's files.
        for (method, template) in ROUTES {
            assert_eq!(*method, "GET");
            let path = template.replace("{proxy+}", "index.html");
            assert!(serves(&path), "{path}");
            assert!(get(&path).status().is_success() || get(&path).status().is_redirection());
        }
        assert!(
            ENTRY
                .strip_prefix(PREFIX)
                .is_some_and(|f| find(f).is_some())
        );
    }

    #[test]
    fn headers_of_every_answer() {
        for p in ["/", "/app/", "/app/app.js", "/app/favicon.svg", "/app/nope"] {
            let r = get(p);
            let h = r.headers();
            assert_eq!(
                h[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY,
                "{p}"
            );
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{p}");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{p}");
            assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{p}");
        }
        let js = get("/app/app.js");
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(js.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(matches!(js.body(), Body::Text(_)), "text, not base64");
    }

    #[test]
    fn revalidation_and_methods() {
        let first = get("/app/app.js");
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        let again = handle(&request(Method::GET, "/app/app.js", h));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(matches!(again.body(), Body::Empty));
        let post = handle(&request(Method::POST, "/app/", HeaderMap::new()));
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
        let post_root = handle(&request(Method::POST, "/", HeaderMap::new()));
        assert_eq!(post_root.status(), StatusCode::METHOD_NOT_ALLOWED);
        let head = handle(&request(Method::HEAD, "/app/", HeaderMap::new()));
        assert_eq!(head.status(), StatusCode::OK);
        assert!(matches!(head.body(), Body::Empty));
        assert_eq!(
            head.headers()[header::CONTENT_LENGTH],
            HeaderValue::from(find("").map_or(0, |a| a.body.len()))
        );
    }
}
