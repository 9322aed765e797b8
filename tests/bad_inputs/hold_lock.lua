-- hold_lock.lua <run dir> — test helper of the bad-input table: holds the run
-- lock of <run dir> (coconut.fs.lock on <run dir>/.lock, as coco.runlock
-- takes it) until the file <run dir>/.stop_holding appears, so that a second
-- run into the same directory can be shown to be refused.
local root = assert(arg[1], "usage: hold_lock.lua <run dir>")
local lk = assert(coconut.fs.lock(root .. "/.lock"))
assert(coconut.fs.write(root .. "/.holding", "ready\n"))
for _ = 1, 600 do -- at most about 2 minutes
  if coconut.fs.exists(root .. "/.stop_holding") then break end
  os.execute("sleep 0.2")
end
coconut.fs.remove(root .. "/.holding")
coconut.fs.remove(root .. "/.stop_holding")
lk:release()
