//! The Shopify sync-down on Shopify's own product JSON (../shared/testdata/real): a hand edit of
//! a product storesync tracks becomes a `shopify` version; storesync's own write coming back
//! changes nothing; a product it does not track is left alone.

use serde_json::{json, Value};
use storesync_core::supplier::syncdown::{mark_applying, observed, unmark_applying};
use storesync_core::supplier::versions::next;
use storesync_local::Local;
use storesync_tests::real_testdata;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_edits_of_tracked_products_become_versions() {
    let dir = tempfile::tempdir().unwrap();
    let local = Local::open(dir.path(), Default::default()).unwrap();
    let ports = local.workflow.ports();
    let real: Value =
        serde_json::from_slice(&std::fs::read(real_testdata().join("shopify_admin_rest/product.json")).unwrap())
            .unwrap();
    let product = real["product"].clone();
    let gid = "gid://shopify/Product/632910392";

    assert_eq!(observed(ports, &product).await.unwrap(), Vec::<String>::new(), "not tracked");
    assert!(ports.versions.history(gid).await.unwrap().is_empty());

    let fields = serde_json::from_value(json!({
        "name": "IPod Nano - 8GB", "description": product["body_html"], "product_type": "Cult Products",
        "tags": ["Emotive", "Flash Memory", "MP3", "Music"]
    }))
    .unwrap();
    ports.versions.append(&next(&[], gid, fields, "supplier-feed etilize-1", chrono::Utc::now())).await.unwrap();
    assert!(observed(ports, &product).await.unwrap().is_empty(), "its own write coming back");

    let mut edited = product.clone();
    edited["title"] = json!("iPod Nano 8 GB");
    edited["tags"] = json!("Music, MP3, Emotive, Flash Memory");
    edited["body_html"] = json!("<p>Edited by hand</p>");
    assert_eq!(observed(ports, &edited).await.unwrap(), vec!["description".to_string(), "name".into()]);
    let history = ports.versions.history(gid).await.unwrap();
    assert_eq!((history.len(), history[1].source.as_str()), (2, "shopify"));
    assert_eq!(history[1].fields["name"], json!("iPod Nano 8 GB"));
    assert_eq!(history[1].changes.len(), 2, "tags in another order are the same tags");
    // The first webhook delivered again, late: an echo of version 1, not an edit back.
    assert_eq!(observed(ports, &product).await.unwrap(), Vec::<String>::new());
    assert_eq!(ports.versions.history(gid).await.unwrap().len(), 2);

    // storesync's own write in flight (its version not recorded yet) is not an edit, even when
    // Shopify's webhook of it arrives first; once the apply is done, a change is an edit again.
    let fields = serde_json::from_value(json!({ "name": "iPod Nano (2nd gen)" })).unwrap();
    mark_applying(ports, gid, &fields).await.unwrap();
    let mut ours = edited.clone();
    ours["title"] = json!("iPod Nano (2nd gen)");
    assert_eq!(observed(ports, &ours).await.unwrap(), Vec::<String>::new());
    ours["body_html"] = json!("<p>Edited again</p>");
    assert_eq!(observed(ports, &ours).await.unwrap(), vec!["description".to_string()], "the rest is still seen");
    unmark_applying(ports, gid).await.unwrap();
    assert_eq!(observed(ports, &ours).await.unwrap(), vec!["name".to_string()]);
}
