//! The record of EDI documents sent, run against every implementation
//! through `sent_documents_contract_tests!`.
use chrono::{DateTime, Duration, Utc};
use service::edi::{AckState, SentDocument, SentDocuments};

fn doc(company: &str, control: u32, sent_at: DateTime<Utc>) -> SentDocument {
    SentDocument {
        company_id: company.into(),
        control_number: control,
        set: "860".into(),
        functional_id: "PC".into(),
        order_id: format!("ord_{control}"),
        cancellation_id: format!("can_{control}"),
        attempt: 1,
        sent_at,
        state: AckState::Awaiting,
        settled_at: None,
        note: None,
    }
}

/// A recorded document is found by partner and control number, and is
/// settled once.
pub async fn recorded_then_settled_once<S: SentDocuments>(s: &S) {
    let t0 = Utc::now() - Duration::hours(30);
    let d = doc("seller-a", 7, t0);
    s.record(&d).await.unwrap();
    assert_eq!(
        s.sent_document("seller-a", 7).await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(
        s.sent_document("seller-b", 7).await.unwrap(),
        None,
        "per partner"
    );
    assert_eq!(s.sent_document("seller-a", 8).await.unwrap(), None);

    let at = Utc::now();
    assert!(
        s.settle("seller-a", 7, AckState::Accepted, "AK9 A", at)
            .await
            .unwrap()
    );
    assert!(
        !s.settle("seller-a", 7, AckState::Rejected, "AK9 R", at)
            .await
            .unwrap(),
        "settled once"
    );
    assert!(
        !s.settle("seller-a", 99, AckState::Rejected, "unknown", at)
            .await
            .unwrap()
    );
    let got = s.sent_document("seller-a", 7).await.unwrap().unwrap();
    assert_eq!(
        (got.state, got.note.as_deref(), got.attempt),
        (AckState::Accepted, Some("AK9 A"), 1)
    );
    assert!(got.settled_at.is_some());
}

/// Only documents still awaiting and sent before the cut-off are listed,
/// oldest first, at most the limit.
pub async fn awaiting_lists_the_oldest_unsettled<S: SentDocuments>(s: &S) {
    let now = Utc::now();
    for (company, control, hours) in [("p1", 1, 50), ("p2", 1, 40), ("p1", 2, 30), ("p1", 3, 1)] {
        s.record(&doc(company, control, now - Duration::hours(hours)))
            .await
            .unwrap();
    }
    assert!(
        s.settle("p2", 1, AckState::Accepted, "AK9 A", now)
            .await
            .unwrap()
    );
    let cut = now - Duration::hours(24);
    let listed: Vec<(String, u32)> = s
        .awaiting(cut, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.company_id, d.control_number))
        .collect();
    assert_eq!(listed, [("p1".to_owned(), 1), ("p1".to_owned(), 2)]);
    assert_eq!(
        s.awaiting(cut, 1).await.unwrap().len(),
        1,
        "at most the limit"
    );
    assert_eq!(
        s.awaiting(now + Duration::hours(1), 10)
            .await
            .unwrap()
            .len(),
        3
    );
    assert!(
        s.settle("p1", 1, AckState::Overdue, "no 997", now)
            .await
            .unwrap()
    );
    assert_eq!(
        s.awaiting(cut, 10).await.unwrap().len(),
        1,
        "settled ones leave the list"
    );
}

/// A repeated attempt finds the document still awaiting for its
/// cancellation, and records it again under the same number.
pub async fn a_repeat_finds_the_awaiting_document<S: SentDocuments>(s: &S) {
    let t0 = Utc::now() - Duration::minutes(5);
    let d = doc("seller-r", 4, t0);
    assert_eq!(s.awaiting_for("seller-r", "can_4").await.unwrap(), None);
    s.record(&d).await.unwrap();
    assert_eq!(
        s.awaiting_for("seller-r", "can_4").await.unwrap(),
        Some(d.clone())
    );
    assert_eq!(
        s.awaiting_for("seller-x", "can_4").await.unwrap(),
        None,
        "per partner"
    );
    let again = SentDocument {
        attempt: 2,
        ..d.clone()
    };
    s.record(&again).await.unwrap();
    assert_eq!(
        s.sent_document("seller-r", 4).await.unwrap(),
        Some(again.clone())
    );
    let listed = s.awaiting(Utc::now(), 10).await.unwrap();
    assert_eq!(listed, [again], "recorded again, listed once");
    assert!(
        s.settle("seller-r", 4, AckState::Rejected, "AK9 R", Utc::now())
            .await
            .unwrap()
    );
    assert_eq!(
        s.awaiting_for("seller-r", "can_4").await.unwrap(),
        None,
        "settled: a new number"
    );
}

/// The numbers of the replies to an inbound file are kept once: the
/// first to keep them wins, and later readers get those.
pub async fn reply_numbers_are_kept_once<S: SentDocuments>(s: &S) {
    assert_eq!(s.reply_numbers("buyer-r", "file-1").await.unwrap(), None);
    assert_eq!(
        s.keep_reply_numbers("buyer-r", "file-1", &[7, 8])
            .await
            .unwrap(),
        [7, 8]
    );
    assert_eq!(
        s.keep_reply_numbers("buyer-r", "file-1", &[9])
            .await
            .unwrap(),
        [7, 8]
    );
    assert_eq!(
        s.reply_numbers("buyer-r", "file-1").await.unwrap(),
        Some(vec![7, 8])
    );
    assert_eq!(
        s.reply_numbers("buyer-x", "file-1").await.unwrap(),
        None,
        "per partner"
    );
    assert_eq!(
        s.keep_reply_numbers("buyer-r", "file-2", &[])
            .await
            .unwrap(),
        Vec::<u32>::new()
    );
    assert_eq!(
        s.reply_numbers("buyer-r", "file-2").await.unwrap(),
        Some(vec![])
    );
}

/// Generates the suite for a store built by `$make`.
#[macro_export]
macro_rules! sent_documents_contract_tests {
    ($make:expr) => {
        mod sent_documents_contract {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn recorded_then_settled_once() {
                let store = $make;
                $crate::sent_documents_contract::recorded_then_settled_once(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_repeat_finds_the_awaiting_document() {
                let store = $make;
                $crate::sent_documents_contract::a_repeat_finds_the_awaiting_document(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reply_numbers_are_kept_once() {
                let store = $make;
                $crate::sent_documents_contract::reply_numbers_are_kept_once(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn awaiting_lists_the_oldest_unsettled() {
                let store = $make;
                $crate::sent_documents_contract::awaiting_lists_the_oldest_unsettled(&store).await;
            }
        }
    };
}
