//! Deterministic failures of an actor's own record on Amazon's DynamoDB Local: the
//! scenarios of `tests/src/quarantine.rs` (run on the memory store by
//! `deterministic_failures.rs`), plus the DynamoDB-only case of a wrong-typed attribute.

use std::sync::Arc;

use mqless::aws::aws_sdk_dynamodb::types::AttributeValue;
use mqless::mailbox::{DrainConfig, DrainEnd};
use mqless_tests::{local_aws, quarantine};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_that_no_longer_decodes_quarantines_the_actor_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("evolve").await;
    quarantine::a_state_that_no_longer_decodes_quarantines_the_actor(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_repairs_or_resets_a_quarantined_actor_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("repair").await;
    quarantine::an_operator_repairs_or_resets_a_quarantined_actor(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_cannot_commit_at_all_quarantines_the_actor_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("unfit").await;
    quarantine::a_record_that_cannot_commit_at_all_quarantines_the_actor(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_acquire_answers_are_not_stalls_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("lostacquire").await;
    mqless_tests::recovery::lost_acquire_answers_are_not_stalls(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_tell_is_kept_as_a_dead_letter_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("rejected").await;
    mqless_tests::recovery::a_rejected_tell_is_kept_as_a_dead_letter(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_commit_cannot_fit_is_dead_lettered_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("toolarge").await;
    quarantine::a_message_whose_commit_cannot_fit_is_dead_lettered(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worst_case_state_record_stays_under_the_item_limit_on_dynamodb_local() {
    mqless_tests::requires_local_aws!();
    let store = local_aws::fresh_store("worstcase").await;
    quarantine::the_worst_case_state_record_stays_under_the_item_limit(Arc::new(store)).await;
}

/// A `#state` whose `st` or `meta` is a String, not Binary (written by hand or by a
/// client in another language): quarantined with the attribute named, not an error
/// at every wake-up; resetting the state rewrites the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_typed_state_attribute_quarantines_the_actor() {
    mqless_tests::requires_local_aws!();
    use mqless_tests::quarantine::ProfileV3;

    let store = local_aws::fresh_store("wrongtype").await;
    let sdk = mqless::aws::load_config().await;
    let client = mqless::aws::aws_sdk_dynamodb::Client::new(&sdk);
    for attribute in ["st", "meta"] {
        let id = quarantine::fresh_id(attribute);
        client
            .put_item()
            .table_name(store.table())
            .item("pk", AttributeValue::S(format!("Profile/{id}")))
            .item("sk", AttributeValue::S("#state".into()))
            .item("ver", AttributeValue::N("3".into()))
            .item("ep", AttributeValue::N("3".into()))
            .item("lease", AttributeValue::N("0".into()))
            .item(attribute, AttributeValue::S("{\"name\":\"Ada\"}".into()))
            .send()
            .await
            .unwrap();
        let store: Arc<dyn mqless::store::Store> = Arc::new(store.clone());
        let runtime = quarantine::manual(&store, DrainConfig::default());
        runtime.register::<ProfileV3>().unwrap();
        runtime
            .client::<ProfileV3>(&id)
            .unwrap()
            .birthday()
            .send()
            .await
            .unwrap();
        let host = runtime.host::<ProfileV3>().unwrap();
        let id_ = mqless::ActorId::new(id.as_str()).unwrap();
        let report = host.drain(&id_).await.unwrap();
        assert_eq!(report.end, DrainEnd::Quarantined, "{attribute}: {report:?}");
        let reason = report.quarantine.unwrap();
        assert!(
            reason.contains(&format!("`{attribute}` is not Binary")),
            "{reason}"
        );
        let listed = runtime.quarantined::<ProfileV3>().await.unwrap();
        assert!(listed.iter().any(|q| q.id == id_), "{listed:?}");
        let quarantine = runtime.quarantine::<ProfileV3>(&id).unwrap();
        quarantine
            .lift(mqless::recovery::StateFix::Reset, true)
            .await
            .unwrap();
        let report = host.drain(&id_).await.unwrap();
        assert_eq!(
            (report.end, report.processed),
            (DrainEnd::Empty, 1),
            "{report:?}"
        );
    }
}
