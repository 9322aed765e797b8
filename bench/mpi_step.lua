-- bench/mpi_step.lua — time of a data-parallel training step and its
-- communication share (issue 18). Runs alone or under mpirun:
--
--   COCONUT_THREADS=2 build/coconut run bench/mpi_step.lua [key=value ...]
--   COCONUT_THREADS=1 sh tests/mpi/mpirun.sh -np 2 build/coconut run bench/mpi_step.lua [key=value ...]
--
-- keys: preset (GPT-2 preset, default small), vocab (default 2048), seq
-- (tokens per example, 128), batch (examples per step, 16), micro (examples
-- per micro-batch, 4), steps (timed steps, 8), warmup (2).
-- Each step is what coco.run does: the step's micro-batches split over the
-- ranks (coco.dist), forward/backward of this rank's share, one allreduce of
-- every gradient, the AdamW step. Rank 0 prints one line:
--   mpi_step ranks=N threads=T params=P grad_bytes=B step_s=S allreduce_s=A share=A/S
-- (median over the timed steps; allreduce_s is the time inside the
-- collectives, which includes waiting for the slowest rank).
local M = coconut.mpi
local D = require "coco.dist"

local cfg = {preset = "small", vocab = 2048, seq = 128, batch = 16, micro = 4, steps = 8, warmup = 2}
for _, a in ipairs(arg) do
  local k, v = a:match("^([%w_]+)=(.+)$")
  if not k or cfg[k] == nil then error("bench/mpi_step.lua: expected key=value with key one of preset, vocab, seq, batch, micro, steps, warmup; got '" .. a .. "'", 0) end
  cfg[k] = tonumber(v) or v
end

local m = coconut.gpt2.new{preset = cfg.preset, vocab_size = cfg.vocab, n_positions = math.max(cfg.seq, 64), dropout = 0, seed = 1}
m:train(true)
local opt = coconut.optim.adamw(m, {lr = 1e-4})
local rng = coconut.rng(5)
local nm = cfg.batch // cfg.micro
local batches = {}
for j = 1, nm do
  local ids = {}
  for b = 1, cfg.micro do
    ids[b] = {}
    for t = 1, cfg.seq do ids[b][t] = rng:below(cfg.vocab) end
  end
  batches[j] = {input_ids = ids, labels = ids}
end

local times, comm = {}, {}
for s = 1, cfg.warmup + cfg.steps do
  M.barrier() -- every rank starts the step together
  local c0 = M.comm_stats()
  local t0 = coconut.time()
  m:zero_grad()
  local st = D.begin_step(m, nm)
  for j = 1, nm do
    if D.mine(st, m, j) then
      local out <close> = m:forward(batches[j], {logits = false})
      out:backward(1.0 / nm)
    end
  end
  D.finish_step(st, m, {0})
  opt:step()
  local dt = coconut.time() - t0
  if s > cfg.warmup then
    times[#times + 1] = dt
    comm[#comm + 1] = M.comm_stats() - c0
  end
end

local function median(t)
  local c = {}
  for i, x in ipairs(t) do c[i] = x end
  table.sort(c)
  local n = #c
  return n % 2 == 1 and c[(n + 1) // 2] or 0.5 * (c[n // 2] + c[n // 2 + 1])
end
-- the slowest rank's step is the job's step
local step = M.allreduce_sum(D.root and median(times) or 0)
local ar = M.allreduce_sum(D.root and median(comm) or 0)
if D.root then
  print(string.format("mpi_step ranks=%d threads=%d params=%d grad_bytes=%d step_s=%.5f allreduce_s=%.5f share=%.4f " ..
    "preset=%s vocab=%d seq=%d batch=%d micro=%d", M.size(), coconut.threads(), m:num_params(), 4 * m:num_params(), step, ar,
    ar / math.max(step, 1e-12), cfg.preset, cfg.vocab, cfg.seq, cfg.batch, cfg.micro))
end
