-- tests/mpi/grad_step.lua — one data-parallel optimizer step against the
-- single-process step, element by element (run under mpirun by
-- tests/lua/test_mpi.lua; prints "grad_step ok ..." on rank 0 or raises).
--
-- A step's gradient is the sum of m micro-batch terms g_j (each already scaled
-- by 1/m). One process adds them one after the other into the grad buffers;
-- the ranks add their shares, then MPI_Allreduce adds the shares: fp32 sums of
-- the same m terms in two orders. Each order's rounding error is at most about
-- (m - 1) u sum_j |g_j| per element (u = 2^-24), so the two differ by at most
--     || g_ranks - g_one ||_2 <= 2 (m - 1) u || sum_j |g_j| ||_2
-- per parameter tensor. (Element by element the difference can be larger: a
-- backward adds its products into the buffer that already holds the earlier
-- terms, and an element whose products cancel to ~0 keeps their rounding; the
-- norm over a tensor is dominated by its large elements.) Checked for every
-- tensor; GRAD_BOUND_U overrides the factor 2 (m - 1) (in units of u) to
-- measure the margin. Then every rank takes the same AdamW step and must hold
-- bit-identical weights.
local M = coconut.mpi
local D = require "coco.dist"
local u = 2.0 ^ -24
local nm = 4 -- micro-batches in the step
local BOUND = tonumber(os.getenv("GRAD_BOUND_U") or tostring(2 * (nm - 1))) * u

-- dropout on: each micro-batch must draw the mask one process draws for it
-- (coco.dist sets the forward count from the micro-batch's place in the step)
local m = coconut.gpt2.new{preset = "tiny", seed = 3, dropout = 0.1}
m:train(true)
local V, T = m:config().vocab_size, 20
local rng = coconut.rng(11)
local batches = {}
for j = 1, nm do
  local ids, labels = {}, {}
  for b = 1, 3 do
    ids[b], labels[b] = {}, {}
    for t = 1, T do ids[b][t] = rng:below(V); labels[b][t] = rng:uniform() < 0.3 and -100 or rng:below(V) end
  end
  batches[j] = {input_ids = ids, labels = labels}
end

local names = m:param_names()
local function grads_flat()
  local out, g = {}, m:grads()
  for _, n in ipairs(names) do
    local function walk(x) if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else out[#out + 1] = x end end
    walk(g[n]:totable())
  end
  return out
end

-- the terms, one by one: sum_j |g_j| per element
local absum
for j = 1, nm do
  m:zero_grad()
  m:forward_count(j - 1) -- the stream of the j-th forward of the step
  local out <close> = m:forward(batches[j], {logits = false})
  out:backward(1.0 / nm)
  local g = grads_flat()
  absum = absum or {}
  for i, x in ipairs(g) do absum[i] = (absum[i] or 0) + math.abs(x) end
end
-- one process: all terms into one buffer
m:zero_grad()
m:forward_count(0)
for j = 1, nm do
  local out <close> = m:forward(batches[j], {logits = false})
  out:backward(1.0 / nm)
end
local one = grads_flat()
-- data parallel: this rank's share, then one allreduce (coco.dist)
m:zero_grad()
m:forward_count(0)
local st = D.begin_step(m, nm)
for j = 1, nm do
  if D.mine(st, m, j) then
    local out <close> = m:forward(batches[j], {logits = false})
    out:backward(1.0 / nm)
  end
end
D.finish_step(st, m, {})
local dp = grads_flat()
assert(#dp == #one and #one == #absum, "gradient sizes differ")
local worst, differ, off = 0, 0, 0 -- per tensor, HF order (grads_flat's)
for _, n in ipairs(names) do
  local k = m:params()[n]:numel()
  local d2, g2, a = 0, 0, 0
  for i = off + 1, off + k do
    local d = dp[i] - one[i]
    d2, g2, a = d2 + d * d, g2 + one[i] * one[i], a + absum[i] * absum[i]
    if d ~= 0 then differ = differ + 1 end
  end
  off = off + k
  local diff, bound = math.sqrt(d2), BOUND * math.sqrt(a)
  if diff > bound then
    error(string.format("rank %d: %s: the gradient differs from one process's by %.3g (L2), more than the bound %.3g",
      M.rank(), n, diff, bound))
  end
  worst = math.max(worst, diff / math.max(bound, 1e-300))
end
-- the same AdamW step everywhere: bit-identical weights on every rank
local opt = coconut.optim.adamw(m, {lr = 1e-3})
opt:step()
local h = {}
for _, n in ipairs(names) do
  local function walk(x)
    if type(x) == "table" then for _, v in ipairs(x) do walk(v) end else h[#h + 1] = string.format("%a", x) end
  end
  walk(m:params()[n]:totable())
end
local all = M.allgather(table.concat(h, " ")) -- every weight, exactly (hex floats)
for r = 2, #all do
  if all[r] ~= all[1] then error(string.format("rank %d's weights differ from rank 0's after the step", r - 1)) end
end
if M.rank() == 0 then
  print(string.format("grad_step ok: %d ranks, %d gradient elements, %d differ from one process, worst tensor at %.3g of the bound",
    M.size(), #one, differ, worst))
end
