//! The Lambda edge: the composition root that builds the AWS adapters from the environment, and
//! the mapping of each trigger (S3, SQS, EventBridge schedule, HTTP API) to the workflow.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use storesync_core::config::Settings;
use storesync_core::domain::Actor;
use storesync_core::ports::{KeyValue, Ports, Queue, RecordAdmission, SystemClock};
use storesync_core::workflow::{UploadOutcome, Workflow, WorkflowError};

use crate::adapters::{DynamoAuditLog, DynamoKeyValue, DynamoStatusLog, DynamoSupplierStore, S3BlobStore, SqsQueue};
use crate::env;

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("environment variable {0} is not set (the template sets it)")]
    MissingEnv(&'static str),
    #[error(transparent)]
    Settings(#[from] storesync_core::config::SettingsError),
    #[error("the event is none of S3, SQS, DynamoDB Streams or a schedule: {0}")]
    UnknownEvent(String),
    #[error("cannot decode the {kind} event: {source}")]
    BadEvent {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("upload {key}: {source}")]
    Upload {
        key: String,
        #[source]
        source: WorkflowError,
    },
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error("secrets: {0}")]
    Secrets(String),
    #[error("scheduled job: {0}")]
    Job(String),
    #[error(transparent)]
    Port(#[from] storesync_core::ports::PortError),
}

/// The names of the resources the functions use, as the template hands them over.
#[derive(Debug, Clone)]
pub struct Resources {
    pub bucket: String,
    pub status_table: String,
    pub state_table: String,
    pub audit_table: String,
    pub supplier_table: String,
    pub queue_urls: HashMap<String, String>,
}

impl Resources {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, EdgeError> {
        let need = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(EdgeError::MissingEnv(name));
        let mut queue_urls = HashMap::new();
        for (queue, var) in env::queue_urls() {
            // A function only needs the queues it sends to; a missing URL fails at send time.
            if let Some(url) = get(var).filter(|v| !v.is_empty()) {
                queue_urls.insert(queue.to_string(), url);
            }
        }
        Ok(Self {
            bucket: need(env::BUCKET)?,
            status_table: need(env::STATUS_TABLE)?,
            state_table: need(env::STATE_TABLE)?,
            audit_table: need(env::AUDIT_TABLE)?,
            supplier_table: need(env::SUPPLIER_TABLE)?,
            queue_urls,
        })
    }
}

/// The SDK configuration: from the environment, or pointed at `endpoint` (moto in tests).
pub async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader
            .endpoint_url(url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "static"));
    }
    loader.load().await
}

/// Builds every port on AWS.
pub fn ports(cfg: &aws_config::SdkConfig, r: &Resources) -> Ports {
    // Path-style addressing where an endpoint is overridden (moto, LocalStack).
    let s3_cfg = aws_sdk_s3::config::Builder::from(cfg).force_path_style(cfg.endpoint_url().is_some()).build();
    let s3 = aws_sdk_s3::Client::from_conf(s3_cfg);
    let ddb = aws_sdk_dynamodb::Client::new(cfg);
    let sqs = aws_sdk_sqs::Client::new(cfg);
    let kv: Arc<dyn KeyValue> = Arc::new(DynamoKeyValue::new(ddb.clone(), &r.state_table));
    let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(sqs, r.queue_urls.clone()));
    let supplier = Arc::new(DynamoSupplierStore::new(ddb.clone(), &r.supplier_table));
    Ports {
        blobs: Arc::new(S3BlobStore::new(s3, &r.bucket)),
        status: Arc::new(DynamoStatusLog::new(ddb.clone(), &r.status_table)),
        // The dedupe record is the outbox: the state table's stream queues its message
        // (the receiver's `WebhookOutbox` event, `webhooks::outbox_stream`).
        admission: Arc::new(RecordAdmission { kv: kv.clone() }),
        kv,
        queue,
        audit: Arc::new(DynamoAuditLog::new(ddb.clone(), &r.audit_table)),
        staging: supplier.clone(),
        versions: supplier,
        clock: Arc::new(SystemClock),
    }
}

/// Cold start: typed config, adapters and the workflow, once.
pub async fn workflow_from_env() -> Result<Workflow, EdgeError> {
    Ok(edge_from_env().await?.workflow)
}

/// What a function builds at cold start: the SDK configuration, the resources and the workflow
/// on the AWS ports.
pub struct Edge {
    pub cfg: aws_config::SdkConfig,
    pub resources: Resources,
    pub workflow: Workflow,
}

pub async fn edge_from_env() -> Result<Edge, EdgeError> {
    let get = |k: &str| std::env::var(k).ok();
    let resources = Resources::from_lookup(get)?;
    let settings = Settings::from_lookup(get)?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    let cfg = sdk_config(endpoint.as_deref()).await;
    let workflow = Workflow::new(ports(&cfg, &resources), settings);
    Ok(Edge { cfg, resources, workflow })
}

/// JSON logs for CloudWatch, filtered by `RUST_LOG` (`info`, or `target=level,...`).
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter: tracing_subscriber::filter::Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| "info".parse().unwrap_or_default());
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().json().with_current_span(false).without_time())
        .with(filter)
        .init();
}

/// S3 keys in events are URL-encoded, with `+` for a space.
pub fn decode_s3_key(raw: &str) -> String {
    storesync_core::domain::url_decode(raw)
}

/// S3 ObjectCreated: each uploaded key fires the upload trigger.
pub async fn handle_s3(wf: &Workflow, event: S3Event) -> Result<(), EdgeError> {
    for record in event.records {
        let Some(raw) = record.s3.object.key else { continue };
        let key = decode_s3_key(&raw);
        let span = tracing::info_span!("s3", key = %key);
        let _g = span.enter();
        match wf.on_upload(&key).await.map_err(|source| EdgeError::Upload { key: key.clone(), source })? {
            UploadOutcome::Handled(s) => tracing::info!(session = %s, "upload handled"),
            UploadOutcome::Ignored(why) => tracing::warn!(why, "upload ignored"),
        }
    }
    Ok(())
}

/// SQS step commands: each record is handled on its own; failures are reported per record.
pub async fn handle_sqs(wf: &Workflow, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or_default();
        let span = tracing::info_span!("sqs", message_id = %id);
        let _g = span.enter();
        if let Err(e) = wf.handle_message(body).await {
            tracing::error!(error = %e, retryable = e.is_retryable(), "message failed");
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            response.batch_item_failures.push(f);
        }
    }
    response
}

/// The step functions' single entry: S3, SQS or the daily schedule, told apart by shape.
pub async fn handle_event(wf: &Workflow, event: Value) -> Result<Value, EdgeError> {
    let source = event.pointer("/Records/0/eventSource").and_then(Value::as_str).unwrap_or_default().to_string();
    match source.as_str() {
        "aws:s3" => {
            let e: S3Event =
                serde_json::from_value(event).map_err(|source| EdgeError::BadEvent { kind: "S3", source })?;
            handle_s3(wf, e).await?;
            Ok(Value::Null)
        }
        "aws:sqs" => {
            let e: SqsEvent =
                serde_json::from_value(event).map_err(|source| EdgeError::BadEvent { kind: "SQS", source })?;
            let r = handle_sqs(wf, e).await;
            serde_json::to_value(r).map_err(|source| EdgeError::BadEvent { kind: "SQS response", source })
        }
        _ if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") => {
            let s = wf.start(&Actor("schedule".into())).await?;
            tracing::info!(session = %s, "scheduled session started");
            Ok(serde_json::json!({ "session": s }))
        }
        _ => Err(EdgeError::UnknownEvent(event.to_string().chars().take(200).collect())),
    }
}

/// `main` of every step function.
pub async fn run_step_function() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let wf = Arc::new(workflow_from_env().await?);
    lambda_runtime::run(lambda_runtime::service_fn(move |ev: lambda_runtime::LambdaEvent<Value>| {
        let wf = wf.clone();
        async move { handle_event(&wf, ev.payload).await }
    }))
    .await
}

impl From<EdgeError> for lambda_runtime::Diagnostic {
    fn from(e: EdgeError) -> Self {
        let kind = match &e {
            EdgeError::MissingEnv(_) | EdgeError::Settings(_) | EdgeError::Secrets(_) => "ConfigError",
            EdgeError::Job(_) => "JobError",
            EdgeError::UnknownEvent(_) | EdgeError::BadEvent { .. } => "BadEvent",
            EdgeError::Upload { .. } | EdgeError::Workflow(_) => "WorkflowError",
            EdgeError::Port(_) => "BackendError",
        };
        lambda_runtime::Diagnostic { error_type: kind.to_string(), error_message: e.to_string() }
    }
}
