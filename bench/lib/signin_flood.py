#!/usr/bin/env python3
"""Password sign-ins per second against a running gateway, alone and while OIDC callbacks flood it.

    signin_flood.py --port P --email E --password PW --seconds S [--clients N]
                    [--flood N --issuer URL --cacert CERT]

Password clients loop over the browser's sign-in (GET /.drawbridge/login for the CSRF cookie, POST
/.drawbridge/login/password) and count the 303s. With --flood, N more threads send OIDC callbacks
as the issue's attacker did: half replay one sign-in's state with made-up codes, half start a
fresh sign-in each time (a new state) and answer it with a made-up code, while the issuer holds
every token request (its /control/hold), so each callback that reaches the provider occupies a
provider thread. Prints one JSON object.
"""
import argparse
import http.client
import json
import ssl
import threading
import time
import urllib.parse

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def request(port, method, path, headers=None, body=None, timeout=60):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=CTX, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=dict(headers or {}, Host="localhost:%d" % port, Connection="close"))
        r = c.getresponse()
        r.read()
        return r.status, r.getheaders()
    finally:
        c.close()


def cookies_of(headers):
    out = {}
    for k, v in headers:
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            out[name] = rest.split(";")[0]
    return out


def password_client(args, stop, stats):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            _, h = request(args.port, "GET", "/.drawbridge/login")
            csrf = cookies_of(h)["__Host-drawbridge-csrf"]
            body = urllib.parse.urlencode({"csrf": csrf, "rd": "", "email": args.email, "password": args.password})
            status, _ = request(args.port, "POST", "/.drawbridge/login/password",
                                {"Cookie": "__Host-drawbridge-csrf=" + csrf, "Content-Type": "application/x-www-form-urlencoded"}, body)
        except Exception:
            status = -1
        with stats["lock"]:
            stats["password"][status] = stats["password"].get(status, 0) + 1
            if status == 303:
                stats["latencies"].append(time.monotonic() - t0)


def start_flight(port):
    _, h = request(port, "GET", "/.drawbridge/oidc/start?provider=idp")
    loc = dict((k.lower(), v) for k, v in h).get("location", "")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query).get("state", [""])[0]
    return cookies_of(h).get("__Host-drawbridge-oidc", ""), state


def flood_client(args, stop, stats, replay):
    n = 0
    cookie, state = start_flight(args.port)
    while not stop.is_set():
        n += 1
        try:
            if not replay:
                cookie, state = start_flight(args.port)
            status, _ = request(args.port, "GET", "/.drawbridge/oidc/callback?state=%s&code=made-up-%d" % (state, n),
                                {"Cookie": "__Host-drawbridge-oidc=" + cookie}, timeout=30)
        except Exception:
            status = -1
        with stats["lock"]:
            stats["flood"][status] = stats["flood"].get(status, 0) + 1


def control(args, path, payload):
    ctx = ssl.create_default_context(cafile=args.cacert)
    u = urllib.parse.urlsplit(args.issuer)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    c.request("POST", path, body=json.dumps(payload), headers={"Content-Type": "application/json"})
    c.getresponse().read()
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--email", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--flood", type=int, default=0)
    ap.add_argument("--issuer")
    ap.add_argument("--cacert")
    args = ap.parse_args()
    stats = {"lock": threading.Lock(), "password": {}, "flood": {}, "latencies": []}
    stop = threading.Event()
    threads = []
    if args.flood:
        control(args, "/control/hold", {"token": True})
        for i in range(args.flood):
            threads.append(threading.Thread(target=flood_client, args=(args, stop, stats, i % 2 == 0), daemon=True))
        for t in threads:
            t.start()
        time.sleep(2)  # let the flood fill the provider pool first
    pw = [threading.Thread(target=password_client, args=(args, stop, stats), daemon=True) for _ in range(args.clients)]
    t0 = time.monotonic()
    for t in pw:
        t.start()
    time.sleep(args.seconds)
    stop.set()
    elapsed = time.monotonic() - t0
    if args.flood:
        control(args, "/control/hold", {"token": False})
    for t in pw + threads:
        t.join(timeout=40)
    lat = sorted(stats["latencies"])
    ok = stats["password"].get(303, 0)
    print(json.dumps({
        "seconds": round(elapsed, 1), "password_clients": args.clients, "flood_clients": args.flood,
        "password_sign_ins_per_second": round(ok / elapsed, 2),
        "password_p50_s": round(lat[len(lat) // 2], 3) if lat else None,
        "password_max_s": round(lat[-1], 3) if lat else None,
        "password_statuses": stats["password"], "flood_statuses": stats["flood"],
    }))


if __name__ == "__main__":
    main()
