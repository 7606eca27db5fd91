//! The port contract suites, run against both adapters of every port: local (folder + SQLite)
//! and AWS (S3, DynamoDB, SQS on moto_server).

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use storesync_aws::adapters::{
    DynamoAuditLog, DynamoKeyValue, DynamoStatusLog, DynamoSupplierStore, S3BlobStore, SqsQueue,
};
use storesync_aws::lambda::sdk_config;
use storesync_core::contract;
use storesync_core::ports::{KeyValue, Queue, RecordAdmission};
use storesync_core::webhooks::processor::ORDERS;
use storesync_local::blob::FsBlobStore;
use storesync_local::sqlite::SqliteState;
use storesync_tests::aws::StreamTap;
use storesync_tests::moto::Moto;

#[tokio::test]
async fn local_adapters() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::new(dir.path().join("bucket")).unwrap();
    contract::blob_store(&blobs, "c1").await;
    let state = SqliteState::open(&dir.path().join("state.sqlite")).unwrap();
    contract::status_log(&state, "c1").await;
    contract::key_value(&state, "c1").await;
    contract::audit_log(&state, "c1").await;
    contract::queue(&state, "import-web").await;
    contract::queue_groups(&state, "webhooks").await;
    contract::queue_delays(&state, "delays").await;
    contract::admission(&state, &state, &state, "c1", || async {}).await;
    contract::staging_store(&state, "c1").await;
    contract::version_store(&state, "c1").await;
}

#[tokio::test]
async fn local_blob_keys_cannot_escape_the_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::new(dir.path().join("bucket")).unwrap();
    for key in ["../x", "/etc/passwd", "a//b", ""] {
        let e = storesync_core::ports::BlobStore::get(&blobs, key).await.unwrap_err();
        assert_eq!(e.to_string(), format!("resolve {key}: not a valid object key"));
    }
}

async fn table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// The supplier table as the template declares it: `pk`/`sk` and the by-status index.
async fn supplier_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{GlobalSecondaryIndex, Projection, ProjectionType};
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("status"))
        .attribute_definitions(attr("sid"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(storesync_aws::adapters::STAGING_INDEX)
                .key_schema(key("status", KeyType::Hash))
                .key_schema(key("sid", KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// A state table with a change stream of new images, as the template's.
async fn outbox_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
    table(ddb, name).await;
    ddb.update_table()
        .table_name(name)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn fifo_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    let out = sqs
        .create_queue()
        .queue_name(name)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    out.queue_url.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_adapters_on_moto() {
    let moto = Moto::start();
    let cfg = sdk_config(Some(&moto.endpoint)).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&cfg).force_path_style(true).build());
    s3.create_bucket().bucket("contract-bucket").send().await.unwrap();
    contract::blob_store(&S3BlobStore::new(s3.clone(), "contract-bucket"), "c1").await;
    // A presigned URL really downloads the object.
    let store = S3BlobStore::new(s3, "contract-bucket");
    let url = storesync_core::ports::BlobStore::download_url(&store, "c1/copy/a.csv", 60).await.unwrap();
    assert!(url.starts_with(&moto.endpoint) && url.contains("X-Amz-Signature="), "{url}");
    // An object over the spill size is streamed to a scratch file, a small one kept in memory.
    use storesync_core::ports::{Blob, BlobStore};
    let big = bytes::Bytes::from(vec![7u8; storesync_aws::adapters::SPILL_ABOVE as usize + 1]);
    store.put("c1/big.bin", big.clone(), None).await.unwrap();
    let got = store.get("c1/big.bin").await.unwrap();
    assert!(matches!(got, Blob::Temp(_)) && got.to_bytes().unwrap() == big, "spilled to disk");
    assert!(matches!(store.get("c1/copy/a.csv").await.unwrap(), Blob::Bytes(_)));

    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    for t in ["status", "state", "audit"] {
        table(&ddb, t).await;
    }
    contract::status_log(&DynamoStatusLog::new(ddb.clone(), "status"), "c1").await;
    contract::key_value(&DynamoKeyValue::new(ddb.clone(), "state"), "c1").await;
    contract::audit_log(&DynamoAuditLog::new(ddb.clone(), "audit"), "c1").await;
    supplier_table(&ddb, "supplier").await;
    contract::staging_store(&DynamoSupplierStore::new(ddb.clone(), "supplier"), "c1").await;
    contract::version_store(&DynamoSupplierStore::new(ddb.clone(), "supplier"), "c1").await;

    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let url = sqs.create_queue().queue_name("contract-import-web").send().await.unwrap().queue_url.unwrap();
    let fifo = fifo_queue(&sqs, "contract-webhooks.fifo").await;
    let delays = sqs.create_queue().queue_name("contract-delays").send().await.unwrap().queue_url.unwrap();
    let admitted = fifo_queue(&sqs, "contract-webhooks-orders.fifo").await;
    let q = SqsQueue::new(
        sqs,
        HashMap::from([
            ("import-web".to_string(), url),
            ("webhooks".to_string(), fifo),
            ("delays".to_string(), delays),
            (ORDERS.to_string(), admitted),
        ]),
    );
    contract::queue(&q, "import-web").await;
    contract::queue_groups(&q, "webhooks").await;
    contract::queue_delays(&q, "delays").await;
    // Admission on AWS: the record is written; the table's change stream queues its message.
    outbox_table(&ddb, "outbox").await;
    let kv: Arc<dyn KeyValue> = Arc::new(DynamoKeyValue::new(ddb, "outbox"));
    let q: Arc<dyn Queue> = Arc::new(q);
    let admission = RecordAdmission { kv: kv.clone() };
    let tap = std::sync::Mutex::new(StreamTap::new(&moto, "outbox", None));
    let settle = || async {
        let events = tap.lock().unwrap().poll().events;
        for ev in events {
            let ev = storesync_aws::webhooks::as_stream_event(&ev).expect("a stream event").unwrap();
            storesync_aws::webhooks::outbox_stream(q.as_ref(), &store, chrono::Utc::now(), &ev).await.unwrap();
        }
    };
    contract::admission(&admission, kv.as_ref(), q.as_ref(), "c1", settle).await;
    let e = q.send("unknown", "{}").await.unwrap_err();
    assert_eq!(e.to_string(), "queue unknown: no URL is configured for this queue");
}
