-- The request side, configured by the runner through the environment:
--   BENCH_TOKEN         bearer token sent as "Authorization: Bearer <token>"
--   BENCH_METHOD        request method (default GET)
--   BENCH_BODY          request body, with BENCH_CONTENT_TYPE
--   BENCH_PATHS_FILE    a file of paths, one per line, requested in turn (else the URL's path)
-- Headers and bodies are set once at load time, so wrk prebuilds the request and spends no Lua per
-- request; only path rotation needs a request() hook.
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

local paths_file = os.getenv("BENCH_PATHS_FILE")
if paths_file then
   local paths = {}
   for line in io.lines(paths_file) do
      paths[#paths + 1] = line
   end
   local next_index = 0
   function request()
      next_index = next_index % #paths + 1
      return wrk.format(nil, paths[next_index])
   end
end
