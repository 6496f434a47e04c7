#!/usr/bin/env python3
"""Generates the keepalive-policy scenario of bench/run: a policy, users and allowed requests.

usage: policy_gen.py OUTDIR [--users 10000] [--sample 200] [--paths-per-user 16] [--seed 1]

Writes, into OUTDIR:
  policy.json5   the `roles`, `groups`, `routes` and `organizations` sections of drawbridge.json5
                 (100 roles, 20 groups, 1,000 protected routes, 50 organisations), shaped like
                 Sources/policy-bench/main.swift: a quarter of the routes bind {org}, an eighth
                 {org}/groups/{group}, an eighth {org}/users/{user} with an owner override
  users.json     10,000 users in the users.json format (Sources/DrawbridgeStore/StoreFiles.swift):
                 one membership each (org<u % 50>), 1-3 roles, 0-2 groups, all with the same
                 low-cost PBKDF2 hash (1,000 iterations: sign-in speed is not what is measured)
  password       that password
  sample.tsv     the users to sign in: email, then tab-separated paths that the user's roles,
                 org and groups allow for GET (computed here with the rules of docs/POLICY.md;
                 bench/run checks them against the gateway before measuring)

Deterministic for a given seed, except the password salt.
"""
import argparse
import base64
import hashlib
import json
import os
import random

SERVICES = 50
ORGS = 50
ROUTES = 1000
GROUPS = 20


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def build_policy(rng):
    roles = {"admin": ["*"]}
    for i in range(1, 10):
        roles[f"svc{i}-all"] = [f"svc{i}:*"]
    for i in range(10, 100):
        s, t = rng.randrange(SERVICES), rng.randrange(SERVICES)
        perms = [f"svc{s}:read", f"svc{s}:write", f"svc{t}:read", "users:read:any"]
        roles[f"role-{i}"] = list(dict.fromkeys(perms))   # s == t: no duplicate (a config error)
    names = list(roles)
    groups = {f"team-{g}": list(dict.fromkeys([names[10 + rng.randrange(90)], names[10 + rng.randrange(90)]]))
              for g in range(GROUPS)}
    routes = []
    for r in range(ROUTES):
        kind = {1: "org", 5: "org", 3: "group", 7: "user"}.get(r % 8, "plain")
        routes.append({"r": r, "svc": r % SERVICES, "kind": kind, "sensitive": r % 50 == 0})
    return roles, groups, routes


def route_json5(rt):
    r, s = rt["r"], rt["svc"]
    access = [f'methods: {{ GET: "svc{s}:read", HEAD: "svc{s}:read", POST: "svc{s}:write", "*": "svc{s}:admin" }}']
    if rt["kind"] == "org":
        access.append(f'bind: "/r{r}/{{org}}/"')
    elif rt["kind"] == "group":
        access.append(f'bind: "/r{r}/{{org}}/groups/{{group}}/"')
    elif rt["kind"] == "user":
        access.append(f'bind: "/r{r}/{{org}}/users/{{user}}/", ownerOverride: "users:read:any"')
    if rt["sensitive"]:
        access.append("sensitive: true")
    return f'    {{ pathPrefix: "/r{r}/", upstream: "app", access: {{ {", ".join(access)} }} }},'


def grants(patterns, permission):
    for p in patterns:
        if p == "*" or p == permission or (p.endswith(":*") and permission.startswith(p[:-1])):
            return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--sample", type=int, default=200)
    ap.add_argument("--paths-per-user", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    roles, groups, routes = build_policy(rng)
    role_names = list(roles)

    with open(os.path.join(a.outdir, "policy.json5"), "w") as f:
        f.write("  roles: {\n")
        for name, perms in roles.items():
            f.write(f'    "{name}": {{ permissions: {json.dumps(perms)} }},\n')
        f.write("  },\n  groups: {\n")
        for name, rs in groups.items():
            f.write(f'    "{name}": {{ roles: {json.dumps(rs)} }},\n')
        f.write("  },\n  organizations: {\n")
        for o in range(ORGS):
            f.write(f'    org{o}: {{ name: "Org {o}", emailDomains: ["org{o}.test"] }},\n')
        f.write("  },\n  routes: [\n")
        for rt in routes:
            f.write(route_json5(rt) + "\n")
        f.write("  ],\n")

    password = b64url(os.urandom(18))
    salt = os.urandom(16)
    iterations = 1000
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, 32)
    pw_hash = f"$pbkdf2-sha256$i={iterations}${b64url(salt)}${b64url(dk)}"
    with open(os.path.join(a.outdir, "password"), "w") as f:
        f.write(password + "\n")

    users = []
    for u in range(a.users):
        # Mostly ordinary roles; every 500th user is also an admin (as in policy-bench).
        urs = sorted({role_names[1 + rng.randrange(99)] for _ in range(1 + rng.randrange(3))})
        if u % 500 == 0:
            urs.append("admin")
        ugs = sorted({f"team-{rng.randrange(GROUPS)}" for _ in range(rng.randrange(3))})
        users.append({"id": f"user{u:05d}", "email": f"user{u:05d}@org{u % ORGS}.test", "status": "active",
                      "sessionEpoch": 0, "passwordHash": pw_hash,
                      "memberships": [{"org": f"org{u % ORGS}", "roles": urs, "groups": ugs}]})
    with open(os.path.join(a.outdir, "users.json"), "w") as f:
        json.dump({"version": 1, "users": users}, f, indent=1)

    # The sample: evenly spread users; per user, random routes its permissions allow for GET,
    # with a path that satisfies the route's template for that user.
    # (Offset by 7 so that the sample does not pick every 500th user, the admins, 10 times too often.)
    step = max(1, a.users // a.sample)
    with open(os.path.join(a.outdir, "sample.tsv"), "w") as f:
        for u in range(7 % step, step * a.sample, step):
            user = users[u]
            m = user["memberships"][0]
            patterns = [p for r in m["roles"] for p in roles.get(r, [])]
            patterns += [p for g in m["groups"] for r in groups.get(g, []) for p in roles.get(r, [])]
            allowed = []
            for rt in routes:
                r = rt["r"]
                if not grants(patterns, f"svc{rt['svc']}:read"):
                    continue
                if rt["kind"] == "plain":
                    allowed.append(f"/r{r}/items/{rng.randrange(1000)}")
                elif rt["kind"] == "org":
                    allowed.append(f"/r{r}/{m['org']}/items/{rng.randrange(1000)}")
                elif rt["kind"] == "group":
                    if m["groups"]:
                        allowed.append(f"/r{r}/{m['org']}/groups/{rng.choice(m['groups'])}/reports/{rng.randrange(100)}")
                else:
                    # Their own record, or (a quarter, when their roles grant the override) another user's
                    # of the same org: an override reaches members of the caller's org only (docs/POLICY.md).
                    other = grants(patterns, "users:read:any") and rng.randrange(4) == 0
                    same_org = range(u % ORGS, a.users, ORGS)
                    target = users[rng.choice(same_org)]["id"] if other else user["id"]
                    allowed.append(f"/r{r}/{m['org']}/users/{target}/profile")
            if not allowed:
                continue
            rng.shuffle(allowed)
            f.write("\t".join([user["email"]] + allowed[:a.paths_per_user]) + "\n")


if __name__ == "__main__":
    main()
