-- wrk script: one request, its method and JSON body from the environment (METHOD, BODY), each
-- request carrying the next of the space-separated cookies in COOKIES.
wrk.method = os.getenv("METHOD") or "GET"
local body = os.getenv("BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local cookies = {}
for c in string.gmatch(os.getenv("COOKIES") or "", "%S+") do
  table.insert(cookies, c)
end
local next_cookie = 0
request = function()
  if #cookies > 0 then
    next_cookie = next_cookie % #cookies + 1
    wrk.headers["Cookie"] = cookies[next_cookie]
  end
  return wrk.format()
end
