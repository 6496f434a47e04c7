#!/usr/bin/env python3
"""Turns bench/run's raw results into the comparison table.

usage: summarize.py RESULTS.tsv META.txt OUT.md

RESULTS.tsv rows: round, proxy, metric, value. Every figure is the median over rounds.
Prints a plain-text table on stdout and writes the same as Markdown (with META) to OUT.md.
"""
import statistics
import sys
from collections import defaultdict

PROXIES = ("nginx", "drawbridge")

# metric -> (scenario, what, which way is better: "higher", "lower" or "" for context only)
METRICS = [
    ("ka_rps", "keep-alive, small responses", "requests/s", "higher"),
    ("ka_p99_ms", "keep-alive, small responses", "p99 latency (ms)", "lower"),
    ("ka_per_cpu_s", "keep-alive, small responses", "requests per proxy CPU-second", "higher"),
    ("ka_cpu_pct", "keep-alive, small responses", "proxy CPU use (%)", ""),
    ("kaa_rps", "keep-alive, session cookie on every request", "requests/s", "higher"),
    ("kaa_p99_ms", "keep-alive, session cookie on every request", "p99 latency (ms)", "lower"),
    ("kaa_per_cpu_s", "keep-alive, session cookie on every request", "requests per proxy CPU-second", "higher"),
    ("kaa_cpu_pct", "keep-alive, session cookie on every request", "proxy CPU use (%)", ""),
    ("kak_rps", "keep-alive, API key + RBAC on every request", "requests/s", "higher"),
    ("kak_p99_ms", "keep-alive, API key + RBAC on every request", "p99 latency (ms)", "lower"),
    ("kak_per_cpu_s", "keep-alive, API key + RBAC on every request", "requests per proxy CPU-second", "higher"),
    ("kak_cpu_pct", "keep-alive, API key + RBAC on every request", "proxy CPU use (%)", ""),
    ("kap_rps", "keep-alive, authenticated + authorised (1,000 routes, 200 sessions)", "requests/s", "higher"),
    ("kap_p99_ms", "keep-alive, authenticated + authorised (1,000 routes, 200 sessions)", "p99 latency (ms)", "lower"),
    ("kap_per_cpu_s", "keep-alive, authenticated + authorised (1,000 routes, 200 sessions)", "requests per proxy CPU-second", "higher"),
    ("kap_cpu_pct", "keep-alive, authenticated + authorised (1,000 routes, 200 sessions)", "proxy CPU use (%)", ""),
    ("hs_full_rate", "new connection per request, full TLS 1.3 handshake", "handshakes/s (client-bound)", ""),
    ("hs_full_per_cpu_s", "new connection per request, full TLS 1.3 handshake", "handshakes per proxy CPU-second", "higher"),
    ("hs_resumed_rate", "new connection per request, resumed TLS 1.3 (wrk)", "handshakes/s (client-bound)", ""),
    ("hs_resumed_per_cpu_s", "new connection per request, resumed TLS 1.3 (wrk)", "handshakes per proxy CPU-second", "higher"),
    ("idle_kib_per_conn", "idle keep-alive TLS connections", "KiB per connection", "lower"),
    ("idle_rss_before_mib", "idle keep-alive TLS connections", "RSS before (MiB)", ""),
    ("idle_rss_held_mib", "idle keep-alive TLS connections", "RSS holding them (MiB)", ""),
]


def load(path):
    values = defaultdict(list)
    with open(path) as f:
        for line in f:
            if line.strip():
                _, proxy, metric, value = line.rstrip("\n").split("\t")
                values[(proxy, metric)].append(float(value))
    return values


def fmt(x):
    if x is None:
        return "-"
    if abs(x) >= 100 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.2f}"


def rows(values):
    out = []
    for metric, scenario, what, better in METRICS:
        med = {p: statistics.median(values[(p, metric)]) if values.get((p, metric)) else None
               for p in PROXIES}
        if med["nginx"] is None and med["drawbridge"] is None:
            continue
        ratio = None
        if med["nginx"] and med["drawbridge"] is not None:
            ratio = med["drawbridge"] / med["nginx"]
        n = max(len(values.get((p, metric), [])) for p in PROXIES)
        out.append((scenario, what, fmt(med["nginx"]), fmt(med["drawbridge"]),
                    "-" if ratio is None else f"{ratio:.2f}", better and f"{better} is better", n))
    return out


# Same proxy, two scenarios: what checking a session on every request costs (keepalive-auth
# against keepalive). For nginx, which forwards the cookie unchecked, it is the cost of the
# larger request alone.
SESSION_RATIOS = [
    ("kaa_rps", "ka_rps", "requests/s, session cookie / public"),
    ("kaa_per_cpu_s", "ka_per_cpu_s", "requests per proxy CPU-second, session cookie / public"),
    ("kak_rps", "ka_rps", "requests/s, API key + RBAC / public (issue 10: >= 0.95)"),
    ("kak_per_cpu_s", "ka_per_cpu_s", "requests per proxy CPU-second, API key + RBAC / public"),
]


def session_rows(values):
    out = []
    for num, den, what in SESSION_RATIOS:
        cells = []
        for p in PROXIES:
            a, b = values.get((p, num)), values.get((p, den))
            cells.append(f"{statistics.median(a) / statistics.median(b):.2f}" if a and b else "-")
        if cells != ["-", "-"]:
            out.append((what, cells[0], cells[1]))
    return out


# keepalive-policy: the figure is Drawbridge authenticating and authorising every
# request against nginx's plain, unauthenticated proxy. Two nginx baselines: the same requests
# (cookies and paths, forwarded unchecked) and the plain keep-alive scenario (GET /, no cookie).
POLICY_TARGET = 0.9
POLICY_RATIOS = [
    ("kap_rps", "nginx", "kap_rps", "requests/s vs nginx, same requests forwarded unchecked"),
    ("kap_rps", "nginx", "ka_rps", "requests/s vs nginx, plain keep-alive (GET /, no cookie)"),
    ("kap_per_cpu_s", "nginx", "kap_per_cpu_s", "requests per proxy CPU-second vs nginx, same requests"),
    ("kap_rps", "drawbridge", "ka_rps", "requests/s vs Drawbridge's own public keep-alive"),
]


def policy_rows(values):
    out = []
    db = values.get(("drawbridge", "kap_rps"))
    if not db:
        return out
    for num, proxy, den, what in POLICY_RATIOS:
        a, b = values.get(("drawbridge", num)), values.get((proxy, den))
        if a and b:
            r = statistics.median(a) / statistics.median(b)
            verdict = ("met" if r >= POLICY_TARGET else "NOT met") if num == "kap_rps" and proxy == "nginx" else ""
            out.append((what, f"{r:.2f}", verdict))
    return out


def main():
    results, meta_path, md_path = sys.argv[1:4]
    values = load(results)
    table = rows(values)
    with open(meta_path) as f:
        meta = [l.rstrip("\n") for l in f if l.strip()]

    header = ("scenario", "metric", "nginx", "drawbridge", "DB/nginx", "")
    widths = [max(len(str(r[i])) for r in table + [header]) for i in range(6)]
    line = lambda r: "  ".join(str(c).ljust(w) if i < 2 or i == 5 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    print()
    print(line(header))
    print("  ".join("-" * w for w in widths).rstrip())
    last = None
    for r in table:
        shown = r[:6] if r[0] != last else ("",) + r[1:6]
        last = r[0]
        print(line(shown))
    print()
    srows = session_rows(values)
    if srows:
        print("authenticated / public keep-alive (same proxy, medians):")
        for what, n, d in srows:
            print(f"  {what}: nginx {n}, drawbridge {d}")
        print()
    prows = policy_rows(values)
    if prows:
        print(f"authenticated + authorised Drawbridge (keepalive-policy) / baseline (medians; target >= {POLICY_TARGET}):")
        for what, r, verdict in prows:
            print(f"  {what}: {r}" + (f"  (target {verdict})" if verdict else ""))
        print()
    print(f"medians over {max(r[6] for r in table)} round(s); ratio = drawbridge / nginx")
    for m in meta:
        print("  " + m)

    with open(md_path, "w") as f:
        f.write("# Drawbridge vs nginx\n\n")
        f.write("| Scenario | Metric | nginx | Drawbridge | Drawbridge/nginx | |\n")
        f.write("|---|---|---:|---:|---:|---|\n")
        for r in table:
            f.write(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} |\n")
        f.write(f"\nMedians over {max(r[6] for r in table)} round(s); ratio = Drawbridge / nginx.\n\n")
        if srows:
            f.write("| Authenticated / public keep-alive (same proxy) | nginx | Drawbridge |\n|---|---:|---:|\n")
            for what, n, d in srows:
                f.write(f"| {what} | {n} | {d} |\n")
            f.write("\n")
        if prows:
            f.write(f"| Authenticated + authorised Drawbridge (keepalive-policy) / baseline | ratio | target >= {POLICY_TARGET} |\n|---|---:|---|\n")
            for what, r, verdict in prows:
                f.write(f"| {what} | {r} | {verdict} |\n")
            f.write("\n")
        for m in meta:
            f.write(f"- {m}\n")
        # Every round's figure, in round order, to show the spread behind each median.
        f.write("\n## Per-round figures\n\n| Metric | nginx | Drawbridge |\n|---|---|---|\n")
        for metric, scenario, what, _ in METRICS:
            cells = [", ".join(fmt(v) for v in values.get((p, metric), [])) or "-" for p in PROXIES]
            if cells != ["-", "-"]:
                f.write(f"| {scenario}: {what} | {cells[0]} | {cells[1]} |\n")


if __name__ == "__main__":
    main()
