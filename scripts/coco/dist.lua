-- coco.dist — data-parallel runs under MPI (issue 18): who computes what, who
-- writes, and the few exchanges that keep every rank's model identical.
--
--   mpirun -np N coconut run experiments/prosqa_k6.lua ...
--
-- Without mpirun (or in a build without MPI) there is one rank and every
-- function here is the single-process behaviour: shares are everything, the
-- sums are the values themselves, files are read and written as before.
--
-- The rules, for N ranks:
--   * Every rank runs the same script with the same options (checked at start:
--     D.start compares a hash of the resolved options, the scripts and the
--     binary), builds the same data, tokenizer, layouts and shuffles, and
--     takes part in every collective in the same order.
--   * Training (coco.run, coco.pretrain): the micro-batches of one optimizer
--     step are split into N contiguous shares (D.share); each rank runs the
--     forward/backward of its own, scaled 1/(micro-batches in the step) as
--     one process does, then D.finish_step sums the gradients of all ranks
--     with one MPI_Allreduce over one buffer (coconut.mpi.allreduce_sum(model))
--     and every rank takes the same AdamW step. The micro-batches are the
--     single-process ones, so the result differs from one process only by the
--     order in which per-micro-batch gradients are added (README: the bound).
--     Dropout: each micro-batch's stream is the one a single process would
--     draw (the forward count is set from its global index).
--   * Evaluation: the eval batches are split into contiguous shares, rows are
--     gathered to every rank in example order (D.gather), rank 0 writes them.
--     With probe plugins (which see every example, in order, and keep state
--     across them) rank 0 evaluates alone and sends the accuracy.
--   * Files: rank 0 alone reads and writes the run directory (checkpoints,
--     CSVs, figures, locks) and prints; what the others need from it (a
--     resumed state, a checkpoint's weights, whether a file exists) rank 0
--     sends them (D.exists, D.read_json, D.load_model). So the results need
--     only be on rank 0's disk. The data files (datasets/) are read by every
--     rank: rank 0 first (it may generate them), then the others.
--   * Failure: an error on any rank prints that rank's message and ends the
--     job (core/main.c: MPI_Abort), so no rank waits forever in a collective.
local D = {}

local M = coconut.mpi
D.rank, D.size = M.rank(), M.size()
D.root = D.rank == 0 -- the rank that writes files and prints
D.active = D.size > 1 -- collectives talk to other processes

-- This rank's contiguous share of n items: lo, hi (1-based, inclusive; lo > hi
-- when it is empty). Rank r takes items floor(r n / N) + 1 .. floor((r+1) n / N):
-- fixed by n and N alone, in rank order, so concatenating the shares of ranks
-- 0..N-1 gives 1..n.
function D.share(n, rank, size)
  rank, size = rank or D.rank, size or D.size
  return (rank * n) // size + 1, ((rank + 1) * n) // size
end

-- ------------------------------------------------------------------ start-up

-- Every rank must run the same build, scripts and options: a hash of the
-- resolved options (a JSON string), the experiment script, the coco.* modules
-- and the binary, compared across ranks (a user error on mismatch, naming the
-- ranks' hashes and hosts). Logs the layout on rank 0.
function D.start(name, resolved_json, script)
  if M.launched() and not M.compiled() then
    -- each process would run the whole experiment alone, into the same directory
    coconut.user_error("started by mpirun, but this coconut was built without MPI (install libopenmpi-dev and rebuild: "
      .. "`make` finds it through pkg-config ompi-c), so every process would run alone")
  end
  if not D.active then return end
  local parts = {resolved_json, coconut.version}
  local sources = {}
  if script then sources[#sources + 1] = script end
  local sd = COCONUT_SCRIPTS and (COCONUT_SCRIPTS .. "/coco") or nil
  local files = sd and coconut.fs.listdir(sd) or {}
  table.sort(files)
  for _, f in ipairs(files) do
    if f:match("%.lua$") then sources[#sources + 1] = sd .. "/" .. f end
  end
  for _, p in ipairs(sources) do
    parts[#parts + 1] = p:gsub(".*/", "") .. "\0" .. (coconut.fs.read(p) or "")
  end
  local h = M.config_hash_check(table.concat(parts, "\0"))
  local hosts = M.allgather(M.host())
  if D.root then
    local count, order = {}, {}
    for _, hst in ipairs(hosts) do
      if not count[hst] then order[#order + 1] = hst; count[hst] = 0 end
      count[hst] = count[hst] + 1
    end
    local where = {}
    for _, hst in ipairs(order) do where[#where + 1] = string.format("%s x%d", hst, count[hst]) end
    io.stderr:write(string.format("[%s] data parallel: %d ranks (%s), %d threads per rank, config hash %s\n", name, D.size,
      table.concat(where, ", "), coconut.threads(), h))
  end
end

-- ------------------------------------------------------------------ exchanges

-- Rank 0's value (nil, boolean, number or string) on every rank.
function D.bcast(v)
  if not D.active then return v end
  return M.bcast(v)
end

-- Rank 0's table (JSON-encodable) on every rank; the others pass anything.
function D.bcast_table(t)
  if not D.active then return t end
  local s = M.bcast(D.root and coconut.json.encode(t) or nil)
  return coconut.json.decode(s)
end

-- Rank 0 runs fn (it may create files, e.g. generate a dataset), then the
-- others do, so they find what rank 0 wrote on a shared file system.
function D.root_first(fn)
  if not D.active then return fn() end
  if D.root then
    local r = table.pack(fn())
    M.barrier()
    return table.unpack(r, 1, r.n)
  end
  M.barrier()
  return fn()
end

-- Whether path exists on rank 0 (decisions that depend on the run directory
-- are rank 0's).
function D.exists(path)
  return D.bcast(D.root and coconut.fs.exists(path) or false)
end

-- A JSON file of the run directory, read by rank 0 (coconut.check: a user
-- error there ends the job) and sent to every rank.
function D.read_json(path)
  local t = D.root and coconut.check(coconut.json.read(path)) or nil
  return D.bcast_table(t)
end

-- A model file read by rank 0 (nil, message there as coconut.gpt2.load; the
-- others then get nil too): its config and weights are sent to every rank,
-- whose copy is built from the config. Returns the model | nil, message.
function D.load_model(path)
  if not D.active then return coconut.gpt2.load(path) end
  local m, err
  if D.root then m, err = coconut.gpt2.load(path) end
  local cfg = D.bcast_table(m and m:config() or {error = tostring(err)})
  if cfg.error then return nil, cfg.error end
  if not D.root then
    m = coconut.gpt2.new{n_layer = cfg.n_layer, n_head = cfg.n_head, n_embd = cfg.n_embd, vocab_size = cfg.vocab_size,
                         n_positions = cfg.n_positions, layer_norm_epsilon = cfg.layer_norm_epsilon,
                         embd_pdrop = cfg.embd_pdrop, attn_pdrop = cfg.attn_pdrop, resid_pdrop = cfg.resid_pdrop}
  end
  M.bcast(m)
  return m
end

-- Rank 0's weights (and optimizer moments and step count) on every rank: a
-- training run starts from the same state everywhere (the checkpoint rank 0
-- resumed from, or the same initialisation).
function D.sync_model(m, opt)
  if not D.active then return end
  M.bcast(m)
  if opt then M.bcast(opt) end
end

-- Row tables (JSON-encodable) from every rank, concatenated in rank order.
function D.gather(rows)
  if not D.active then return rows end
  local all = {}
  for _, s in ipairs(M.allgather(coconut.json.encode(rows))) do
    for _, r in ipairs(coconut.json.decode(s)) do all[#all + 1] = r end
  end
  return all
end

-- Sum of a number over ranks.
function D.sum(x)
  if not D.active then return x end
  return M.allreduce_sum(x)
end

-- ------------------------------------------------------------------ files

local NULL_WRITER = {row = function() end, flush = function() end, close = function() return true end}

-- A CSV writer on rank 0 (coconut.csv.open, checked); a writer that drops
-- rows elsewhere.
function D.csv_open(path, cols, opts)
  if not D.root then return NULL_WRITER end
  return coconut.check(coconut.csv.open(path, cols, opts))
end
D.NULL_WRITER = NULL_WRITER

-- ------------------------------------------------------------------ training step

-- Before the micro-batches of an optimizer step: which of the step's nm
-- micro-batches this rank computes (lo..hi), and the forward count they
-- start from (dropout streams).
function D.begin_step(m, nm)
  local lo, hi = D.share(nm)
  return {lo = lo, hi = hi, fbase = m:forward_count(), nm = nm}
end

-- Whether micro-batch j (1-based, of the step) is this rank's; sets the
-- dropout stream the single process would use for it.
function D.mine(st, m, j)
  if j < st.lo or j > st.hi then return false end
  if D.active then m:forward_count(st.fbase + j - 1) end
  return true
end

-- After this rank's micro-batches: the gradients summed over ranks (each rank
-- scaled its backward by 1/nm, so the sum is the single-process step's
-- gradient), the forward count advanced past the step's nm forwards, and the
-- step's sums (a list of numbers, e.g. loss, micro-batches, tokens) summed
-- over ranks (returned as a new list).
function D.finish_step(st, m, sums)
  if not D.active then return sums end
  M.allreduce_sum(m)
  m:forward_count(st.fbase + st.nm)
  -- the few scalars of the step: one allgather, summed in rank order (exact
  -- decimal round trip with %.17g)
  local mine = {}
  for i, x in ipairs(sums) do mine[i] = string.format("%.17g", x) end
  local out = {}
  for i = 1, #sums do out[i] = 0 end
  for _, s in ipairs(M.allgather(table.concat(mine, " "))) do
    local i = 0
    for x in s:gmatch("%S+") do i = i + 1; out[i] = out[i] + tonumber(x) end
  end
  return out
end

-- After an evaluation that may have run forwards on rank 0 alone (probes,
-- the stage probe): every rank continues from rank 0's forward count.
function D.sync_forwards(m)
  if D.active then m:forward_count(D.bcast(m:forward_count())) end
end

return D
