(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var refreshMs = parseInt(document.body.dataset.refresh, 10) || 30000;
  var dataUrl = location.pathname.replace(/\/+$/, "") + "/data";
  var busy = false;

  function text(el, v) { if (el && el.textContent !== v) { el.textContent = v; } }

  function rows(id, cells, width) {
    var body = document.querySelector("#t-" + id + " tbody");
    if (!body) { return; }
    var frag = document.createDocumentFragment();
    if (!cells || cells.length === 0) {
      var tr = document.createElement("tr"); tr.className = "empty";
      var td = document.createElement("td"); td.colSpan = width; td.textContent = "none yet";
      tr.appendChild(td); frag.appendChild(tr);
    } else {
      cells.forEach(function (r) {
        var tr = document.createElement("tr");
        r.forEach(function (c) { var td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
        frag.appendChild(tr);
      });
    }
    body.replaceChildren(frag);
  }

  function apply(d) {
    document.querySelectorAll("[data-k]").forEach(function (el) {
      var v = d.display[el.dataset.k];
      if (v !== undefined) { text(el, v); }
    });
    document.body.dataset.level = d.level;
    document.getElementById("light").className = "light " + d.level;
    var banner = document.getElementById("banner");
    banner.className = "banner " + d.level;
    banner.hidden = d.level === "ok";
    text(document.getElementById("banner-title"), d.level === "critical" ? "Critical" : "Warning");
    var list = document.getElementById("reasons");
    list.replaceChildren.apply(list, d.reasons.map(function (r) {
      var li = document.createElement("li"); li.textContent = r; return li;
    }));
    d.charts.forEach(function (c) {
      var fig = document.getElementById("chart-" + c.id);
      if (!fig) { return; }
      text(fig.querySelector('[data-c="span"]'), c.span);
      text(fig.querySelector('[data-c="ymax"]'), c.y_max);
      c.lines.forEach(function (l, i) {
        var p = fig.querySelector('[data-line="' + i + '"]');
        if (p) { p.setAttribute("d", l.path); }
        text(fig.querySelector('[data-last="' + i + '"]'), l.last);
      });
    });
    rows("actions", d.tables.actions, 5);
    rows("alerts", d.tables.alerts, 5);
  }

  function refresh() {
    if (busy) { return Promise.resolve(); }
    busy = true;
    var btn = document.getElementById("refresh");
    btn.disabled = true;
    return fetch(dataUrl, { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (d) { apply(d); document.getElementById("stale").hidden = true; })
      .catch(function () { document.getElementById("stale").hidden = false; })
      .finally(function () { busy = false; btn.disabled = false; });
  }

  function showReport(ok, body) {
    var sec = document.getElementById("report");
    sec.className = ok ? "report" : "report failed";
    document.getElementById("report-body").textContent = body;
    sec.hidden = false;
  }

  function recover() {
    if (!window.confirm("Run emergency recovery now?\n\nThe webhook is deleted (pending updates kept), every pending update is fetched into the inbox, and the webhook is set again.")) {
      return;
    }
    var btn = document.getElementById("recover");
    btn.disabled = true;
    showReport(true, "recovery running…");
    fetch("/webhook/recover", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .then(function (r) {
        return r.text().then(function (t) {
          var rep;
          try { rep = JSON.parse(t); } catch (e) { showReport(false, "HTTP " + r.status + ": " + t); return; }
          var lines = [
            (rep.webhook_restored && rep.errors.length === 0 ? "Recovery finished" : "Recovery finished with problems") + " (HTTP " + r.status + ")",
            "pending before: " + (rep.pending_before === null || rep.pending_before === undefined ? "unknown" : rep.pending_before),
            "drained: " + rep.drained, "replayed: " + rep.replayed, "duplicates: " + rep.duplicates,
            "dropped: " + rep.dropped, "webhook restored: " + (rep.webhook_restored ? "yes" : "no")
          ];
          rep.errors.forEach(function (e) { lines.push("error: " + e); });
          showReport(r.ok, lines.join("\n"));
        });
      })
      .catch(function (e) { showReport(false, "request failed: " + e); })
      .finally(function () { btn.disabled = false; refresh(); });
  }

  // "Refresh status": the page's figures now, and a full check pass asked of the watchdog
  // through the store; its findings are shown when they come back.
  function check() {
    refresh();
    var btn = document.getElementById("refresh");
    var url = "/bot/dashboard/check";
    showReport(true, "status check asked of the watchdog…");
    fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .then(function (r) {
        if (!r.ok) { return r.text().then(function (t) { throw new Error("HTTP " + r.status + ": " + t); }); }
        return r.json();
      })
      .then(function (asked) {
        var tries = 0;
        function poll() {
          tries += 1;
          fetch(url + "?id=" + encodeURIComponent(asked.id), { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } })
            .then(function (r) { return r.json(); })
            .then(function (a) {
              if (a.state === "pending" && tries < 120) {
                text(document.getElementById("report-body"), "status check asked of the watchdog… (" + tries + ")");
                setTimeout(poll, 1000);
                return;
              }
              if (a.state !== "done") { showReport(false, a.why || "no answer"); return; }
              var lines = ["Status check by the watchdog (" + a.by + "): " + a.level.toUpperCase()];
              a.findings.forEach(function (f) { lines.push("[" + f.level + "] " + f.incident + ": " + f.reason); });
              showReport(a.level !== "critical", lines.join("\n"));
              refresh();
            })
            .catch(function (e) { showReport(false, "status check failed: " + e); });
        }
        poll();
      })
      .catch(function (e) { showReport(false, "status check failed: " + e); })
      .finally(function () { btn.disabled = false; });
  }

  var timer;
  function logout() {
    fetch("/bot/dashboard/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
      .then(function (r) {
        return r.text().then(function (t) {
          if (!r.ok && r.status !== 503) { showReport(false, "logout failed: HTTP " + r.status + ": " + t); return; }
          clearInterval(timer);
          var p = document.createElement("p"); p.textContent = t;
          document.body.replaceChildren(p);
        });
      })
      .catch(function (e) { showReport(false, "logout failed: " + e); });
  }

  document.getElementById("logout").addEventListener("click", logout);
  document.getElementById("refresh").addEventListener("click", check);
  document.getElementById("recover").addEventListener("click", recover);
  timer = setInterval(refresh, refreshMs);
})();
