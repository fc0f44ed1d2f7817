-- One request per line of a file (tokens, token ids or user ids), the approach of the shared
-- peers harness (/work/shared/peers/wrk/tokens.lua): each thread walks its own stride of the
-- list (thread k sends lines k, k+T, k+2T, ... counting from 0), so with enough lines no line is
-- sent twice; a thread that runs out starts over (counted in "wraps"). %TOKEN% in the body and
-- header templates, and TOKEN_HERE in the URL's path or query, are replaced by the line.
-- wrk builds one request of thread 0 to check the script and never sends it: that thread's
-- first line is used up unsent (bench/run.py knows, and samples its checks accordingly).
-- args: METHOD LINE_FILE NTHREADS BODY_TEMPLATE [HEADER: value ...]
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "common.lua")

local method, body_t, lines, headers_t = "GET", "", {}, {}
local pos, stride = 1, 1
wraps, used = 0, 0

function init(args)
  method = args[1]
  for line in io.lines(args[2]) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  stride = tonumber(args[3])
  body_t = args[4] or ""
  for i = 5, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers_t[name] = value
  end
  pos = thread_id + 1
end

function request()
  if pos > #lines then
    wraps = wraps + 1
    pos = thread_id + 1
  end
  local tok = lines[pos]
  pos = pos + stride
  used = used + 1
  local h = {}
  for k, v in pairs(headers_t) do h[k] = (v:gsub("%%TOKEN%%", tok)) end
  local body = nil
  if body_t ~= "" then body = (body_t:gsub("%%TOKEN%%", tok)) end
  local path = nil
  if wrk.path:find("TOKEN_HERE", 1, true) then path = (wrk.path:gsub("TOKEN_HERE", tok)) end
  return wrk.format(method, path, h, body)
end
