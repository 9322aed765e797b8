-- Data-parallel training on MPI (issue 18, scripts/coco/dist.lua): 2 ranks on
-- this machine against one process, on the quick preset.
--   * equivalence: the same losses within the fp32 summation-order bound
--     below, identical eval rows, final parameters within the bound, and
--     rank 0 alone printing;
--   * --resume under MPI after a kill ends where the uninterrupted 2-rank run
--     ends, bit for bit;
--   * failure: a bad file seen by rank 1 only ends the whole job within
--     seconds with rank 1's message; ranks with different options are
--     refused at start.
-- Skipped (not failed) without mpirun, in a build without MPI, and under the
-- sanitizers (LeakSanitizer reports OpenMPI's own allocations).
local T = require "tap"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"
local MPIRUN = "sh tests/mpi/mpirun.sh"

-- The bounds (README, "Multi-machine runs"). One step: tests/mpi/grad_step.lua
-- checks every gradient tensor against one process's within the fp32
-- summation-order bound 2 (m - 1) u || sum_j |g_j| || (m micro-batches,
-- u = 2^-24) and bit-identical weights on every rank after the AdamW step.
-- A whole run: the loss of step 1 is the same (same weights, same
-- micro-batches); after that the rounding differences ride along, and AdamW
-- amplifies some: it divides by sqrt(v), so a gradient element near 0 whose
-- sign the rounding flips moves by ~lr either way, most after each optimizer
-- reset (every stage switch here). Measured on this test (36 steps + 6 of
-- pretraining, lr 3e-3): losses within 3.4e-7 relative, weights within
-- 2.2e-3 relative (L2 per tensor); with the words rendering 1.9e-5 and
-- 3.7e-3. The asserted bounds leave a margin of 5x or more; without the
-- gradient allreduce the loss is off by 8e-3 at step 1 already.
local LOSS_REL = 1e-4   -- per step, |loss_2 - loss_1| / |loss_1|
local PARAM_REL = 2e-2  -- final weights, ||p_2 - p_1|| / ||p_1|| per tensor

local function ready()
  if os.getenv("COCONUT_SANITIZED") then return false, "sanitizer build (LeakSanitizer reports OpenMPI's allocations)" end
  if not coconut.mpi.compiled() then return false, "this coconut was built without MPI (MPI=0, or libopenmpi-dev was absent)" end
  if T.sh("command -v mpirun") ~= 0 then return false, "mpirun not found (Debian: openmpi-bin)" end
  return true
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function read(path) return assert(coconut.csv.read(path)) end

-- Quick preset (symbolic rendering: the tiny model gets answers right), Coconut
-- only (latent passes, a curriculum, pretraining), 4
-- micro-batches of 4 per step so each rank has two, eval batches of 8 so each
-- rank evaluates some; 6 epochs: 36 steps + 6 pretraining steps.
local ARGS = "--preset quick --format symbolic --method coconut --micro_batch 4 --eval_batch 8 --epochs 6"

local shared -- the runs several tests compare, made once
local function runs()
  if shared then return shared end
  local d = T.tmpdir("mpi")
  local s = {dir = d, data = d .. "/data"}
  local function run(tag, launcher, extra, env)
    local cmd = string.format("%s COCONUT_THREADS=1 timeout 300 %s %s run experiments/prosqa_k6.lua %s %s --results %s --data %s",
      env or "", launcher, BIN, ARGS, extra or "", q(d .. "/" .. tag), q(s.data))
    local t0 = coconut.time()
    local rc, out = T.sh(cmd)
    return rc, out, coconut.time() - t0, d .. "/" .. tag .. "/prosqa_k6/quick/coconut"
  end
  local rc, out
  rc, out, s.t1, s.one = run("one", "", "")
  if rc ~= 0 then error("single-process run failed (exit " .. rc .. "):\n" .. out) end
  rc, out, s.t2, s.two = run("two", MPIRUN .. " -np 2", "")
  if rc ~= 0 then error("2-rank run failed (exit " .. rc .. "):\n" .. out) end
  s.out2 = out
  s.run = run
  shared = s
  return s
end

local function params(dir)
  local t = assert(coconut.safetensors.load(dir .. "/checkpoints/last/model.safetensors"))
  return t
end

local function flat(t)
  local out = {}
  local function walk(x)
    if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end
  end
  walk(t:totable())
  return out
end

T.test("mpi: 2 ranks train as one process (losses, eval rows, weights within the fp32 bound)", function()
  local ok, why = ready()
  if not ok then T.skip(why) end
  local s = runs()
  -- losses, step by step (the data order is the single-process one)
  local m1, m2 = read(s.one .. "/metrics.csv"), read(s.two .. "/metrics.csv")
  T.eq(#m2, #m1, "optimizer steps")
  T.ok(#m1 >= 30, "a few dozen steps: " .. #m1)
  local worst = 0
  for i, r in ipairs(m1) do
    local a, b = tonumber(r.loss), tonumber(m2[i].loss)
    T.eq(m2[i].step, r.step); T.eq(m2[i].epoch, r.epoch); T.eq(m2[i].stage, r.stage)
    local rel = math.abs(b - a) / math.abs(a)
    worst = math.max(worst, rel)
    T.ok(rel <= LOSS_REL, string.format("step %s: loss %.9g (2 ranks) vs %.9g (1 process), relative %.3g > %g", r.step, b, a, rel, LOSS_REL))
  end
  -- step 1: same weights, same micro-batches: the same loss to the last bit of
  -- its f32 value (the means of the micro-batch losses are summed in f64)
  T.near(tonumber(m2[1].loss), tonumber(m1[1].loss), 1e-6 * tonumber(m1[1].loss), "step 1 loss")
  print(string.format("# mpi: %d steps, worst relative loss difference %.3g (bound %g)", #m1, worst, LOSS_REL))
  -- eval rows: identical, every column, every split and epoch
  local e1, cols = read(s.one .. "/eval.csv")
  local e2 = read(s.two .. "/eval.csv")
  T.eq(#e2, #e1, "eval rows")
  T.ok(#e1 > 100, "eval rows: " .. #e1)
  for i, r in ipairs(e1) do
    for _, c in ipairs(cols) do
      T.eq(e2[i][c], r[c], string.format("eval.csv row %d column %s", i, c))
    end
  end
  -- summary: the same accuracies and example counts
  local s1, s2 = read(s.one .. "/summary.csv"), read(s.two .. "/summary.csv")
  T.eq(#s2, #s1)
  for i, r in ipairs(s1) do
    T.eq(s2[i].split, r.split); T.eq(s2[i].accuracy, r.accuracy); T.eq(s2[i].n, r.n)
  end
  -- final weights (checkpoints/last, written by rank 0)
  local p1, p2 = params(s.one), params(s.two)
  local n, wp = 0, 0
  for name, t in pairs(p1) do
    n = n + 1
    local a, b = flat(t), flat(assert(p2[name], name))
    T.eq(#b, #a, name)
    local d2, a2 = 0, 0
    for i = 1, #a do d2 = d2 + (a[i] - b[i]) ^ 2; a2 = a2 + a[i] ^ 2 end
    local rel = math.sqrt(d2) / math.max(math.sqrt(a2), 1e-30)
    wp = math.max(wp, rel)
    T.ok(rel <= PARAM_REL, string.format("%s: ||difference|| / ||p|| = %.3g over the bound %g", name, rel, PARAM_REL))
  end
  T.ok(n > 10, "parameters compared")
  print(string.format("# mpi: final weights, worst ||difference|| / ||p|| %.3g (bound %g)", wp, PARAM_REL))
  -- rank 0 alone prints: the data line once, and the data-parallel banner
  local _, k = s.out2:gsub("%[prosqa_k6%] data: 96 train", "")
  T.eq(k, 1, "the data line printed once:\n" .. s.out2)
  T.ok(s.out2:find("data parallel: 2 ranks", 1, true), "the banner names 2 ranks")
  print(string.format("# mpi: wall time %.1f s one process, %.1f s 2 ranks (tiny model: communication dominates)", s.t1, s.t2))
end)

T.test("mpi: one step on 2 and 3 ranks: gradients within the summation-order bound, same weights everywhere", function()
  local ok, why = ready()
  if not ok then T.skip(why) end
  for _, np in ipairs{2, 3} do
    local rc, out = T.sh(string.format("COCONUT_THREADS=1 timeout 120 %s -np %d %s run tests/mpi/grad_step.lua", MPIRUN, np, BIN))
    T.eq(rc, 0, np .. " ranks:\n" .. out)
    T.ok(out:find("grad_step ok: " .. np .. " ranks", 1, true), out)
    print("# " .. (out:match("grad_step ok[^\n]*") or ""))
  end
end)

T.test("mpi: --resume after a kill ends where the uninterrupted 2-rank run ends", function()
  local ok, why = ready()
  if not ok then T.skip(why) end
  local s = runs()
  -- every rank SIGKILLs itself after its 14th optimizer step (mid epoch 3);
  -- mpirun then ends the job
  local rc, out = s.run("resumed", MPIRUN .. " -np 2", "", "COCONUT_TEST_KILL_AT=step:14")
  T.ok(rc ~= 0, "the killed job exits non-zero:\n" .. out)
  local dir = s.dir .. "/resumed/prosqa_k6/quick/coconut"
  T.ok(coconut.fs.exists(dir .. "/checkpoints/last/state.json"), "a checkpoint was written before the kill")
  rc, out = s.run("resumed", MPIRUN .. " -np 2", "--resume")
  if rc ~= 0 then error("--resume under mpirun failed (exit " .. rc .. "):\n" .. out) end
  T.ok(out:find("resuming after epoch", 1, true), "resumed from the checkpoint:\n" .. out)
  -- the same numbers as the uninterrupted 2-rank run, bit for bit (timing columns aside)
  local a, b = read(s.two .. "/metrics.csv"), read(dir .. "/metrics.csv")
  T.eq(#b, #a, "metrics rows")
  for i, r in ipairs(a) do
    for _, c in ipairs{"step", "epoch", "stage", "loss", "lr", "grad_norm"} do T.eq(b[i][c], r[c], "metrics row " .. i .. " " .. c) end
  end
  local e1, e2 = assert(coconut.fs.read(s.two .. "/eval.csv")), assert(coconut.fs.read(dir .. "/eval.csv"))
  T.ok(e1 == e2, "eval.csv identical")
  local p1, p2 = params(s.two), params(dir)
  for name, t in pairs(p1) do
    local x, y = flat(t), flat(p2[name])
    for i = 1, #x do if x[i] ~= y[i] then error(name .. ": weights differ after --resume at element " .. i) end end
  end
end)

T.test("mpi: a bad file on one rank ends the job within seconds with that rank's message", function()
  local ok, why = ready()
  if not ok then T.skip(why) end
  local s = runs()
  -- two working directories with the same relative --data: rank 0's holds the
  -- good files, rank 1's a truncated train.json, as a node with a broken copy
  local d = s.dir .. "/bad"
  for _, w in ipairs{"r0", "r1"} do assert(coconut.fs.mkdir(d .. "/" .. w .. "/data", {parents = true})) end
  for _, f in ipairs{"train.json", "valid.json", "test.json"} do
    local text = assert(coconut.fs.read(s.data .. "/" .. f))
    assert(coconut.fs.write(d .. "/r0/data/" .. f, text))
    assert(coconut.fs.write(d .. "/r1/data/" .. f, f == "train.json" and text:sub(1, 5000) or text))
  end
  local cwd = assert(os.getenv("PWD"))
  local bin = BIN:sub(1, 1) == "/" and BIN or cwd .. "/" .. BIN
  local app = string.format("%s run %s/experiments/prosqa_k6.lua %s --data data --results %s", q(bin), q(cwd), ARGS, q(d .. "/results"))
  local t0 = coconut.time()
  local rc, out = T.sh(string.format("COCONUT_THREADS=1 timeout 60 %s -np 1 --wdir %s %s : -np 1 --wdir %s %s", MPIRUN,
    q(d .. "/r0"), app, q(d .. "/r1"), app))
  local secs = coconut.time() - t0
  T.ok(rc ~= 0 and rc ~= 124, "the job fails, not hangs (exit " .. tostring(rc) .. "):\n" .. out)
  T.eq(rc, 2, "a user error's exit status:\n" .. out)
  T.ok(out:find("rank 1 of 2", 1, true), "the failing rank is named:\n" .. out)
  T.ok(out:find("train split cannot be loaded", 1, true) and out:find("train.json", 1, true), "with its message:\n" .. out)
  T.ok(secs < 30, string.format("ended in %.1f s", secs))
  T.ok(not coconut.fs.exists(d .. "/results/prosqa_k6/quick/coconut"), "no run directory written")
end)

T.test("mpi: ranks with different options are refused at start", function()
  local ok, why = ready()
  if not ok then T.skip(why) end
  local s = runs()
  local app = string.format("%s run experiments/prosqa_k6.lua %s --data %s --results %s", q(BIN), ARGS, q(s.data), q(s.dir .. "/mismatch"))
  local t0 = coconut.time()
  local rc, out = T.sh(string.format("COCONUT_THREADS=1 timeout 60 %s -np 1 %s --lr 0.003 : -np 1 %s --lr 0.002", MPIRUN, app, app))
  T.eq(rc, 2, "refused with a user error:\n" .. out)
  T.ok(out:find("differ in their binary or resolved configuration", 1, true), out)
  T.ok(coconut.time() - t0 < 30, "at once")
  T.ok(not coconut.fs.exists(s.dir .. "/mismatch"), "nothing written")
end)

T.test("mpi: coconut.mpi in one process is a single rank", function()
  local M = coconut.mpi
  if M.launched() then T.skip("running under a launcher") end
  T.eq(M.rank(), 0); T.eq(M.size(), 1)
  local t = coconut.tensor.from({1, 2, 3})
  M.allreduce_sum(t, 0.5)
  T.eq(t:get(1), 0.5); T.eq(t:get(3), 1.5)
  T.eq(M.allreduce_sum(4), 4.0)
  T.eq(M.bcast("x"), "x"); T.eq(M.bcast(7), 7); T.eq(M.bcast(nil), nil); T.eq(M.bcast(true), true)
  local g = M.allgather("abc")
  T.eq(#g, 1); T.eq(g[1], "abc")
  T.eq(#M.config_hash_check("cfg"), 16)
  T.ok(M.config_hash_check("cfg") ~= M.config_hash_check("cfg2"), "the hash depends on the string")
  M.barrier()
  -- the data-parallel share is fixed by n and the rank count
  local D = require "coco.dist"
  local lo, hi = D.share(7, 0, 2); T.eq(lo, 1); T.eq(hi, 3)
  lo, hi = D.share(7, 1, 2); T.eq(lo, 4); T.eq(hi, 7)
  lo, hi = D.share(1, 0, 2); T.ok(lo > hi, "rank 0 of 2 gets nothing of 1")
  lo, hi = D.share(1, 1, 2); T.eq(lo, 1); T.eq(hi, 1)
  T.raises(function() M.allreduce_sum("x") end, "expected a number")
end)
