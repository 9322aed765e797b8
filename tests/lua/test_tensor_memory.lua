-- Tensor memory and the garbage collector (issue 11, item 6): tensor handles report
-- the C bytes they own, so loops that drop results keep memory bounded. Peak RSS
-- (VmHWM) is process-wide and earlier tests raise it, so growth is measured with
-- the current RSS (coconut.rss) against a start taken in the test itself.
local T = require "tap"
local tensor = coconut.tensor
local MB = 2 ^ 20

T.test("tensor handles report the bytes they own (live_bytes)", function()
  collectgarbage()
  local base = tensor.live_bytes()
  local t = tensor.zeros({256, 256})
  T.eq(tensor.live_bytes() - base, 256 * 256 * 4, "zeros")
  local u = t:clone()
  T.eq(tensor.live_bytes() - base, 2 * 256 * 256 * 4, "clone")
  t:close()
  T.eq(tensor.live_bytes() - base, 256 * 256 * 4, "close credits once")
  t:close() -- closing twice must not credit twice
  T.eq(tensor.live_bytes() - base, 256 * 256 * 4, "second close")
  u = nil -- luacheck: ignore
  collectgarbage()
  T.eq(tensor.live_bytes(), base, "collected")
  -- Handles on tensors the model also holds free nothing when collected: not charged.
  local m = coconut.gpt2.new{preset = "tiny", seed = 1, dropout = 0}
  local before = tensor.live_bytes()
  local p = m:params()
  T.ok(next(p) ~= nil)
  T.eq(tensor.live_bytes(), before, "m:params() handles")
end)

T.test("a loop of dead 1 MB matmul results keeps RSS and live bytes bounded", function()
  collectgarbage(); collectgarbage()
  local a, b = tensor.randn({512, 64}, 1), tensor.randn({64, 512}, 2)
  local rss0 = assert(coconut.rss())
  local live0 = tensor.live_bytes()
  local grow, live = 0, 0
  for _ = 1, 500 do
    local c = a:matmul(b) -- 512x512 f32 = 1 MB, garbage at the next iteration
    local g = coconut.rss() - rss0
    if g > grow then grow = g end
    local l = tensor.live_bytes() - live0
    if l > live then live = l end
  end
  -- Without accounting nothing collects these (the Lua heap hardly grows): 500 MB.
  -- Under AddressSanitizer (make sanitize sets COCONUT_SANITIZED) freed blocks
  -- wait in its quarantine (256 MB by default): RSS says nothing there, and
  -- the live bytes alone are checked.
  local sanitized = os.getenv("COCONUT_SANITIZED") ~= nil
  T.ok(live < 64 * MB and (sanitized or grow < 64 * MB),
    string.format("over 500 dead 1 MB results live tensor bytes reached %.0f MB and RSS grew %.0f MB (bound 64 MB each)",
      live / MB, grow / MB))
end)

T.test("a stopped collector is obeyed; restarting it resumes collection", function()
  collectgarbage()
  local base = tensor.live_bytes()
  collectgarbage("stop")
  local ok, err = pcall(function()
    for _ = 1, 40 do local t = tensor.zeros({256, 1024}) end -- 1 MB each
  end)
  local held = tensor.live_bytes() - base
  collectgarbage("restart")
  assert(ok, err)
  T.eq(held, 40 * MB, "nothing collected while stopped")
  -- The bytes charged meanwhile count: allocation soon triggers a collection.
  local dropped = false
  for _ = 1, 200 do
    local t = tensor.zeros({256, 1024})
    if tensor.live_bytes() - base < held then dropped = true; break end
  end
  T.ok(dropped, "no collection within 200 MB after restart")
end)
