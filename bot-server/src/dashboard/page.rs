//! The page: server-rendered HTML from a [`Snapshot`] with the `maud` template engine, which
//! escapes every value it inserts; only the stylesheet and the script (constants compiled in)
//! go in unescaped, inline under a per-response CSP nonce. The script (`dashboard.js`) only
//! replaces text, rows and path data from `/bot/dashboard/data`.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart::{Chart, H, W};
use super::data::error_key;
use super::level::Level;
use super::snapshot::Snapshot;

const CSS: &str = include_str!("dashboard.css");
const JS: &str = include_str!("dashboard.js");

fn level_class(l: Level) -> &'static str {
    match l {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// The whole page. `nonce` is the CSP nonce, `csrf` the token the buttons send.
pub(crate) fn render(s: &Snapshot, nonce: &str, csrf: &str, refresh_ms: u128) -> String {
    let k = |key: &str| -> Markup {
        let v = s.display.get(key).map_or("", String::as_str);
        html! { span data-k=(key) { (v) } }
    };
    let row = |label: &str, key: &str| -> Markup {
        html! { tr { th { (label) } td { (k(key)) } } }
    };
    let lvl = level_class(s.level);
    let title = if s.level == Level::Critical {
        "Critical"
    } else {
        "Warning"
    };
    let errors: Vec<Markup> = s
        .errors
        .keys()
        .map(|e| row(&e.replace('_', " "), error_key(e)))
        .collect();
    let jobs: Vec<Markup> = s
        .figures
        .jobs
        .keys()
        .filter_map(|name| super::data::job_key(name).map(|key| row(&name.replace('_', " "), key)))
        .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(csrf);
                meta name="referrer" content="no-referrer";
                title { (s.bot_name) " · telbot dashboard" }
                style nonce=(nonce) { (PreEscaped(CSS)) }
            }
            body data-refresh=(refresh_ms) data-level=(lvl) {
                header {
                    span #light class={ "light " (lvl) } role="img" aria-label="status" {}
                    h1 { (s.bot_name) }
                    span #level .level { (k("level")) }
                    span .meta {
                        "mode " (k("mode")) " · up " (k("uptime")) " · v" (s.version)
                        " · updated " (k("updated")) " "
                        span #stale .stale hidden { "(refresh failed)" }
                    }
                    span .actions {
                        button #refresh type="button" title="Asks the watchdog for a full check now and shows its findings" { "Refresh status" }
                        " "
                        button #recover type="button" .danger { "Emergency recovery" }
                        " "
                        button #logout type="button" { "Log out" }
                    }
                }
                div #banner class={ "banner " (lvl) } hidden[s.level == Level::Ok] role="alert" {
                    strong #banner-title { (title) }
                    ul #reasons { @for r in &s.reasons { li { (r) } } }
                }
                section #report .report hidden { h2 { "Recovery report" } pre #report-body {} }
                main {
                    (card("Webhook", &[
                        row("state", "webhook.state"),
                        row("url", "webhook.url"),
                        row("expected", "webhook.expected"),
                        row("pending at Telegram", "webhook.pending"),
                        row("last error", "webhook.last_error"),
                        row("last error age", "webhook.last_error_ago"),
                    ]))
                    (card("Traffic", &[
                        row("webhook requests / min", "rpm"),
                        row("ack p50", "ack_p50"),
                        row("ack p99", "ack_p99"),
                        row("handler success", "success"),
                        row("received", "received"),
                        row("processed", "processed"),
                    ]))
                    (card("Errors by kind", &errors))
                    (card("Telegram API & inbox", &[
                        row("last call latency", "tg.latency"),
                        row("calls", "tg.requests"),
                        row("inbox depth", "inbox_depth"),
                        row("pending actions", "pending_actions"),
                    ]))
                    (card("Last hour, as users felt it", &[
                        row("response p50 (stored → handled)", "hour.p50"),
                        row("response p95", "hour.p95"),
                        row("handled, not parked", "hour.handled"),
                    ]))
                    (card("Periodic jobs", &jobs))
                    (card("Process & system", &[
                        row("RSS", "rss"),
                        row("CPU", "cpu"),
                        row("memory", "memory"),
                        row("disk", "disk"),
                    ]))
                }
                section .charts { @for c in &s.charts { (chart(c)) } }
                (table("actions", "Recent watchdog actions", &["when", "kind", "result", "reason", "detail"], s))
                (table("alerts", "Recent watchdog alerts", &["when", "level", "channel", "status", "subject"], s))
                p .deploy { "Last deploy verification: " (k("watchdog.deploy")) }
                p .note { (k("watchdog.note")) }
                script nonce=(nonce) { (PreEscaped(JS)) }
            }
        }
    }
    .into_string()
}

fn card(title: &str, rows: &[Markup]) -> Markup {
    html! { section .card { h2 { (title) } table { @for r in rows { (r) } } } }
}

fn chart(c: &Chart) -> Markup {
    html! {
        figure .chart id={ "chart-" (c.id) } {
            figcaption { (c.title) " " span .span data-c="span" { (c.span) } }
            svg viewBox={ "0 0 " (W) " " (H) } preserveAspectRatio="none" role="img" aria-label=(c.title) {
                line .grid x1="0" y1=(H / 2.0) x2=(W) y2=(H / 2.0) {}
                line .grid x1="0" y1=(H) x2=(W) y2=(H) {}
                @for (i, l) in c.lines.iter().enumerate() {
                    path class={ "line " (l.class) } data-line=(i) d=(l.path) {}
                }
            }
            div .legend {
                "max " span data-c="ymax" { (c.y_max) }
                @for (i, l) in c.lines.iter().enumerate() {
                    " · " span class={ "key " (l.class) } { (l.name) } " " span data-last=(i) { (l.last) }
                }
            }
        }
    }
}

fn table(id: &str, title: &str, heads: &[&str], s: &Snapshot) -> Markup {
    let rows = s.tables.get(id).map(Vec::as_slice).unwrap_or_default();
    html! {
        section .list {
            h2 { (title) }
            table id={ "t-" (id) } {
                thead { tr { @for c in heads { th { (c) } } } }
                tbody {
                    @if rows.is_empty() {
                        tr .empty { td colspan=(heads.len()) { "none yet" } }
                    }
                    @for r in rows { tr { @for c in r { td { (c) } } } }
                }
            }
        }
    }
}
