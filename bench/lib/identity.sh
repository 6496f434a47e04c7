# Sourced by bench/run and bench/instructions-per-request: a gateway identity for the
# authenticated scenarios, made with the operator's CLI, and one real password sign-in through
# /.drawbridge/login to get a session cookie (the browser flow of
# Tests/IntegrationTests/Support/IdentityFixture.swift SignInClient, done with curl).

BENCH_EMAIL=bench@bench.test

# quietly COMMAND...: its output only when it fails.
quietly() { local out; out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }; }

# The access rule of the benchmarks' protected routes: the bench user's role `member` grants it.
# (A protected route without an access rule denies everyone, see docs/POLICY.md.)
BENCH_ACCESS='access: { methods: { "*": "app:use" } }'

# bench_auth_sections KEYFILE: the `auth`, `organizations`, `roles` and `groups` sections of
# drawbridge.json5.
# The idle window (4 h; renewal after half of it) outlasts any benchmark run, so no request carries a renewal:
# renewal re-seals the cookie, and wrk, which never stores the renewed cookie, would otherwise
# trigger it on every request after half the window.
bench_auth_sections() {
    cat <<EOF
  auth: { masterKeyFile: "$1", modes: ["password", "api_key"], auditLog: "off",
          session: { idleTimeoutSeconds: 14400, absoluteTimeoutSeconds: 43200 } },
  organizations: { bench: { name: "Bench", emailDomains: ["bench.test"] } },
  roles: { member: { permissions: ["app:use"] } },
  groups: { bench: { roles: ["member"] } },
EOF
}

# bench_identity BIN CONFDIR KEYFILE: master key (outside CONFDIR), session key, one user.
# Prints the user's password. CONFDIR/drawbridge.json5 must already name KEYFILE.
bench_identity() {
    local bin=$1 conf=$2 key=$3 password
    password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    quietly "$bin" master-key generate "$key" --config "$conf" || return 1
    quietly "$bin" secret set session-key-1 --random --config "$conf" || return 1
    printf '%s\n' "$password" | quietly "$bin" user add "$BENCH_EMAIL" --org bench --role member --group bench \
        --password-stdin --config "$conf" || return 1
    printf '%s\n' "$password"
}

# bench_sign_in PORT PASSWORD [EMAIL]: signs in (as BENCH_EMAIL unless EMAIL is given) through
# the running gateway; prints the value of the __Host-drawbridge cookie (fails if there is none).
bench_sign_in() {
    local port=$1 password=$2 email=${3:-$BENCH_EMAIL} base headers csrf cookie
    base="https://127.0.0.1:$port"
    # The login page sets the CSRF cookie (double submit: the form carries the same value).
    headers=$(curl -sk -D - -o /dev/null --max-time 10 "$base/.drawbridge/login") || return 1
    csrf=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-drawbridge-csrf=\([^;]*\).*/\1/p' <<<"$headers" | tr -d '\r' | head -1)
    [ -n "$csrf" ] || { echo "no CSRF cookie from $base/.drawbridge/login" >&2; return 1; }
    headers=$(curl -sk -D - -o /dev/null --max-time 30 -H "Cookie: __Host-drawbridge-csrf=$csrf" \
        --data-urlencode "csrf=$csrf" --data-urlencode "rd=" --data-urlencode "email=$email" \
        --data-urlencode "password=$password" "$base/.drawbridge/login/password") || return 1
    cookie=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-drawbridge=\([^;]*\).*/\1/p' <<<"$headers" | tr -d '\r' | head -1)
    [ -n "$cookie" ] || { echo "sign-in gave no session cookie:" >&2; echo "$headers" >&2; return 1; }
    printf '%s\n' "$cookie"
}
