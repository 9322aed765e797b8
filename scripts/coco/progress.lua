-- coco.progress — a progress bar on a terminal, plain log lines otherwise.
--
--   local P = require "coco.progress"
--   local bar = P.new{total = n, label = "stage 1 epoch 3/9", every = 20}
--   bar:update(i, {loss = 0.52})   -- i = items done
--   bar:done()
-- On a TTY (stderr) it redraws one line: label, i/total, bar, loss, it/s, ETA.
-- Otherwise it prints a line every `every` items and at the end.
-- Under MPI (coco.dist) only rank 0 prints: on the other ranks bars and
-- P.log lines are silent (their errors still print, core/main.c).
local P = {}
P.__index = P
local quiet = coconut.mpi.rank() ~= 0

local function fmt_time(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return string.format("%d:%02d:%02d", s // 3600, (s % 3600) // 60, s % 60) end
  return string.format("%d:%02d", s // 60, s % 60)
end
P.fmt_time = fmt_time

function P.new(o)
  local self = setmetatable({}, P)
  self.total = o.total or 0
  self.label = o.label or ""
  self.every = o.every or 50
  self.tty = o.tty
  if self.tty == nil then self.tty = coconut.isatty(2) end
  self.t0 = coconut.time()
  self.last_draw = 0
  self.unit = o.unit or "it"
  return self
end

function P:line(i, extra)
  local el = coconut.time() - self.t0
  local rate = i / math.max(el, 1e-9)
  local eta = self.total > 0 and (self.total - i) / math.max(rate, 1e-9) or 0
  local parts = {}
  for k, v in pairs(extra or {}) do
    parts[#parts + 1] = type(v) == "number" and string.format("%s %.4g", k, v) or (k .. " " .. tostring(v))
  end
  table.sort(parts)
  return string.format("%s %d/%d %s %.2f %s/s ETA %s", self.label, i, self.total, table.concat(parts, " "), rate, self.unit,
    fmt_time(eta)), el
end

function P:update(i, extra)
  if quiet then return end
  if self.tty then
    local now = coconut.time()
    if now - self.last_draw < 0.2 and i < self.total then return end
    self.last_draw = now
    local width = 24
    local filled = self.total > 0 and math.floor(width * i / self.total) or 0
    local text = self:line(i, extra)
    io.stderr:write("\r\27[K[" .. string.rep("#", filled) .. string.rep(".", width - filled) .. "] " .. text)
    io.stderr:flush()
  elseif i % self.every == 0 or i == self.total then
    io.stderr:write(self:line(i, extra) .. "\n")
    io.stderr:flush()
  end
end

function P:done(msg)
  if quiet then return end
  if self.tty then io.stderr:write("\r\27[K") end
  if msg then io.stderr:write(msg .. "\n") end
  io.stderr:flush()
end

function P.log(fmt, ...)
  if quiet then return end
  io.stderr:write(string.format(fmt, ...) .. "\n")
  io.stderr:flush()
end

return P
