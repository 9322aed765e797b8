-- coco.killpoint — a TEST-ONLY hook to kill a run at a precise point.
--
--   COCONUT_TEST_KILL_AT=<event>:<n>[,<event>:<n>...] coconut run ...
--
-- makes the process SIGKILL itself the n-th time it passes K.point(<event>),
-- as `kill -9` from outside would: no Lua error, no cleanup, no flush. The
-- crash-resume test (tests/lua/test_crash_resume.lua) uses it to stop a run
-- mid-epoch, inside a checkpoint write, during an evaluation or between two
-- methods, and checks that --resume then ends bit-identical to a run that was
-- never interrupted. Points (counted per process, over all methods):
--   step                after each optimizer step (coco.run; metrics row written)
--   eval                after each generation batch of an evaluation (valid, test, extra, analysis)
--   checkpoint_model    inside a checkpoint write: model written, the rest not
--   checkpoint_written  inside a checkpoint write: complete in <which>.new/, not swapped in
--   checkpoint_swapped  inside a checkpoint write: swapped in, the old one not yet removed
--   epoch               after an epoch's checkpoints
--   method              after a method has finished, before the next starts (coco.experiment)
--   pretrain_step       after each optimizer step of the shared pretraining (coco.pretrain)
-- Without the variable every point is a table lookup and nothing else; the
-- variable is not meant for users and is not in `coconut --help`.
local K = {}

local targets, counts = {}, {}
do
  local spec = os.getenv("COCONUT_TEST_KILL_AT")
  if spec and spec ~= "" then
    for ev, n in spec:gmatch("([%w_]+):(%d+)") do targets[ev] = tonumber(n) end
  end
end

function K.point(event)
  local n = targets[event]
  if not n then return end
  counts[event] = (counts[event] or 0) + 1
  if counts[event] == n then
    -- the shell's parent is this process; SIGKILL is pending before the shell
    -- exits, so the process dies before os.execute returns
    os.execute("kill -9 $PPID")
    error("killpoint: kill -9 did not stop the process at " .. event, 0)
  end
end

return K
