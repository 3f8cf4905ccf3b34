-- Replays pre-signed /twilio/voice requests (one line each: signature TAB form body),
-- each wrk thread taking its own share so every request is a new CallSid.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  requests = {}
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == id then
      local sig, body = line:match("([^\t]*)\t(.*)")
      local headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = sig }
      requests[#requests + 1] = wrk.format("POST", "/twilio/voice", headers, body)
    end
    i = i + 1
  end
  n = 0
end

function request()
  n = n + 1
  return requests[(n - 1) % #requests + 1]
end
