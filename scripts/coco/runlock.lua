-- coco.runlock — one run per run directory, and the leftovers of a killed one.
--
--   local RL = require "coco.runlock"
--   RL.lock(root)            -- before the first write into root; raises a user error if taken
--   RL.sweep_temp(dir)       -- removes "<file>.tmp.<pid>" files a killed writer left
--
-- The lock is an exclusive flock(2) on <root>/.lock (coconut.fs.lock), held
-- until the process exits. A second run into the same directory is refused
-- with a message naming the holder (pid, host, start time). The kernel drops
-- the lock when its holder dies, even by SIGKILL, so the .lock file a killed
-- run leaves behind never blocks --resume. The lock is taken once per
-- directory and process (nested callers, e.g. coco.seeds and the per-seed
-- run, share it); the file is never removed (see core/lua/lfiles.c).
local RL = {}

local held = {}

function RL.lock(root)
  if held[root] then return held[root] end
  local lk, err, who = coconut.fs.lock(root .. "/.lock")
  if not lk and who then
    coconut.user_error(string.format("%s is in use by another run (%s); wait for it to end, or pass --run NAME "
      .. "for a run of its own", root, who))
  end
  if not lk then coconut.user_error(err) end
  held[root] = lk -- referenced until exit: never collected, never released early
  return lk
end

-- Atomic writes go through "<path>.tmp.<pid>" (core/error.c); a process killed
-- inside one leaves that file behind. Under the run lock no other process
-- writes into the run directory, so every such file there is a leftover.
-- Returns the number removed.
function RL.sweep_temp(dir)
  local n = 0
  local list = coconut.fs.listdir(dir)
  if not list then return 0 end
  for _, e in ipairs(list) do
    local p = dir .. "/" .. e
    if coconut.fs.isdir(p) then
      n = n + RL.sweep_temp(p)
    elseif e:match("%.tmp%.%d+$") then
      if coconut.fs.remove(p) then n = n + 1 end
    end
  end
  return n
end

return RL
