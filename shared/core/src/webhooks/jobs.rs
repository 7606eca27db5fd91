//! The scheduled side of the webhook path: the store's new orders pushed to the WMS every two
//! minutes, and the backup syncs (stock hourly, orders every 2 h, shipments every 3 h, inbounds
//! every 4 h) that pull the WMS's changes since a cursor and repair what a lost webhook left
//! undone. The template's EventBridge schedules and the local runtime's scheduler both run
//! [`SCHEDULES`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::effects::{Pushed, PUSH_LIMIT};
use super::processor::{bump, class_queue, port_failure, Message, Processor, Step, STOCK};
use super::wms::{EventKind, Line};
use crate::ports::{Delivery, PortError};

/// Orders from the store waiting to be pushed to the WMS (standard queue).
pub const ORDER_PUSH: &str = "wms-order-push";
/// A backup sync reads changes from this long before its cursor (late writes on the WMS side).
pub const SYNC_OVERLAP_MINUTES: i64 = 10;

/// A scheduled job: its name, its schedule expression (as in the template) and its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub job: &'static str,
    pub expression: &'static str,
    pub every_secs: u64,
}

pub const SCHEDULES: [Schedule; 5] = [
    Schedule { job: "wms-order-push", expression: "rate(2 minutes)", every_secs: 120 },
    Schedule { job: "wms-sync-stock", expression: "rate(1 hour)", every_secs: 3600 },
    Schedule { job: "wms-sync-orders", expression: "rate(2 hours)", every_secs: 7200 },
    Schedule { job: "wms-sync-shipments", expression: "rate(3 hours)", every_secs: 10800 },
    Schedule { job: "wms-sync-inbounds", expression: "rate(4 hours)", every_secs: 14400 },
];

/// What a job run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobReport {
    pub job: String,
    /// Orders pushed, or changes read.
    pub items: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cursor {
    /// The latest `updated_at` seen.
    high_water: Option<DateTime<Utc>>,
}

fn cursor_key(kind: &str) -> String {
    format!("webhook/sync/{kind}")
}

impl Processor {
    /// Runs one scheduled job by name.
    pub async fn run_job(&self, job: &str) -> Result<JobReport, PortError> {
        match job {
            "wms-order-push" => self.push_orders().await,
            _ => match job.strip_prefix("wms-sync-") {
                Some(kind @ ("stock" | "orders" | "shipments" | "inbounds")) => self.backup_sync(kind).await,
                _ => Err(PortError::backend("job", job, "no such job")),
            },
        }
    }

    /// A verified WooCommerce `order.created`: queued for the next push to the WMS.
    pub(crate) async fn queue_order_push(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        body: &[u8],
    ) -> Result<Step, PortError> {
        let order: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return self.give_up(queue, d, msg, format!("the WooCommerce order is not JSON: {e}"), vec![]).await
            }
        };
        let Some(id) = order["id"].as_u64() else {
            return self.give_up(queue, d, msg, "the WooCommerce order has no numeric id".into(), vec![]).await;
        };
        let lines: Vec<Line> = order["line_items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| Line {
                sku: l["sku"].as_str().unwrap_or_default().to_string(),
                quantity: l["quantity"].as_i64().unwrap_or(0),
            })
            .collect();
        let push = json!({ "external_id": id.to_string(), "lines": lines, "shipping": order["shipping"] });
        self.ports().queue.send(ORDER_PUSH, &push.to_string()).await?;
        bump(&self.stats.applied, 1);
        Ok(Step::Done)
    }

    /// Pushes queued orders to the WMS, up to 10 per call, until the queue is empty.
    async fn push_orders(&self) -> Result<JobReport, PortError> {
        let mut report = JobReport { job: "wms-order-push".into(), ..JobReport::default() };
        loop {
            let batch = self.ports().queue.receive(ORDER_PUSH, PUSH_LIMIT, self.visibility_secs).await?;
            if batch.is_empty() {
                return Ok(report);
            }
            let orders: Vec<Value> = batch.iter().map(|d| serde_json::from_str(&d.body).unwrap_or_default()).collect();
            match self.warehouse.push_orders(&orders).await {
                Ok(results) => {
                    for (d, order) in batch.iter().zip(&orders) {
                        let external = order["external_id"].as_str().unwrap_or_default();
                        let result = results.iter().find(|r| match r {
                            Pushed::Created { external_id, .. } | Pushed::Refused { external_id, .. } => {
                                external_id == external
                            }
                        });
                        match result {
                            Some(Pushed::Created { .. }) => {
                                report.items += 1;
                                bump(&self.stats.orders_pushed, 1);
                            }
                            other => {
                                let why = match other {
                                    Some(Pushed::Refused { error, .. }) => {
                                        format!("the WMS refused order {external}: {error}")
                                    }
                                    _ => format!("the WMS did not answer for order {external}"),
                                };
                                let id = format!("order-push:{external}");
                                self.dead_letter(ORDER_PUSH, &id, None, &d.body, why, vec![]).await?;
                                report.failed += 1;
                            }
                        }
                        self.ports().queue.ack(ORDER_PUSH, &d.receipt).await?;
                    }
                }
                Err(e) => {
                    for (d, order) in batch.iter().zip(&orders) {
                        let id = format!("order-push:{}", order["external_id"].as_str().unwrap_or_default());
                        match self.failed_id(ORDER_PUSH, d, &id, None, &d.body, "order.push", e.clone()).await? {
                            Step::Done => self.ports().queue.ack(ORDER_PUSH, &d.receipt).await?,
                            Step::Retry => report.failed += 1,
                        }
                    }
                    // The rest waits for its retry; the next run takes what is due.
                    return Ok(report);
                }
            }
        }
    }

    /// Reads the WMS's changes of `kind` since the cursor (less the overlap) and sends each to
    /// its entity's group, where it is reconciled with what the webhooks applied.
    async fn backup_sync(&self, kind: &str) -> Result<JobReport, PortError> {
        let key = cursor_key(kind);
        let cursor: Cursor =
            self.ports().kv.get(&key).await?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        let since = cursor.high_water.map(|t| t - Duration::minutes(SYNC_OVERLAP_MINUTES));
        let mut report = JobReport { job: format!("wms-sync-{kind}"), ..JobReport::default() };
        let mut high_water = cursor.high_water;
        let mut page_cursor: Option<String> = None;
        loop {
            let page = match self.warehouse.changes(kind, since, page_cursor.as_deref()).await {
                Ok(p) => p,
                Err(e) => {
                    // The cursor stays where it was: the next run reads these changes again.
                    tracing::warn!(kind, error = %e, "backup sync stopped");
                    report.failed += 1;
                    break;
                }
            };
            let mut sends = Vec::with_capacity(page.items.len());
            for item in &page.items {
                let at: Option<DateTime<Utc>> = item["updated_at"].as_str().and_then(|t| t.parse().ok());
                let Some(at) = at else { continue };
                let msg = match kind {
                    "stock" => Message::Stock {
                        sku: item["sku"].as_str().unwrap_or_default().to_string(),
                        id: format!("sync:{}", at.to_rfc3339()),
                        occurred_at: at,
                        quantity: item["available"].as_i64().unwrap_or(0),
                        absolute: true,
                    },
                    _ => {
                        let field = match kind {
                            "orders" => "order_id",
                            "shipments" => "shipment_id",
                            _ => "inbound_id",
                        };
                        let class = &kind[..kind.len() - 1];
                        let entity = format!("{class}:{}", item[field].as_str().unwrap_or_default());
                        Message::Sync { entity, item: item.clone() }
                    }
                };
                sends.push(msg.to_group_message());
                high_water = high_water.max(Some(at));
            }
            let queue = match kind {
                "stock" => STOCK,
                "orders" => class_queue(EventKind::OrderCreated.priority()),
                "shipments" => class_queue(EventKind::ShipmentCreated.priority()),
                _ => class_queue(EventKind::InboundCreated.priority()),
            };
            self.ports().queue.send_batch_in_group(queue, &sends).await?;
            report.items += sends.len();
            match page.next_cursor {
                Some(c) if !page.items.is_empty() => page_cursor = Some(c),
                _ => break,
            }
        }
        if report.failed == 0 {
            let v = serde_json::to_value(Cursor { high_water }).map_err(|e| PortError::backend("encode", &key, e))?;
            self.ports().kv.put(&key, &v).await?;
        }
        Ok(report)
    }

    /// An entity as the WMS has it: whatever lifecycle step the webhooks have not applied is
    /// applied now (once: the webhook that arrives later is then a duplicate), and recorded.
    pub(crate) async fn sync_entity(
        &self,
        queue: &str,
        d: &Delivery,
        msg: &Message,
        entity: &str,
        item: &Value,
    ) -> Result<Step, PortError> {
        let key = super::processor::progress_key(entity);
        let mut progress = self.load_progress(&key).await?;
        let (class, id) = entity.split_once(':').unwrap_or((entity, ""));
        let status = item["status"].as_str().unwrap_or_default();
        let external = item["external_id"].as_str().unwrap_or_default();
        let at = item["updated_at"].as_str().unwrap_or_default();
        let mut steps: Vec<&str> = Vec::new();
        match class {
            "order" => {
                if !progress.applied.contains("order.created") {
                    steps.push("order.created");
                }
                if status == "shipped" && !progress.applied.contains("order.shipped") {
                    steps.push("order.shipped");
                }
            }
            "shipment" => {
                if !progress.applied.contains("shipment.created") {
                    steps.push("shipment.created");
                }
            }
            _ => {
                if !progress.applied.contains("inbound.created") {
                    steps.push("inbound.created");
                }
                if status == "completed" && !progress.applied.contains("inbound.completed") {
                    steps.push("inbound.completed");
                }
            }
        }
        for step in steps {
            let marker = format!("WMS sync {entity} {step}");
            let effect = async {
                match step {
                    "order.created" => {
                        let text = format!("WMS order {id}: {status} (from the WMS backup sync)");
                        self.note(external, &text, &marker, true).await
                    }
                    "order.shipped" => {
                        self.store.set_order_status(external, "completed").await?;
                        let text = format!(
                            "Shipped by {}, tracking number {} (WMS order {id}, from the WMS backup sync)",
                            item["carrier"].as_str().unwrap_or("?"),
                            item["tracking_number"].as_str().unwrap_or("?")
                        );
                        self.note(external, &text, &marker, true).await
                    }
                    "shipment.created" => {
                        let text = format!(
                            "Shipment {id} {status}: {} tracking number {} (from the WMS backup sync)",
                            item["carrier"].as_str().unwrap_or("?"),
                            item["tracking_number"].as_str().unwrap_or("?")
                        );
                        self.note(external, &text, &marker, true).await
                    }
                    "inbound.completed" => {
                        let lines: Vec<Line> = serde_json::from_value(item["lines"].clone()).unwrap_or_default();
                        let when = at.parse().unwrap_or_else(|_| self.ports().clock.now());
                        self.receive_lines(id, &lines, when).await.map_err(port_failure)
                    }
                    _ => Ok(()),
                }
            }
            .await;
            if let Err(e) = effect {
                return self.failed(queue, d, msg, "sync", e).await;
            }
            progress.reconciled.push(super::ordering::Reconciled {
                at: self.ports().clock.now(),
                missing: step.to_string(),
                for_event: format!("sync:{at}"),
                found: format!("{class} {id} is {status}"),
            });
            self.applied(queue, entity, &mut progress, &format!("sync:{step}:{at}"), step).await?;
            bump(&self.stats.synced, 1);
        }
        Ok(Step::Done)
    }
}
