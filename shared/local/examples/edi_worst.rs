//! Peak memory and time of the EDI worst cases at the byte limit, through
//! the local watcher (size check, read, parse, check, apply, answers) on
//! an in-memory SQLite store:
//!
//!   cargo run --release -p local --example edi_worst [-- RUNS]
//!
//! Each case runs in a fresh process (this one started again with the
//! case's name), so memory freed by an earlier case cannot hide growth.
//! The peak is VmHWM after the pass less VmRSS before it (the peak reset
//! with `/proc/self/clear_refs` once the file is on disk). Linux only.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use local::edi::EdiWatcher;
use local::seed::{self, SeedFile};
use service::Core;
use service::edi::EdiService;
use sqlite::EmbeddedStore;

const CASES: [(&str, &str); 7] = [
    ("wide", "one segment of ~10.5 million empty elements"),
    ("tiny", "~1.75 million 6-byte segments (over 100,000)"),
    ("segments", "99,984 segments of ~100 bytes in 10 sets"),
    ("sets", "5,000 sets, each cancelling PO-1001 (applied once)"),
    ("unknown", "5,000 sets for unknown POs (one 824)"),
    ("too-many-sets", "5,001 small sets (over 5,000)"),
    ("sparse", "a 512 MiB sparse file (over the byte limit)"),
];

const ISA: &str = "ISA*00*          *00*          *ZZ*ACMEEDI        *ZZ*DROPSHIP       *260310*0930*U*00401*000000101*1*P*>~";

/// A group of `sets` 860s (each the segments between ST and SE) in an
/// interchange from buyer-edi that asks for a TA1.
fn interchange(sets: &[Vec<String>]) -> Vec<u8> {
    let mut x = format!("{ISA}GS*PC*ACMEEDI*DROPSHIP*20260310*0930*101*X*004010~");
    for (n, body) in sets.iter().enumerate() {
        x.push_str(&format!("ST*860*{:04}~", n + 1));
        for s in body {
            x.push_str(s);
            x.push('~');
        }
        x.push_str(&format!("SE*{}*{:04}~", body.len() + 2, n + 1));
    }
    x.push_str(&format!("GE*{}*101~IEA*1*000000101~", sets.len()));
    x.into_bytes()
}

fn cancel(po: &str, msgs: usize, width: usize) -> Vec<String> {
    let mut set = vec![format!("BCH*01*SA*{po}***20260301"), "N9*L1*REASON".into()];
    set.extend((0..msgs).map(|_| format!("MSG*{}", "x".repeat(width))));
    set
}

/// The case's file, or `None` for the sparse one (made on disk).
fn file(case: &str) -> Option<Vec<u8>> {
    let limit = edi::MAX_BYTES;
    Some(match case {
        "wide" => {
            let head = format!(
                "{ISA}GS*PC*ACMEEDI*DROPSHIP*20260310*0930*101*X*004010~ST*860*0001~BCH*01*SA*PO-1001***20260301~N9*L1"
            );
            let tail = "~SE*4*0001~GE*1*101~IEA*1*000000101~";
            let mut b = head.into_bytes();
            b.resize(limit - tail.len(), b'*');
            b.extend_from_slice(tail.as_bytes());
            b
        }
        "tiny" => {
            let head = format!(
                "{ISA}GS*PC*ACMEEDI*DROPSHIP*20260310*0930*101*X*004010~ST*860*0001~BCH*01*SA*PO-1001***20260301~"
            );
            let mut b = head.into_bytes();
            while b.len() + 6 <= limit {
                b.extend_from_slice(b"N9*L1~");
            }
            b
        }
        "segments" => interchange(&vec![cancel("PO-1001", 9_994, 90); 10]),
        "sets" => interchange(&vec![cancel("PO-1001", 8, 240); 5_000]),
        "unknown" => interchange(
            &(0..5_000)
                .map(|n| cancel(&format!("PO-X{n}"), 8, 240))
                .collect::<Vec<_>>(),
        ),
        "too-many-sets" => interchange(&vec![cancel("PO-1001", 0, 0); 5_001]),
        _ => return None,
    })
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// What the partner got back: each answer's name and its verdict.
fn answers(edi: &Path) -> String {
    let dir = edi.join("outbound/buyer-edi");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let verdict = |name: &str| -> String {
        let Ok(bytes) = std::fs::read(dir.join(name)) else {
            return String::new();
        };
        let Ok(ic) = edi::parse_interchange(&bytes) else {
            return "unreadable".into();
        };
        if let Some(ta1) = ic.ta1s.first() {
            return format!("TA1 {}", ta1.element(5));
        }
        let segs = ic.groups.first().and_then(|g| g.sets.first());
        let of = |id: &str| segs.map_or(0, |s| s.segments.iter().filter(|x| x.id == id).count());
        let ak9 = segs
            .and_then(|s| s.segments.iter().find(|x| x.id == "AK9"))
            .map(|s| s.element(1).to_owned());
        match ak9 {
            Some(status) => format!("997 AK9 {status}, {} AK5", of("AK5")),
            None => format!("824, {} OTI", of("OTI")),
        }
    };
    let all: Vec<String> = names.iter().map(|n| verdict(n)).collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join("; ")
    }
}

/// One case in this process: `grew_kib elapsed_ms answers` on stdout.
fn run(case: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let store = EmbeddedStore::in_memory().map_err(|e| e.to_string())?;
        let seed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/edi/seed.json");
        let text = std::fs::read_to_string(seed_path).map_err(|e| e.to_string())?;
        let seed_file = SeedFile::parse(&text).map_err(|e| e.to_string())?;
        seed::apply(&store, &seed_file)
            .await
            .map_err(|e| e.to_string())?;
        let edi = local::edi::edi_dir(dir.path());
        let ports = local::edi::ports(&store, &edi, edi::IsaId::dropship());
        let mut watcher = EdiWatcher::new(EdiService::new(Core::new(store.clone()), ports), &edi);
        watcher.settle = Duration::ZERO;
        let inbound = edi.join("inbound/buyer-edi");
        std::fs::create_dir_all(&inbound).map_err(|e| e.to_string())?;
        let path = inbound.join("case.x12");
        match file(case) {
            Some(bytes) => std::fs::write(&path, bytes).map_err(|e| e.to_string())?,
            None => {
                std::fs::write(&path, ISA).map_err(|e| e.to_string())?;
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(512 << 20))
                    .map_err(|e| e.to_string())?;
            }
        }
        std::fs::write("/proc/self/clear_refs", "5").map_err(|e| e.to_string())?;
        let before = status_kib("VmRSS:");
        let t = Instant::now();
        let pass = watcher.pass().await;
        let elapsed = t.elapsed();
        let grew = status_kib("VmHWM:").saturating_sub(before);
        if pass.processed != 1 {
            return Err(format!("{case}: {pass:?}"));
        }
        println!(
            "{grew} {:.1} {}",
            elapsed.as_secs_f64() * 1e3,
            answers(&edi)
        );
        Ok(())
    })
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(case) = args.iter().find_map(|a| a.strip_prefix("--case=")) {
        return run(case);
    }
    let runs: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(3).max(1);
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    println!(
        "| case | file | peak memory growth (max of {runs}) | time (median of {runs}) | answer |"
    );
    println!("|---|---|---|---|---|");
    for (case, what) in CASES {
        let mut grew = Vec::new();
        let mut ms = Vec::new();
        let mut answer = String::new();
        for _ in 0..runs {
            let out = Command::new(&me)
                .arg(format!("--case={case}"))
                .output()
                .map_err(|e| e.to_string())?;
            let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !out.status.success() {
                return Err(format!(
                    "{case}: {line} {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let mut parts = line.splitn(3, ' ');
            grew.push(
                parts
                    .next()
                    .and_then(|g| g.parse::<u64>().ok())
                    .unwrap_or(0),
            );
            ms.push(
                parts
                    .next()
                    .and_then(|m| m.parse::<f64>().ok())
                    .unwrap_or(0.0),
            );
            answer = parts.next().unwrap_or("").to_owned();
        }
        ms.sort_by(f64::total_cmp);
        let peak = grew.iter().max().copied().unwrap_or(0);
        println!(
            "| `{case}` | {what} | {:.1} MiB | {:.0} ms | {answer} |",
            peak as f64 / 1024.0,
            ms[(ms.len() - 1) / 2]
        );
    }
    Ok(())
}
