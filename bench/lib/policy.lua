-- wrk script for bench/run's keepalive-policy scenario: every request carries one signed-in
-- user's session cookie and asks for a path that this user's roles, org and groups allow.
-- usage: wrk ... -s bench/lib/policy.lua URL -- PAIRS_FILE
-- PAIRS_FILE: one "COOKIE<TAB>PATH" line per request to send, in the order to send them
-- (bench/run shuffles them); the list is replayed round-robin. Requests are formatted once,
-- in init, so the client does the same small amount of Lua work per request for both proxies.

local requests = {}
local n = 0
local i = 0

function init(args)
   local file = assert(io.open(args[1], "r"), "cannot open " .. tostring(args[1]))
   for line in file:lines() do
      local cookie, path = line:match("^([^\t]+)\t([^\t]+)$")
      if cookie then
         n = n + 1
         requests[n] = wrk.format("GET", path, { ["Cookie"] = "__Host-drawbridge=" .. cookie })
      end
   end
   file:close()
   assert(n > 0, "no requests in " .. args[1])
   -- Each thread (and each wrk run) starts at a different place in the list.
   i = math.random(n) - 1
end

function request()
   i = i % n + 1
   return requests[i]
end
