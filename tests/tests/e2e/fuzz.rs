//! The short, stable fuzz run of the test suite: the same oracles
//! as the libFuzzer targets in `fuzz/` (see `fuzz/checks.rs`), fed with
//!
//! - every seed in `fuzz/seeds/<target>/` and every past crash in
//!   `fuzz/regressions/<target>/` (replayed as they are);
//! - proptest-generated inputs: seeds with random byte edits, seeds with a
//!   random JSON value put in place of one of their values (for X12: a
//!   random value in place of one element, a segment dropped or repeated,
//!   or an ISA text field unpadded), and raw bytes.
//!
//! `FUZZ_CASES` sets the generated cases per target (default 1000 for the
//! parsers, 200 for the API, whose every case seeds a fresh store). The long
//! run is libFuzzer's: `scripts/fuzz.sh` (see BENCHMARKS.md).

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let s: Vec<_> = files(&fuzz_dir().join("seeds").join(target))
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    assert!(!s.is_empty(), "no seeds for {target}");
    s
}

/// Replay the seeds and past crashes of `target` through `check`.
fn replay(target: &str, check: fn(&[u8])) {
    for dir in ["seeds", "regressions"] {
        for (name, data) in files(&fuzz_dir().join(dir).join(target)) {
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{name} fails its check");
        }
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A JSON value of any shape, with the edge cases parsers trip on.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(u32::MAX as i64 + 1)
        ]
        .prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just(""),
            Just(" "),
            Just("-1"),
            Just("1e3"),
            Just("0x10"),
            Just("\u{0}")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Put `v` in place of the `n`-th value (depth-first) of `doc`.
fn replace_nth(doc: &mut Value, n: &mut usize, v: &Value) -> bool {
    if *n == 0 {
        *doc = v.clone();
        return true;
    }
    *n -= 1;
    match doc {
        Value::Array(a) => a.iter_mut().any(|x| replace_nth(x, n, v)),
        Value::Object(o) => o.values_mut().any(|x| replace_nth(x, n, v)),
        _ => false,
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match *e {
            Edit::Set(i, b) if !data.is_empty() => data[i % len] = b,
            Edit::Insert(i, b) => data.insert(i % (data.len() + 1), b),
            Edit::Remove(i) if !data.is_empty() => {
                data.remove(i % len);
            }
            Edit::Truncate(i) => data.truncate(i % len),
            _ => {}
        }
    }
    data
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Inputs for a target whose first `prefix` bytes are a selector (kept, or
/// randomised) and whose rest is a JSON body.
fn inputs(seeds: Vec<Vec<u8>>, prefix: usize) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let pick = seeds.clone();
    let byte_edits = (0..n, prop::collection::vec(edit(), 1..6))
        .prop_map(move |(i, edits)| apply(pick[i].clone(), &edits));
    let pick = seeds;
    let json_edits = (0..n, any::<usize>(), json_value(), any::<Option<u8>>()).prop_map(
        move |(i, at, v, selector)| {
            let seed = &pick[i];
            let (head, body) = seed.split_at(prefix.min(seed.len()));
            let mut head = head.to_vec();
            if let (Some(s), Some(h)) = (selector, head.first_mut()) {
                *h = s;
            }
            let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
                return seed.clone();
            };
            let mut count = 0usize;
            count_values(&doc, &mut count);
            let mut k = at % count.max(1);
            replace_nth(&mut doc, &mut k, &v);
            head.extend(serde_json::to_vec(&doc).unwrap());
            head
        },
    );
    prop_oneof![
        4 => json_edits,
        3 => byte_edits,
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn count_values(doc: &Value, n: &mut usize) {
    *n += 1;
    match doc {
        Value::Array(a) => a.iter().for_each(|x| count_values(x, n)),
        Value::Object(o) => o.values().for_each(|x| count_values(x, n)),
        _ => {}
    }
}

/// An X12 element value: codes and numbers the readers branch on, and
/// delimiters, line ends and other bytes they must survive.
fn x12_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "01",
            "04",
            "05",
            "DI",
            "QD",
            "CA",
            "QI",
            "IR",
            "ID",
            "IQ",
            "IA",
            "IB",
            "PC",
            "PR",
            "FA",
            "860",
            "855",
            "865",
            "997",
            "004010",
            "0",
            "1",
            "2",
            "999999999",
            "4294967296",
            "3.0",
            "1.5",
            "-1",
        ])
        .prop_map(str::to_owned),
        "[0-9]{0,10}",
        "[*~^>|:\r\n a-zA-Z0-9\u{0}\u{85}é]{0,12}",
    ]
}

#[derive(Debug, Clone)]
enum SegmentEdit {
    /// Put a value in place of element `n` of segment `i` (or add it).
    Element(usize, usize, String),
    Drop(usize),
    Repeat(usize),
    /// Trim the padding of one of the ISA's text fields (ISA02, 04, 06, 08).
    UnpadIsa(usize),
}

/// The seed's element separator and segment terminator (`*`, `~` when it
/// does not parse).
fn seed_delimiters(seed: &[u8]) -> (char, char) {
    edi::parse_interchange(seed).map_or(('*', '~'), |ic| {
        (
            char::from(ic.delimiters.element),
            char::from(ic.delimiters.segment),
        )
    })
}

/// The seed edited segment by segment, with its own delimiters.
fn edit_segments(seed: &[u8], edits: &[SegmentEdit]) -> Vec<u8> {
    let (element, terminator) = seed_delimiters(seed);
    let text = String::from_utf8_lossy(seed);
    let mut segments: Vec<String> = text
        .split_inclusive(terminator)
        .map(str::to_owned)
        .collect();
    let mut e_buf = [0u8; 4];
    let element_str: &str = element.encode_utf8(&mut e_buf);
    for e in edits {
        let len = segments.len().max(1);
        match e {
            SegmentEdit::UnpadIsa(k) if !segments.is_empty() => {
                let n = [2, 4, 6, 8][k % 4];
                let mut parts: Vec<String> =
                    segments[0].split(element).map(str::to_owned).collect();
                if let Some(p) = parts.get_mut(n) {
                    let trimmed = p.trim_end();
                    *p = if trimmed.is_empty() { " " } else { trimmed }.to_owned();
                }
                segments[0] = parts.join(element_str);
            }
            // The ISA's other fields keep their width: byte edits cover them.
            SegmentEdit::Element(i, n, v) if i % len != 0 && !segments.is_empty() => {
                let seg = &mut segments[i % len];
                let body = seg.trim_end_matches([terminator, '\r', '\n']);
                let tail = seg[body.len()..].to_owned();
                let mut parts: Vec<String> = body.split(element).map(str::to_owned).collect();
                let at = 1 + n % parts.len();
                if at < parts.len() {
                    parts[at] = v.clone();
                } else {
                    parts.push(v.clone());
                }
                *seg = parts.join(element_str) + &tail;
            }
            SegmentEdit::Drop(i) if segments.len() > 1 => {
                segments.remove(1 + i % (segments.len() - 1));
            }
            SegmentEdit::Repeat(i) if !segments.is_empty() => {
                let seg = segments[i % len].clone();
                segments.insert(i % len, seg);
            }
            _ => {}
        }
    }
    segments.concat().into_bytes()
}

/// Inputs for the X12 target: seeds edited by segment or by byte, and raw
/// bytes.
fn x12_inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    let pick = seeds.clone();
    let byte_edits = (0..n, prop::collection::vec(edit(), 1..6))
        .prop_map(move |(i, edits)| apply(pick[i].clone(), &edits));
    let segment_edit = prop_oneof![
        4 => (any::<usize>(), any::<usize>(), x12_value())
            .prop_map(|(i, n, v)| SegmentEdit::Element(i, n, v)),
        1 => any::<usize>().prop_map(SegmentEdit::Drop),
        1 => any::<usize>().prop_map(SegmentEdit::Repeat),
        1 => any::<usize>().prop_map(SegmentEdit::UnpadIsa),
    ];
    let pick = seeds;
    let segment_edits = (0..n, prop::collection::vec(segment_edit, 1..4))
        .prop_map(move |(i, edits)| edit_segments(&pick[i], &edits));
    prop_oneof![
        4 => segment_edits,
        3 => byte_edits,
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn run(target: &str, prefix: usize, default_cases: u32, check: fn(&[u8])) {
    run_with(target, inputs(seeds(target), prefix), default_cases, check);
}

fn run_with(
    target: &str,
    inputs: impl Strategy<Value = Vec<u8>>,
    default_cases: u32,
    check: fn(&[u8]),
) {
    replay(target, check);
    let mut runner = TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&inputs, |data| {
        check(&data);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{target}: {e}\n(add the minimal input to fuzz/regressions/{target}/ once fixed)");
    }
}

#[test]
fn shopify_parse() {
    run("shopify_parse", 1, 1000, checks::shopify_parse);
}

#[test]
fn woocommerce_parse() {
    run("woocommerce_parse", 0, 1000, checks::woocommerce_parse);
}

#[test]
fn bigcommerce_parse() {
    run("bigcommerce_parse", 0, 1000, checks::bigcommerce_parse);
}

#[test]
fn api_bodies() {
    run("api_body", 1, 200, checks::api_body);
}

#[test]
fn edi_parse() {
    run_with(
        "edi_parse",
        x12_inputs(seeds("edi_parse")),
        1000,
        checks::edi_parse,
    );
}
