-- The request side, configured by the runner through the environment:
--   BENCH_TOKEN         bearer token sent as "Authorization: Bearer <token>"
--   BENCH_METHOD        request method (default GET)
--   BENCH_BODY          request body, with BENCH_CONTENT_TYPE
--   BENCH_PATHS_FILE    a file of paths, one per line, requested in turn (else the URL's path)
--   BENCH_BODIES_FILE   a file of bodies, one per line, sent in turn (else BENCH_BODY)
-- Headers and bodies are set once at load time, so wrk prebuilds the request and spends no Lua per
-- request; only rotating paths or bodies needs a request() hook.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local token = os.getenv("BENCH_TOKEN")
if token then
   wrk.headers["Authorization"] = "Bearer " .. token
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body = os.getenv("BENCH_BODY")
if body then
   wrk.body = body
   wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
end

local function read_lines(variable)
   local name = os.getenv(variable)
   if not name then
      return nil
   end
   local lines = {}
   for line in io.lines(name) do
      lines[#lines + 1] = line
   end
   return lines
end

-- nil for what does not rotate: wrk.format then uses the URL's path or wrk.body.
local function nth(lines, index)
   return lines and lines[index % #lines + 1]
end

local paths = read_lines("BENCH_PATHS_FILE")
local bodies = read_lines("BENCH_BODIES_FILE")
if paths or bodies then
   local index = -1
   function request()
      index = index + 1
      return wrk.format(nil, nth(paths, index), nil, nth(bodies, index))
   end
end
