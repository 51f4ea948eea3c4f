-- wrk script for the model proxy benchmark: one chat completion per request.
-- MP_TOKEN is the bearer token; MP_STREAM=1 asks for a streamed answer.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("MP_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local stream = os.getenv("MP_STREAM") == "1" and "true" or "false"
wrk.body = '{"model":"bench","stream":' .. stream ..
  ',"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'
