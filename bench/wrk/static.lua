-- The same request every time (wrk's fast path: built once, never by Lua per request).
-- args: METHOD [HEADER: value ...]
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "common.lua")

function init(args)
  wrk.method = args[1] or "GET"
  for i = 2, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    wrk.headers[name] = value
  end
end
