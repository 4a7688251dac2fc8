#!/usr/bin/env python3
"""Writes BENCHMARKS.md and bench/plot.svg from the committed results (stdlib only).

    python3 bench/report.py            # reads bench/results/runs.json and the files it lists

bench/results/runs.json lists the runs: each has "file" (a results JSON written by
../shared/bench/peers/run.sh, copied here), "command" (exactly what was run) and "what".
bench/results/callgrind.json holds the instruction counts (bench/callgrind.sh --json).
"""
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RES = os.path.join(HERE, "results")
SUT = "telbot"


def load_runs():
    with open(os.path.join(RES, "runs.json")) as f:
        manifest = json.load(f)
    runs = []
    for r in manifest["runs"]:
        with open(os.path.join(RES, r["file"])) as f:
            runs.append(dict(r, data=json.load(f)))
    return runs


def scenario_name(s):
    return s["scenario"].split("#")[0]


def medians(system):
    """scenario -> dict of medians over repeats (error runs are counted, not averaged)."""
    by = {}
    for s in system["scenarios"]:
        by.setdefault(scenario_name(s), []).append(s)
    out = {}
    for name, reps in by.items():
        ok = [s for s in reps if "error" not in s]
        if not ok:
            out[name] = {"errors": len(reps)}
            continue

        def med(f):
            vals = [f(s) for s in ok]
            vals = [v for v in vals if v is not None]
            return statistics.median(vals) if vals else None

        cpu = med(lambda s: s["cpu_pct"]["sut"])
        proc = med(lambda s: s["e2e_send_message_rps"])
        out[name] = {
            "repeats": len(ok),
            "errors": len(reps) - len(ok),
            "processed": proc,
            "acked": med(lambda s: s["measured"]["ack_rps"]),
            "p50": med(lambda s: s["measured"]["lat_ms"]["p50"]),
            "p99": med(lambda s: s["measured"]["lat_ms"]["p99"]),
            "cpu": cpu,
            # CPU time per processed update, from each repeat's own figures.
            "cpu_ms": med(lambda s: (s["cpu_pct"]["sut"] * 10 / s["e2e_send_message_rps"])
                          if s["e2e_send_message_rps"] else None),
            "unprocessed": max(s["unprocessed_at_end"] for s in ok),
            "backlog": med(lambda s: s["backlog_s"]),
            "idle_rss": med(lambda s: s["idle_rss_mb"]),
            "peak_rss": max(s["peak_rss_mb"] for s in ok),
            # Issue 29 compares with a peer's best repeat and wants p99 in every repeat.
            "processed_best": max((s["e2e_send_message_rps"] or 0) for s in ok),
            "p99_worst": max(s["measured"]["lat_ms"]["p99"] for s in ok),
        }
    return out


def fmt(v, nd=0):
    if v is None:
        return "–"
    return f"{v:,.{nd}f}"


def ratio(a, b):
    if a is None or not b:
        return "–"
    return f"{a / b:.2f}×"


def table_for(run):
    systems = {s["name"]: medians(s) for s in run["data"]["systems"]}
    scen = []
    for s in run["data"]["systems"]:
        for name in medians(s):
            if name not in scen:
                scen.append(name)
    peers = [n for n in systems if n != SUT]
    lines = ["| load | system | processed/s | telbot ÷ system | ack/s | ack p50 ms | ack p99 ms | "
             "SUT CPU % | CPU ms / processed | unprocessed | idle RSS MB | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for sc in scen:
        for name in [SUT] + peers:
            m = systems.get(name, {}).get(sc)
            if m is None:
                continue
            if "processed" not in m:
                lines.append(f"| {sc} | {name} | error in {m['errors']} of {m['errors']} repeats |"
                             + " |" * 9)
                continue
            t = systems.get(SUT, {}).get(sc, {})
            vs = "1.00×" if name == SUT else ratio(t.get("processed"), m["processed"])
            lines.append(
                f"| {sc} | {name} | {fmt(m['processed'])} | {vs} | {fmt(m['acked'])} | "
                f"{fmt(m['p50'], 2)} | {fmt(m['p99'], 2)} | {fmt(m['cpu'], 1)} | "
                f"{fmt(m['cpu_ms'], 3)} | {m['unprocessed']} | {fmt(m['idle_rss'], 1)} | "
                f"{fmt(m['peak_rss'], 1)} |")
    return "\n".join(lines)


def svg_plot(runs, path):
    """Two panels: ack p99 against offered rate (fixed-rate scenarios) and processed/s
    (closed-loop scenarios), one colour per system."""
    colours = {"telbot": "#d62728", "teloxide-stock": "#1f77b4", "aiogram": "#2ca02c",
               "ptb": "#9467bd", "telbot-pg": "#ff7f0e"}
    lat = {}   # system -> [(rate, p99)]
    proc = {}  # system -> {scenario: processed}
    for run in runs:
        tag = run.get("system_suffix", "")
        for s in run["data"]["systems"]:
            if tag and s["name"] != SUT:
                continue  # the peers of a variant run (PostgreSQL) are plotted from the main one
            name = s["name"] + (tag if s["name"] == SUT else "")
            for sc, m in medians(s).items():
                if "processed" not in m:
                    continue
                if sc.startswith("rate"):
                    lat.setdefault(name, []).append((int(sc[4:]), m["p99"]))
                else:
                    proc.setdefault(name, {})[sc] = m["processed"]
    W, H, pad = 980, 420, 60
    pw = (W - 3 * pad) / 2
    ph = H - 2 * pad
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    # Panel 1: latency vs offered load (log y).
    import math
    pts = [p for v in lat.values() for p in v if p[1]]
    if pts:
        xmax = max(p[0] for p in pts) * 1.1
        ymin = min(p[1] for p in pts) / 1.5
        ymax = max(p[1] for p in pts) * 1.5
        x0, y0 = pad, pad

        def X(r):
            return x0 + r / xmax * pw

        def Y(v):
            return y0 + ph - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin)) * ph

        out.append(f'<text x="{x0}" y="{y0 - 20}" font-weight="bold">ack p99 (ms, log) against '
                   f'offered load (updates/s)</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        for d in range(int(math.floor(math.log10(ymin))), int(math.ceil(math.log10(ymax))) + 1):
            for m in (1, 2, 5):
                v = m * 10 ** d
                if ymin <= v <= ymax:
                    out.append(f'<line x1="{x0}" x2="{x0 + pw}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" '
                               f'stroke="#eee"/><text x="{x0 - 5}" y="{Y(v) + 4:.1f}" '
                               f'text-anchor="end">{v:g}</text>')
        rates = sorted({p[0] for p in pts})
        for r in rates:
            out.append(f'<text x="{X(r):.1f}" y="{y0 + ph + 15}" text-anchor="middle">{r}</text>')
        for i, (name, series) in enumerate(sorted(lat.items())):
            c = colours.get(name, "#333")
            series = sorted(p for p in series if p[1])
            d = " ".join(f"{X(r):.1f},{Y(v):.1f}" for r, v in series)
            out.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"/>')
            for r, v in series:
                out.append(f'<circle cx="{X(r):.1f}" cy="{Y(v):.1f}" r="3" fill="{c}"/>')
            out.append(f'<text x="{x0 + 8}" y="{y0 + 16 + 14 * i}" fill="{c}">{name}</text>')
    # Panel 2: processed/s bars per closed-loop scenario.
    scen = sorted({sc for v in proc.values() for sc in v})
    names = sorted(proc)
    if scen and names:
        x0, y0 = 2 * pad + pw, pad
        ymax = max(v for d in proc.values() for v in d.values()) * 1.45
        out.append(f'<text x="{x0}" y="{y0 - 20}" font-weight="bold">processed updates/s, '
                   f'closed loop (median)</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        gw = pw / len(scen)
        bw = gw * 0.8 / len(names)
        for gi, sc in enumerate(scen):
            out.append(f'<text x="{x0 + gi * gw + gw / 2:.1f}" y="{y0 + ph + 15}" '
                       f'text-anchor="middle">{sc}</text>')
            for ni, name in enumerate(names):
                v = proc[name].get(sc)
                if v is None:
                    continue
                h = v / ymax * ph
                x = x0 + gi * gw + gw * 0.1 + ni * bw
                c = colours.get(name, "#333")
                out.append(f'<rect x="{x:.1f}" y="{y0 + ph - h:.1f}" width="{bw - 2:.1f}" '
                           f'height="{h:.1f}" fill="{c}"/>')
                out.append(f'<text x="{x + bw / 2:.1f}" y="{y0 + ph - h - 3:.1f}" font-size="10" '
                           f'text-anchor="middle">{v:,.0f}</text>')
        for i, name in enumerate(names):
            out.append(f'<text x="{x0 + 8}" y="{y0 + 16 + 14 * i}" '
                       f'fill="{colours.get(name, "#333")}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def callgrind_table():
    p = os.path.join(RES, "callgrind.json")
    if not os.path.exists(p):
        return "(no callgrind results recorded)"
    with open(p) as f:
        rows = json.load(f)["rows"]
    lines = ["| build | change | instructions per processed update | vs first |",
             "|---|---|---|---|"]
    first = rows[0]["per_update"] if rows else None
    for r in rows:
        lines.append(f"| `{r['commit']}` | {r['change']} | {r['per_update']:,} | "
                     f"{r['per_update'] / first:.2f}× |")
    return "\n".join(lines)


def reply_mode_section():
    p = os.path.join(RES, "reply-mode.json")
    if not os.path.exists(p):
        return ["(bench/reply-mode.sh has not been run)"]
    with open(p) as f:
        d = json.load(f)
    n, r = d["medians"]["normal"], d["medians"]["reply_in_answer"]
    lines = [
        f"`bench/reply-mode.sh` ({d['date']}): bot-server on SQLite (`synchronous = FULL`) pinned"
        f" to CPU 1, wrk closed loop with {d['conns']} connections on CPU 0 for {d['seconds']} s"
        f" after a 3 s warm-up, each mode {d['repeat']} times alternately (medians). Processed ="
        " sendMessage requests at the fake Bot API + answers that carried the reply (counted by"
        " wrk). With `webhook.reply_in_answer` the ack *is* the reply, so an answer waits for the"
        " handler and its commit.", "",
        "| mode | processed/s | ack p50 ms | ack p99 ms | CPU ms per processed update |",
        "|---|---|---|---|---|",
    ]
    for name, m in (("normal (ack, then a sendMessage request)", n),
                    ("reply in the webhook answer", r)):
        lines.append(f"| {name} | {m['processed_in_window_rps']:,.0f} | {m['ack_p50_ms']:.2f} | "
                     f"{m['ack_p99_ms']:.2f} | {m['cpu_ms_per_processed']:.3f} |")
    lines += ["", f"Ratio reply ÷ normal: processed/s "
              f"{r['processed_in_window_rps'] / n['processed_in_window_rps']:.2f}×, CPU per update "
              f"{r['cpu_ms_per_processed'] / n['cpu_ms_per_processed']:.2f}×."]
    return lines


def by(threads, prefix):
    """CPU of the threads whose (15-character) name starts with prefix."""
    return sum(v for k, v in threads.items() if k.startswith(prefix))


def fixed_rate_profile():
    p = os.path.join(RES, "fixed-rate-profile.json")
    if not os.path.exists(p):
        return ["(bench/fixed_rate_profile.py has not been recorded)"]
    with open(p) as f:
        d = json.load(f)
    lines = ["```", d["command"], "```", "", d["note"], "",
             "| build | change | user ms | sys ms | CPU ms total | voluntary cs | involuntary cs |"
             " tokio threads ms | sqlx-sqlite thread ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in d["rows"]:
        t = r["thread_cpu_ms_per_update"]
        lines.append(f"| `{r['build']}` | {r['change']} | {r['user_ms_per_update']:.3f} | "
                     f"{r['sys_ms_per_update']:.3f} | "
                     f"{r['user_ms_per_update'] + r['sys_ms_per_update']:.3f} | "
                     f"{r['voluntary_cs_per_update']:.1f} | {r['involuntary_cs_per_update']:.1f} | "
                     f"{by(t, 'tokio-rt'):.3f} | {by(t, 'sqlx-sqlite'):.3f} |")
    return lines


def find(runs, suffix, system, scenario):
    for run in runs:
        if run.get("system_suffix", "") != suffix:
            continue
        for s in run["data"]["systems"]:
            if s["name"] == system:
                m = medians(s).get(scenario)
                if m and "processed" in m:
                    return m
    return None


def targets29(runs):
    """Issue 29's targets, from the same runs (ratios within one run of the peers' benchmark)."""
    rows = []
    # Where the profile of a target not met is (sections of this file).
    profiles = {
        "1. 1,000/s: CPU": "\"Where the CPU goes at a fixed 1,000 updates/s\"",
        "1. 1,000/s: ack p99": "\"Where the ack's time goes\" (notes)",
        "1. 3,000/s": "\"Where the ack's time goes\" (notes)",
        "2. SQLite": "\"Where a closed-loop update's CPU goes\" (notes)",
        "5.": "\"Issue 29, target 5\" (notes)",
    }

    def add(what, value, ok):
        where = "" if ok else next((v for k, v in profiles.items() if what.startswith(k)), "")
        rows.append(f"| {what} | {value} | {'met' if ok else 'not met'} | {where} |")

    t, x = find(runs, "", SUT, "rate1000"), find(runs, "", "teloxide-stock", "rate1000")
    if t and x and t["cpu_ms"] and x["cpu_ms"]:
        r = t["cpu_ms"] / x["cpu_ms"]
        add("1. 1,000/s: CPU per processed update ≤ 1.5× teloxide stock's",
            f"{t['cpu_ms']:.3f} vs {x['cpu_ms']:.3f} ms ({r:.2f}×)", r <= 1.5)
    if t:
        add("1. 1,000/s: ack p99 ≤ 2 ms in every repeat",
            f"worst repeat {t['p99_worst']:.2f} ms", t["p99_worst"] <= 2)
    t3 = find(runs, "", SUT, "rate3000")
    if t3:
        add("1. 3,000/s: ack p99 ≤ 5 ms", f"{t3['p99']:.2f} ms", t3["p99"] <= 5)
    for sc in ("c40", "c100"):
        t, x, a = (find(runs, "", n, sc) for n in (SUT, "teloxide-stock", "aiogram"))
        if t and a:
            r = t["processed"] / a["processed"]
            add(f"2. SQLite {sc}: processed/s ≥ 10× aiogram", f"{r:.2f}×", r >= 10)
        if t and x:
            r = t["processed"] / x["processed_best"]
            add(f"2. SQLite {sc}: processed/s ≥ 1.0× teloxide stock's best repeat",
                f"{t['processed']:,.0f} vs {x['processed_best']:,.0f} ({r:.2f}×)", r >= 1.0)
        tp, xp = find(runs, "-pg", SUT, sc), find(runs, "-pg", "teloxide-stock", sc)
        if tp and xp:
            r = tp["processed"] / xp["processed"]
            add(f"3. PostgreSQL {sc}: processed/s ≥ 1.0× teloxide stock", f"{r:.2f}×", r >= 1.0)
    tp, ts = find(runs, "-pg", SUT, "rate1000"), find(runs, "", SUT, "rate1000")
    if tp and ts and tp["cpu_ms"] and ts["cpu_ms"]:
        r = ts["cpu_ms"] / tp["cpu_ms"]
        add("3. PostgreSQL 1,000/s: CPU per update ≥ 0.8× SQLite's efficiency (SQLite ÷ PG)",
            f"{ts['cpu_ms']:.3f} ÷ {tp['cpu_ms']:.3f} ms = {r:.2f}", r >= 0.8)
    peaks = [m["peak_rss"] for run in runs for s in run["data"]["systems"] if s["name"] == SUT
             for m in medians(s).values() if "peak_rss" in m]
    idles = [m["idle_rss"] for run in runs for s in run["data"]["systems"] if s["name"] == SUT
             for m in medians(s).values() if m.get("idle_rss") is not None]
    if idles:
        add("4. idle RSS ≤ 15 MB (largest median)", f"{max(idles)} MB", max(idles) <= 15)
    if peaks:
        add("4. peak RSS ≤ 48 MB under every load", f"{max(peaks)} MB", max(peaks) <= 48)
    for sc in ("c40", "c100"):
        ref, repl = find(runs, "-bot", SUT, sc), find(runs, "-bot", "telbot-repl", sc)
        if ref and repl:
            r = repl["processed"] / ref["processed"]
            add(f"5. {sc}: replies through teloxide's `Bot` (`.await`, `telbot-programs repl`)"
                " within 10 % of the reference bot",
                f"{repl['processed']:,.0f} vs {ref['processed']:,.0f} ({r:.2f}×)", r >= 0.9)
        else:
            rows.append(f"| 5. {sc}: replies through teloxide's `Bot` within 10 % of the reference"
                        " bot | not in these runs | not measured | |")
    return "\n".join(["| target | measured | | profile of a target not met |", "|---|---|---|---|"]
                     + rows)


def main():
    runs = load_runs()
    md = ["# Benchmarks", "",
          "Generated by `python3 bench/report.py` from the results committed in `bench/results/`"
          " (do not edit by hand). Each table is one run of `../shared/bench/peers/run.sh`; figures"
          " are medians of the repeats; \"telbot ÷ system\" is telbot's processed/s divided by"
          " that system's. CPU ms per processed update = SUT CPU time / updates handled in the measured"
          " window. The SUT and each peer run pinned to one core (CPU 1); load generator, fake"
          " Bot API and harness share CPU 0.", ""]
    m = runs[0]["data"]["machine"]
    md += ["## Machine", "",
           f"{m['nproc']} cores ({m['cpu_model']}), {m['mem_mb']:,} MB RAM, Linux {m['kernel']}."
           " A shared, noisy machine: compare figures within one run, not across runs.", ""]
    for run in runs:
        d = run["data"]
        md += [f"## {run['what']}", "",
               f"Run {d['started_utc'][:19]}Z, {d['config']['duration_s']} s measured after "
               f"{d['config']['warmup_s']} s warm-up, {d['config'].get('repeat', 1)} repeat(s).", "",
               "```", run["command"], "```", "", table_for(run), ""]
        if run.get("notes"):
            md += [run["notes"], ""]
    # Issue 29's targets replace issue 15's (the same measures, stricter bounds).
    md += ["## Targets (issue 29)", "",
           "Checked against the runs above (each with its date and command); a target met or not"
           " holds for the build those runs measured.", "", targets29(runs), ""]
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            md += [f.read().strip(), ""]
    md += ["## Instructions per processed update (callgrind)", "",
           "`bench/callgrind.sh BINARY 300 1300` runs bot-server under"
           " `valgrind --tool=callgrind` twice (300 and 1,300 `/start` updates, each answered with"
           " one sendMessage to the fake Bot API, SQLite, `synchronous = FULL`) and divides the"
           " difference of the totals by 1,000, so start-up and shutdown cancel out. Instructions,"
           " unlike seconds, do not depend on what else the machine runs; they still vary a little"
           " between runs because how updates batch depends on timing. Each row is one"
           " measurement.",
           "", callgrind_table(), "",
           "## Where the CPU goes at a fixed 1,000 updates/s", ""] + fixed_rate_profile() + ["",
           "## Replies in the webhook answer (opt-in)", ""] + reply_mode_section() + ["",
           "## Plot", "", "![latency and throughput](bench/plot.svg)", ""]
    svg_plot(runs, os.path.join(HERE, "plot.svg"))
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(md))
    print("wrote BENCHMARKS.md and bench/plot.svg", file=sys.stderr)


if __name__ == "__main__":
    main()
