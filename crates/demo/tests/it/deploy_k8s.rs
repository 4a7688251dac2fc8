//! deploy/k8s: every manifest valid for Kubernetes (kubernetes-validate from PyPI, strict:
//! unknown fields refused) and wired the way DESIGN.md and config/default.toml say. Fails,
//! never skips, without kubernetes-validate (`pip install kubernetes-validate`; CI installs it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The Kubernetes version the manifests are validated against.
const K8S: &str = "1.30.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dir() -> PathBuf {
    repo().join("deploy/k8s")
}

fn manifests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name().is_some_and(|n| n != "kustomization.yaml")
        })
        .collect();
    v.sort();
    v
}

fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

/// kubernetes-validate over `files`: (exit success, output).
fn validate(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "-k", K8S])
        .args(files)
        .output()
        .expect("python3 runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named kubernetes_validate"),
        "kubernetes-validate is not installed: pip install kubernetes-validate (.ci/run does)"
    );
    (out.status.success(), text)
}

#[test]
fn every_manifest_validates_strictly() {
    let files = manifests();
    assert!(files.len() >= 7, "{files:?}");
    let (ok, out) = validate(&files);
    assert!(ok, "{out}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            out.contains(&format!("{name} passed")),
            "{name} not validated:\n{out}"
        );
    }
}

#[test]
fn the_validator_refuses_a_broken_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir().join("bot-server-deployment.yaml")).unwrap();
    // A misspelt field (strict) and a replica count that is not a number.
    let broken = text
        .replace("readinessProbe:", "readinesProbe:")
        .replace("replicas: 3", "replicas: three");
    let f = tmp.path().join("broken.yaml");
    std::fs::write(&f, broken).unwrap();
    let (ok, out) = validate(&[f]);
    assert!(!ok, "a broken Deployment passed:\n{out}");
}

#[test]
fn kustomization_lists_existing_files_and_not_the_example_secret() {
    let k = yaml("kustomization.yaml");
    let listed: Vec<&str> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for r in &listed {
        assert!(dir().join(r).exists(), "{r} is listed but missing");
    }
    assert!(!listed.contains(&"secret.example.yaml"));
    assert!(listed.contains(&"watchdog-deployment.yaml"));
}

fn container(doc: &Value) -> &Value {
    let spec = if doc["kind"] == "CronJob" {
        &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &doc["spec"]["template"]["spec"]
    };
    &spec["containers"][0]
}

#[test]
fn the_bot_server_deployment_matches_the_contract() {
    let d = yaml("bot-server-deployment.yaml");
    assert_eq!(d["spec"]["replicas"], 3);
    let c = container(&d);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["args"][0], "bot-server");
    // The port: config/default.toml's server.port, the PORT given, the probes' named port.
    let defaults: toml::Table = std::fs::read_to_string(repo().join("config/default.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let port = defaults["server"]["port"].as_integer().unwrap();
    assert_eq!(c["ports"][0]["containerPort"].as_i64(), Some(port));
    let port_env = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "PORT")
        .unwrap();
    assert_eq!(port_env["value"], port.to_string());
    assert_eq!(
        c["readinessProbe"]["httpGet"]["port"],
        c["ports"][0]["name"]
    );
    assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    // The pod outlives the drain: drain_delay + grace_period fit its termination grace.
    let cm = yaml("configmap.yaml");
    let secs = |v: &str| -> u64 { v.strip_suffix('s').unwrap().parse().unwrap() };
    let drain = secs(cm["data"]["TELBOT__SERVER__DRAIN_DELAY"].as_str().unwrap());
    let grace = secs(defaults["server"]["grace_period"].as_str().unwrap());
    let term = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(term > drain + grace, "{term} s");
    // Service and PDB select the Deployment's pods.
    let labels = &d["spec"]["template"]["metadata"]["labels"];
    let selects = |sel: &Value| {
        sel.as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| &labels[k] == v)
    };
    assert_eq!(d["spec"]["selector"]["matchLabels"], *labels);
    let svc = yaml("bot-server-service.yaml");
    assert!(selects(&svc["spec"]["selector"]));
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], c["ports"][0]["name"]);
    let pdb = yaml("bot-server-pdb.yaml");
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"]));
    assert!(pdb["spec"]["minAvailable"].as_i64().unwrap() < 3);
    // BOT_URL reaches the Service.
    let bot_url = cm["data"]["BOT_URL"].as_str().unwrap();
    let svc_name = svc["metadata"]["name"].as_str().unwrap();
    assert_eq!(bot_url, format!("http://{svc_name}:{port}"));
}

#[test]
fn the_watchdog_runs_twice_or_as_a_forbid_concurrent_cron_job() {
    let w = yaml("watchdog-deployment.yaml");
    assert_eq!(w["spec"]["replicas"], 2);
    assert_eq!(
        container(&w)["args"],
        serde_json::json!(["watchdog", "run"])
    );
    let j = yaml("watchdog-cronjob.yaml");
    assert_eq!(j["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(
        container(&j)["args"],
        serde_json::json!(["watchdog", "check"])
    );
    let fields: Vec<&str> = j["spec"]["schedule"].as_str().unwrap().split(' ').collect();
    assert_eq!(fields.len(), 5, "a five-field cron schedule");
}

/// Every environment name the manifests set is one the daemons read: a well-known name
/// (DESIGN.md's table, `telbot_shared::config::WELL_KNOWN`), a `TELBOT__SECTION__KEY` of
/// config/default.toml, or LOG_FORMAT.
#[test]
fn every_environment_name_is_one_the_daemons_read() {
    let well_known: BTreeSet<&str> = telbot_shared::config::WELL_KNOWN
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let known = telbot_shared::config::known_keys();
    let mut names = BTreeSet::new();
    for f in manifests() {
        let doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        match doc["kind"].as_str().unwrap() {
            "ConfigMap" => names.extend(doc["data"].as_object().unwrap().keys().cloned()),
            "Secret" => names.extend(doc["stringData"].as_object().unwrap().keys().cloned()),
            "Deployment" | "CronJob" => {
                for e in container(&doc)["env"].as_array().unwrap() {
                    names.insert(e["name"].as_str().unwrap().to_string());
                }
            }
            _ => {}
        }
    }
    assert!(names.contains("DATABASE_URL") && names.contains("TELEGRAM_BOT_TOKEN"));
    for n in &names {
        let ok = if let Some(k) = n.strip_prefix("TELBOT__") {
            known.contains(&k.to_lowercase().replace("__", "."))
        } else {
            n == "LOG_FORMAT" || well_known.contains(n.as_str())
        };
        assert!(ok, "{n} is not a name the daemons read");
    }
}
