//! deploy/render.yaml and deploy/render-cron.yaml: valid against Render's Blueprint JSON
//! schema (vendored in deploy/schema/) and wired the way DESIGN.md says.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml(rel: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("deploy/schema/render.yaml.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("Render's schema compiles")
}

fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn service<'a>(doc: &'a Value, ty: &str) -> &'a Value {
    doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == ty)
        .unwrap_or_else(|| panic!("a {ty} service"))
}

fn env<'a>(svc: &'a Value, key: &str) -> &'a Value {
    svc["envVars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("{key} on {}", svc["name"]))
}

#[test]
fn both_blueprints_validate_against_renders_schema() {
    let v = validator();
    for rel in ["deploy/render.yaml", "deploy/render-cron.yaml"] {
        let errs = errors(&v, &yaml(rel));
        assert!(errs.is_empty(), "{rel}:\n{}", errs.join("\n"));
    }
}

#[test]
fn the_schema_is_really_enforced() {
    let v = validator();
    let mut doc = yaml("deploy/render.yaml");
    doc["services"][0]["healthCheckPth"] = Value::from("/health");
    assert!(!errors(&v, &doc).is_empty(), "a misspelt key is refused");
    let mut doc = yaml("deploy/render.yaml");
    doc["services"][1]["type"] = Value::from("daemon");
    assert!(
        !errors(&v, &doc).is_empty(),
        "an unknown service type is refused"
    );
}

#[test]
fn the_web_service_the_worker_and_the_cron_job_are_wired_as_designed() {
    let main = yaml("deploy/render.yaml");
    let cron = yaml("deploy/render-cron.yaml");
    for doc in [&main, &cron] {
        let web = service(doc, "web");
        assert_eq!(web["healthCheckPath"], "/health");
        assert_eq!(web["dockerCommand"], "bot-server");
        assert!(
            web["envVars"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["key"] != "PORT"),
            "PORT comes from Render"
        );
        let db_names: Vec<&str> = doc["databases"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["name"].as_str())
            .collect();
        let svc_names: Vec<&str> = doc["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        for svc in doc["services"].as_array().unwrap() {
            let dburl = env(svc, "DATABASE_URL");
            assert_eq!(dburl["fromDatabase"]["property"], "connectionString");
            assert!(db_names.contains(&dburl["fromDatabase"]["name"].as_str().unwrap()));
            for e in svc["envVars"].as_array().unwrap() {
                if let Some(from) = e["fromService"]["name"].as_str() {
                    assert!(svc_names.contains(&from), "{from} is declared");
                }
                let k = e["key"].as_str().unwrap_or_default();
                let secret = ["TOKEN", "SECRET", "KEY", "SMTP_URL"]
                    .iter()
                    .any(|s| k.contains(s));
                if secret {
                    assert!(
                        e.get("value").is_none(),
                        "{k}: a secret never has a value in the file"
                    );
                    assert!(
                        e["sync"] == false
                            || e.get("fromService").is_some()
                            || e["generateValue"] == true,
                        "{k}"
                    );
                }
            }
            let path = svc["dockerfilePath"]
                .as_str()
                .unwrap()
                .trim_start_matches("./");
            assert!(repo().join(path).is_file(), "{path} exists");
        }
        assert_eq!(env(web, "TELEGRAM_BOT_TOKEN")["sync"], false);
        assert_eq!(env(web, "WEBHOOK_SECRET")["sync"], false);
    }
    let worker = service(&main, "worker");
    assert_eq!(worker["dockerCommand"], "watchdog run");
    assert_eq!(env(worker, "SMTP_URL")["sync"], false);
    assert!(
        main["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["type"] != "cron"),
        "worker or cron, not both"
    );
    let job = service(&cron, "cron");
    assert_eq!(job["dockerCommand"], "watchdog check");
    assert_eq!(
        job["schedule"].as_str().unwrap().split_whitespace().count(),
        5
    );
    assert!(
        cron["services"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["type"] != "worker")
    );
}

/// Auto-scaling on the web service only (the ops notes), and only beside the PostgreSQL store
/// it needs: several bot-servers share the inbox by claims there; SQLite carries one.
#[test]
fn the_bot_scales_on_postgresql_and_the_file_says_what_it_needs() {
    let doc = yaml("deploy/render.yaml");
    let web = service(&doc, "web");
    let scaling = &web["scaling"];
    assert!(scaling["maxInstances"].as_i64().unwrap() > 1, "{web:#}");
    assert!(scaling["minInstances"].as_i64().unwrap() >= 1);
    assert_eq!(
        env(web, "DATABASE_URL")["fromDatabase"]["name"],
        doc["databases"][0]["name"]
    );
    assert!(service(&doc, "worker").get("scaling").is_none());
    let text = std::fs::read_to_string(repo().join("deploy/render.yaml")).unwrap();
    let comment = text
        .lines()
        .skip_while(|l| !l.contains("Auto-scaling"))
        .take(6)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        comment.contains("PostgreSQL") && comment.contains("SQLite"),
        "{comment}"
    );
}
