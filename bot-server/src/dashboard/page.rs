//! The page: server-rendered HTML from a [`Snapshot`], with the stylesheet and the script
//! inline under a per-response CSP nonce. Every value goes through [`esc`]. The script
//! (`dashboard.js`) only replaces text, rows and path data from `/bot/dashboard/data`.

use std::fmt::Write;

use super::chart::{Chart, H, W};
use super::data::{Snapshot, error_key};
use super::level::Level;

const CSS: &str = include_str!("dashboard.css");
const JS: &str = include_str!("dashboard.js");

/// HTML-escapes text for element content and quoted attributes.
pub use telbot_shared::html::escape as esc;

fn level_class(l: Level) -> &'static str {
    match l {
        Level::Ok => "ok",
        Level::Warning => "warning",
        Level::Critical => "critical",
    }
}

/// The whole page. `nonce` is the CSP nonce, `csrf` the token the buttons send.
pub fn render(s: &Snapshot, nonce: &str, csrf: &str, refresh_ms: u128) -> String {
    let k = |key: &str| -> String {
        let v = s.display.get(key).map_or("", String::as_str);
        format!(r#"<span data-k="{}">{}</span>"#, esc(key), esc(v))
    };
    let row =
        |label: &str, key: &str| format!("<tr><th>{}</th><td>{}</td></tr>", esc(label), k(key));
    let mut h = String::with_capacity(16 * 1024);
    let lvl = level_class(s.level);
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<meta name="referrer" content="no-referrer">
<title>{name} · telbot dashboard</title>
<style nonce="{nonce}">{CSS}</style>
</head>
<body data-refresh="{refresh_ms}" data-level="{lvl}">
<header>
<span id="light" class="light {lvl}" role="img" aria-label="status"></span>
<h1>{name}</h1>
<span class="level" id="level">{level}</span>
<span class="meta">mode {mode} · up {uptime} · v{version} · updated {updated} <span id="stale" class="stale" hidden>(refresh failed)</span></span>
<span class="actions"><button id="refresh" type="button">Refresh now</button>
<button id="recover" type="button" class="danger">Emergency recovery</button></span>
</header>
"#,
        csrf = esc(csrf),
        nonce = esc(nonce),
        name = esc(&s.bot_name),
        level = k("level"),
        mode = k("mode"),
        uptime = k("uptime"),
        version = esc(&s.version),
        updated = k("updated"),
    );
    let _ = write!(
        h,
        r#"<div id="banner" class="banner {lvl}"{hidden} role="alert"><strong id="banner-title">{title}</strong><ul id="reasons">"#,
        hidden = if s.level == Level::Ok { " hidden" } else { "" },
        title = if s.level == Level::Critical {
            "Critical"
        } else {
            "Warning"
        },
    );
    for r in &s.reasons {
        let _ = write!(h, "<li>{}</li>", esc(r));
    }
    h.push_str("</ul></div>\n");
    h.push_str(r#"<section id="report" class="report" hidden><h2>Recovery report</h2><pre id="report-body"></pre></section>"#);
    h.push_str("\n<main>\n");
    let card = |h: &mut String, title: &str, rows: &[String]| {
        let _ = writeln!(
            h,
            "<section class=\"card\"><h2>{}</h2><table>{}</table></section>",
            esc(title),
            rows.concat()
        );
    };
    card(
        &mut h,
        "Webhook",
        &[
            row("state", "webhook.state"),
            row("url", "webhook.url"),
            row("expected", "webhook.expected"),
            row("pending at Telegram", "webhook.pending"),
            row("last error", "webhook.last_error"),
            row("last error age", "webhook.last_error_ago"),
        ],
    );
    card(
        &mut h,
        "Traffic",
        &[
            row("webhook requests / min", "rpm"),
            row("ack p50", "ack_p50"),
            row("ack p99", "ack_p99"),
            row("handler success", "success"),
            row("received", "received"),
            row("processed", "processed"),
        ],
    );
    let errs: Vec<String> = s
        .errors
        .keys()
        .map(|e| row(&e.replace('_', " "), error_key(e)))
        .collect();
    card(&mut h, "Errors by kind", &errs);
    card(
        &mut h,
        "Telegram API & inbox",
        &[
            row("last call latency", "tg.latency"),
            row("calls", "tg.requests"),
            row("inbox depth", "inbox_depth"),
            row("pending actions", "pending_actions"),
        ],
    );
    card(
        &mut h,
        "Process & system",
        &[
            row("RSS", "rss"),
            row("CPU", "cpu"),
            row("memory", "memory"),
            row("disk", "disk"),
        ],
    );
    h.push_str("</main>\n<section class=\"charts\">\n");
    for c in &s.charts {
        h.push_str(&chart(c));
    }
    h.push_str("</section>\n");
    table(
        &mut h,
        "actions",
        "Recent watchdog actions",
        &["when", "kind", "result", "reason", "detail"],
        s,
    );
    table(
        &mut h,
        "alerts",
        "Recent watchdog alerts",
        &["when", "level", "channel", "status", "subject"],
        s,
    );
    let _ = write!(
        h,
        "<p class=\"note\">{}</p>\n<script nonce=\"{}\">{JS}</script>\n</body></html>\n",
        k("watchdog.note"),
        esc(nonce)
    );
    h
}

fn chart(c: &Chart) -> String {
    let mut h = format!(
        r#"<figure class="chart" id="chart-{id}"><figcaption>{title} <span class="span" data-c="span">{span}</span></figcaption>
<svg viewBox="0 0 {W} {H}" preserveAspectRatio="none" role="img" aria-label="{title}">
<line class="grid" x1="0" y1="{mid}" x2="{W}" y2="{mid}"/><line class="grid" x1="0" y1="{H}" x2="{W}" y2="{H}"/>
"#,
        id = esc(c.id),
        title = esc(c.title),
        span = esc(&c.span),
        mid = H / 2.0,
    );
    for (i, l) in c.lines.iter().enumerate() {
        let _ = write!(
            h,
            r#"<path class="line {}" data-line="{i}" d="{}"/>"#,
            esc(l.class),
            esc(&l.path)
        );
    }
    let _ = write!(
        h,
        "</svg>\n<div class=\"legend\">max <span data-c=\"ymax\">{}</span>",
        esc(&c.y_max)
    );
    for (i, l) in c.lines.iter().enumerate() {
        let _ = write!(
            h,
            r#" · <span class="key {}">{}</span> <span data-last="{i}">{}</span>"#,
            esc(l.class),
            esc(l.name),
            esc(&l.last)
        );
    }
    h.push_str("</div></figure>\n");
    h
}

fn table(h: &mut String, id: &str, title: &str, heads: &[&str], s: &Snapshot) {
    let _ = write!(
        h,
        "<section class=\"list\"><h2>{}</h2><table id=\"t-{}\"><thead><tr>",
        esc(title),
        esc(id)
    );
    for c in heads {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    let _ = write!(h, "</tr></thead><tbody>");
    let rows = s.tables.get(id).map(Vec::as_slice).unwrap_or_default();
    if rows.is_empty() {
        let _ = write!(
            h,
            "<tr class=\"empty\"><td colspan=\"{}\">none yet</td></tr>",
            heads.len()
        );
    }
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></section>\n");
}
