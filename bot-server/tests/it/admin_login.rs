//! Admin logins over HTTP: the failed-login throttle per client (429 with Retry-After), the
//! session cookie's lifetime, logout (this instance, a restart, another instance on the same
//! store), and secrets with HTML and URL characters masked in the dashboard before escaping.

use crate::common;

use std::net::IpAddr;

use common::*;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;

/// A client connecting from `from` (another loopback address is another client).
fn client_from(from: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::from(from))
        .build()
        .unwrap()
}

/// Logs in with `?token=` and returns the `name=value` pair of the session cookie and the
/// whole `Set-Cookie` line.
async fn login(c: &reqwest::Client, bot: &RunningBot, token: &str) -> (String, String) {
    let r = c
        .get(bot.url(&format!("/bot/dashboard?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/bot/dashboard", "a clean URL");
    let line = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    (line.split(';').next().unwrap().to_string(), line)
}

async fn status_with_cookie(c: &reqwest::Client, bot: &RunningBot, pair: &str) -> StatusCode {
    c.get(bot.url("/bot/dashboard/data"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap()
        .status()
}

/// No secret, and nothing the client sent as a token, in an answer.
fn assert_clean(what: &str, text: &str, sim: &telegram_sim::Sim) {
    for s in [ADMIN, SECRET, sim.token().as_str(), "wrong-guess"] {
        assert!(!text.contains(s), "{what} holds {s:?}: {text}");
    }
}

#[tokio::test]
async fn failed_logins_are_throttled_per_client() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__DASHBOARD__LOGIN_MAX_FAILURES", "3")]).await;
    let a = client_from([127, 0, 0, 1]);
    for i in 0..3 {
        let r = a
            .get(bot.url("/bot/dashboard/data"))
            .bearer_auth(format!("wrong-guess-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "failure {i}");
        assert_clean(
            "a 401",
            &format!("{:?} {}", r.headers().clone(), r.text().await.unwrap()),
            &sim,
        );
    }
    // The fourth attempt, and every token after it, right or wrong, in any form: 429.
    let wrong = a
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth("wrong-guess-4")
        .send()
        .await
        .unwrap();
    let right = a
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let basic = a
        .post(bot.url("/shutdown"))
        .basic_auth("me", Some(ADMIN))
        .send()
        .await
        .unwrap();
    let url_login = a
        .get(bot.url(&format!("/bot/dashboard?token={ADMIN}")))
        .send()
        .await
        .unwrap();
    // Not the first X-Forwarded-For hop: the client writes it itself (hops = 0 by default).
    let spoofed = a
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth("wrong-guess-5")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    for (what, r) in [
        ("wrong", wrong),
        ("right", right),
        ("basic", basic),
        ("?token=", url_login),
        ("spoofed", spoofed),
    ] {
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=900).contains(&wait), "{what}: Retry-After {wait}");
        assert!(r.headers().get(SET_COOKIE).is_none(), "{what}");
        let text = format!("{:?} {}", r.headers().clone(), r.text().await.unwrap());
        assert_clean(what, &text, &sim);
    }
    // A request without a token is not a guess: 401 as always.
    let r = a.get(bot.url("/bot/dashboard/data")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Another client is not throttled by the first one's failures.
    let b = client_from([127, 0, 0, 2]);
    let r = b
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (pair, _) = login(&b, &bot, ADMIN).await;
    // A valid session cookie is no guess either: it works from the throttled client.
    assert_eq!(status_with_cookie(&a, &bot, &pair).await, 200);
    bot.stop().await;
}

#[tokio::test]
async fn a_logout_ends_the_session_here_and_after_a_restart() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__DASHBOARD__SESSION_TTL", "5m")]).await;
    let c = client_from([127, 0, 0, 1]);
    let (old, line) = login(&c, &bot, ADMIN).await;
    assert!(
        line.contains("Max-Age=300"),
        "the cookie lives session_ttl: {line}"
    );
    assert!(
        line.contains("HttpOnly") & line.contains("SameSite=Strict"),
        "{line}"
    );
    let html = page_with_cookie(&c, &bot, &old).await;
    assert!(
        html.contains("id=\"logout\""),
        "the page has a logout button"
    );
    let csrf = csrf_of(&html);
    // Nobody without credentials, and no cross-site page, can log everyone out.
    let r = c
        .post(bot.url("/bot/dashboard/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .post(bot.url("/bot/dashboard/logout"))
        .header("cookie", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    assert_eq!(status_with_cookie(&c, &bot, &old).await, 200);

    let r = c
        .post(bot.url("/bot/dashboard/logout"))
        .header("cookie", &old)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cleared = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cleared.starts_with("telbot_session=;") & cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_clean("the logout answer", &r.text().await.unwrap(), &sim);
    // The old cookie (a copy kept by anyone) no longer opens anything.
    assert_eq!(status_with_cookie(&c, &bot, &old).await, 401);
    let r = c
        .get(bot.url("/bot/dashboard"))
        .header("cookie", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A new login works, and survives a restart; the revoked cookie stays revoked.
    let (new, _) = login(&c, &bot, ADMIN).await;
    assert_eq!(status_with_cookie(&c, &bot, &new).await, 200);
    bot.stop().await;
    let bot = start_bot(&sim, &db, &[]).await;
    assert_eq!(status_with_cookie(&c, &bot, &new).await, 200);
    assert_eq!(status_with_cookie(&c, &bot, &old).await, 401);
    bot.stop().await;
}

#[tokio::test]
async fn a_logout_on_one_instance_ends_the_session_on_another() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    let a = start_bot(&sim, &db, &[]).await;
    let b = start_bot(&sim, &db, &[]).await;
    let c = client_from([127, 0, 0, 1]);
    let (pair, _) = login(&c, &a, ADMIN).await;
    assert_eq!(status_with_cookie(&c, &b, &pair).await, 200, "any instance");
    let html = page_with_cookie(&c, &a, &pair).await;
    // The CSRF token is derived from the admin token too: instance b takes a's.
    let r = c
        .post(b.url("/bot/dashboard/logout"))
        .header("cookie", &pair)
        .header("x-csrf-token", csrf_of(&html))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status_with_cookie(&c, &b, &pair).await, 401);
    // Instance a re-reads the epoch from the store within a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status_with_cookie(&c, &a, &pair).await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "instance a still accepts the revoked session"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_secret_with_html_and_url_characters_is_masked_before_escaping() {
    // An admin token holding every character HTML or a URL changes.
    const TOKEN: &str = "adm&<>\"'tok3n%x y/z";
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("ADMIN_TOKEN", TOKEN)]).await;
    let escaped = TOKEN
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let json_escaped = TOKEN.replace('"', "\\\"");
    let pct_upper = "adm%26%3C%3E%22%27tok3n%25x%20y%2Fz";
    let pct_form = "adm%26%3C%3E%22%27tok3n%25x+y%2Fz";
    let pct_lower = "adm%26%3c%3e%22%27tok3n%25x%20y%2fz";
    let now = telbot_shared::unix_now();
    sqlx::query("INSERT INTO wd_actions (kind, reason, result, detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind("restart")
        .bind(format!("hook said {TOKEN}"))
        .bind("failed")
        .bind(format!("GET https://hook.example/?t={pct_upper}&u={pct_form}&v={pct_lower}"))
        .bind(now - 30)
        .bind(now - 29)
        .execute(&bot.state.db().pool)
        .await
        .unwrap();
    let c = client_from([127, 0, 0, 1]);
    let html = c
        .get(bot.url("/bot/dashboard"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = c
        .get(bot.url("/bot/dashboard/data"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (what, text) in [("page", &html), ("data", &data)] {
        assert!(
            text.contains("hook said [REDACTED]"),
            "{what} shows the row"
        );
        for form in [
            TOKEN,
            &escaped,
            &json_escaped,
            pct_upper,
            pct_form,
            pct_lower,
            "tok3n",
        ] {
            assert!(!text.contains(form), "the {what} holds {form:?}");
        }
    }
    bot.stop().await;
}
