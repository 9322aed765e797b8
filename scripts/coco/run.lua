-- coco.run — train and evaluate one method (one curriculum) and write its results.
--
--   local R = require "coco.run"
--   local summary = R.run{dir =, opts =, model =, tok =, special =, data =, curriculum =, eot =, probes =, method =}
--
-- Schedule: stages in order, each for curriculum:stage_epochs(stage) epochs;
-- every epoch builds the training layouts with the curriculum (a seeded rng per
-- epoch), reshuffles with the seed, and takes AdamW steps over global batches
-- accumulated from micro-batches (the step's gradient is the mean of the
-- micro-batch mean losses, as the official run.py divides by the accumulation
-- steps). The optimizer is reset where the curriculum says (stage switches).
-- After every epoch: greedy evaluation on the valid split, eval.csv rows,
-- a summary.csv row, the last checkpoint, and the best one by valid accuracy
-- among the epochs whose stage the curriculum calls selectable (iCoT: only
-- once the whole chain is removed; other curricula: every epoch).
-- At the end the best checkpoint is scored on the test split (and on extra
-- files if given).
--
-- Files in dir: config.json, metrics.csv (per optimizer step), eval.csv (per
-- example), summary.csv (per epoch and split), probes/<probe>.csv,
-- checkpoints/{last,best}/, figures/. Every file is written atomically or
-- appended row by row; --resume continues from checkpoints/last.
-- With --analysis_k (R.analysis_sweep) the best checkpoint then scores the test
-- split once per thought count k: analysis_k.csv, analysis/eval.csv and
-- analysis/probes/<probe>.csv.
-- eval.csv counts per question (paper.md §1): new_tokens = generated tokens
-- other than markers and pauses (eos is never part of the output), thoughts =
-- continuous thoughts (0 for pause-as-thought slots, which are prompt tokens);
-- the paper's "# tokens" is their sum (coco.seeds: <split>_tokens).
-- Under MPI (coco.dist) the ranks share each step's micro-batches and each
-- evaluation's batches; rank 0 alone writes the files above.
local Layout = require "coco.layout"
local D = require "coco.dist"
local P = require "coco.progress"
local F = require "coco.figures"
local K = require "coco.killpoint"

local R = {}

-- seconds: the optimizer step's wall time; outside_c_share: the part of it spent
-- outside the C calls (collate, forward, backward, AdamW), i.e. in the Lua loop.
local METRICS = {"step", "epoch", "stage", "epoch_progress", "loss", "lr", "grad_norm", "tokens_per_s", "seconds",
                 "outside_c_share"}
local EVAL = {"split", "id", "epoch", "stage", "k", "prediction", "gold", "correct", "new_tokens", "thoughts", "output"}
local SUMMARY = {"split", "epoch", "stage", "train_loss", "accuracy", "n", "epoch_seconds", "train_tokens_per_s", "eval_seconds", "lr",
                 "stage_accuracy"}
-- stage_accuracy.csv (--stage_probe): per epoch and thought count k, the share of
-- examples with more than k steps whose argmax after k thoughts lies in the
-- shortest-path frontier at depth k + 1 (frontier_acc) / in the BFS frontier
-- there (bfs_acc). summary.csv's stage_accuracy is frontier_acc at k = stage.
local STAGE_ACC = {"split", "epoch", "stage", "k", "frontier_acc", "bfs_acc", "n"}
-- analysis_k.csv (--analysis_k): one row per pass of the sweep over the test
-- split: k thoughts before a forced <|end-latent|> (mode "sweep"), or, for a
-- method that does not think (CoT, No-CoT, ...), its one ordinary pass (mode
-- "reference", k = 0); accuracy, and the means of new tokens and thoughts.
local ANALYSIS = {"k", "mode", "n", "accuracy", "new_tokens", "thoughts"}
R.ANALYSIS_COLUMNS = ANALYSIS

local function join(dir, name) return dir .. "/" .. name end

-- Stage of each epoch (1-based epochs) from the curriculum, from first_stage on.
local function schedule(cur, first_stage)
  local epochs = {}
  for st = first_stage or 0, cur:num_stages() - 1 do
    for _ = 1, cur:stage_epochs(st) do epochs[#epochs + 1] = st end
  end
  return epochs
end
R.schedule = schedule

-- ------------------------------------------------------------------ evaluation

-- Stage-matched accuracy on examples with frontier metadata (see STAGE_ACC):
-- the prompt `question <|start-latent|> <|latent|> x k` (no marker when the
-- curriculum is marker-less; <pause> x k for pause as thought) is run through the
-- training forward (the same latent passes, no dropout in eval mode) and the
-- logits at its last position, which predict the token after k thoughts, are
-- compared with the frontier sets at depth k + 1. Returns {[k+1] = {frontier=, bfs=, n=}}.
-- The 1-based column of row j's last real token in a collated batch (its last
-- column with attention_mask 1).
function R.last_column(batch, j)
  local mask = batch.attention_mask:row(j):totable()
  for c = #mask, 1, -1 do
    if mask[c] ~= 0 then return c end
  end
  error("last_column: row " .. j .. " has no unmasked column", 2)
end

function R.frontier_accuracy(ctx, examples, K)
  local lay, m, sp = ctx.layout, ctx.model, ctx.special
  local res = {}
  for k = 0, K - 1 do
    local hit_f, hit_b, n = 0, 0, 0
    local tops = {} -- argmax per scored example, in order (for tests and probes)
    local chunk, sets = {}, {}
    local function flush()
      if #chunk == 0 then return end
      local batch = coconut.collate(chunk, {latent_id = sp.latent, pad_id = sp.eos, start_id = sp.start,
                                            markers = not ctx.markerless})
      local out <close> = m:forward(batch, {logits = true, grad = false})
      for j in ipairs(chunk) do
        -- collate left-pads rows with thoughts so that the first thoughts share a
        -- column: a row's last token is its last unmasked column, not #input_ids
        local row = out.logits:row(j):row(R.last_column(batch, j))
        local top = row:argmax() - 1 -- token id (argmax is 1-based)
        tops[#tops + 1] = top
        local f, b = sets[j][1], sets[j][2]
        for _, v in ipairs(f) do if v == top then hit_f = hit_f + 1; break end end
        for _, v in ipairs(b) do if v == top then hit_b = hit_b + 1; break end end
      end
      n = n + #chunk
      chunk, sets = {}, {}
    end
    for _, ex in ipairs(examples) do
      if #ex.steps > k then
        local fr = lay:frontiers(ex)
        local ids = {}
        for _, t in ipairs(lay:pieces(ex).q) do ids[#ids + 1] = t end
        -- <|start-latent|> unless the curriculum's thought slots have no markers
        if not (ctx.markerless or ctx.slot_markers == false) then ids[#ids + 1] = sp.start end
        for _ = 1, k do ids[#ids + 1] = ctx.slot or sp.latent end -- <pause> for pause-as-thought
        chunk[#chunk + 1] = {input_ids = ids}
        sets[#sets + 1] = {fr.frontier[k + 1] or {}, fr.bfs[k + 1] or {}}
        if #chunk >= ctx.opts.eval_batch then flush() end
      end
    end
    flush()
    res[k + 1] = {frontier = n > 0 and hit_f / n or 0, bfs = n > 0 and hit_b / n or 0, n = n, tops = tops}
  end
  return res
end

-- Generated tokens that count as new tokens (paper.md §1: markers and pauses
-- do not count; the thoughts are counted apart, one each; eos is never in `new`).
function R.count_new_tokens(new, special)
  local n = 0
  for _, t in ipairs(new) do
    if t ~= special.start and t ~= special.end_ and t ~= special.pause and t ~= special.latent then n = n + 1 end
  end
  return n
end

-- ------------------------------------------------------------------ probe helpers
-- Host functions a Lua probe finds in its event (plugins/README.md, "Host
-- functions for Lua probes"). They run the model, so they exist only while the
-- evaluation that made the event does.

-- The ids the model consumed before its first generated token: the eval
-- prompt, then, when it thinks, its k latent slots (followed by
-- <|end-latent|> when the prompt opened latent mode with <|start-latent|>, as
-- generate does; marker-less thoughts follow the question directly).
function R.consumed_prefix(ctx, prompt, k)
  local sp, ids = ctx.special, {}
  for i = 1, #prompt do ids[i] = prompt[i] end
  if ids[#ids] == sp.start then
    for _ = 1, k do ids[#ids + 1] = sp.latent end
    ids[#ids + 1] = sp.end_
  elseif ctx.markerless and k > 0 then
    for _ = 1, k do ids[#ids + 1] = sp.latent end
  end
  return ids
end

-- The tied LM head: the token embedding wte.weight [V, d] (logits = h W^T).
local function lm_head(ctx)
  local W = ctx.model:params()["wte.weight"]
  if not W then error("the model has no wte.weight (the tied LM head)", 0) end
  return W
end

-- seqs: a list of token-id lists s. Returns, for each s, the list of
-- log p(s_i | prefix, s_<i) (natural log), teacher-forced: one forward over
-- prefix ++ s through the training forward (the latent passes when prefix has
-- thought slots, as R.frontier_accuracy), eval_batch sequences per forward.
-- Only the hidden states are kept ([B, T, d]); each scored position's logits
-- are h W^T through the tied head, so a GPT-2 vocabulary costs no [B, T, V].
function R.continuation_logprob(ctx, prefix, seqs)
  local sp, m = ctx.special, ctx.model
  local W = lm_head(ctx)
  local V = W:shape()[1]
  local res = {}
  local bs = math.max(1, (ctx.opts and ctx.opts.eval_batch) or 32)
  for first = 1, #seqs, bs do
    local items = {}
    for i = first, math.min(#seqs, first + bs - 1) do
      local s = seqs[i]
      if type(s) ~= "table" then error(string.format("continuation_logprob: sequence %d is a %s, not a list of token ids", i, type(s)), 2) end
      local ids = {}
      for q = 1, #prefix do ids[q] = prefix[q] end
      for q, t in ipairs(s) do
        if math.type(t) ~= "integer" or t < 0 or t >= V then
          error(string.format("continuation_logprob: sequence %d, token %d: %s is not a token id in [0, %d)", i, q, tostring(t), V), 2)
        end
        ids[#ids + 1] = t
      end
      items[#items + 1] = {input_ids = ids}
    end
    local batch = coconut.collate(items, {latent_id = sp.latent, pad_id = sp.eos, start_id = sp.start,
                                          markers = not ctx.markerless})
    local out <close> = m:forward(batch, {logits = false, grad = false})
    for j, it in ipairs(items) do
      local s, lp = seqs[first + j - 1], {}
      if #s > 0 then
        -- collate pads rows (left, so that first thoughts align, then right): row
        -- j's ids sit in the columns up to its last unmasked one
        local base = R.last_column(batch, j) - #it.input_ids
        local H = out.hidden:row(j) -- [T, d]
        for i = 1, #s do
          -- the hidden state at the position before s_i predicts it
          lp[i] = H:row(base + #prefix + i - 1):matmul(W, true):log_softmax():get(s[i] + 1)
        end
      end
      res[first + j - 1] = lp
    end
  end
  return res
end

-- thoughts: Tensor [n, d] (continuous thoughts, after ln_f). Returns per
-- thought the topk tokens of softmax(W h): {{id=, token=, prob=}, ...} (ids
-- 0-based, largest first).
function R.decode_thoughts(ctx, thoughts, topk)
  local out = {}
  if not thoughts or thoughts:shape()[1] == 0 then return out end
  local idx, val = thoughts:matmul(lm_head(ctx), true):log_softmax():topk(topk)
  for i = 1, #idx do
    local row = {}
    for r = 1, #idx[i] do
      local id = idx[i][r] - 1
      row[r] = {id = id, token = ctx.layout.tok:decode({id}), prob = math.exp(val[i][r])}
    end
    out[i] = row
  end
  return out
end

-- Adds the host functions to a probe event (ev.k, ev.style, ev.encode,
-- ev.continuation_logprob, ev.decode_thoughts); prompt: the eval prompt, k:
-- the thought count the event reports (the sweep's k; for pause-as-thought
-- slots, which are prompt tokens, nth = 0 thoughts were generated), nth: the
-- continuous thoughts generated. Results of continuation_logprob are cached
-- per sequence for the event, so several probes asking for the same
-- continuations share one forward.
function R.probe_host(ctx, ev, prompt, k, nth)
  nth = nth or k
  ev.k = k
  ev.style = ctx.layout.style_name
  ev.encode = function(text) return ctx.layout.tok:encode(text) end
  local cache, prefix = {}, nil
  ev.continuation_logprob = function(seqs)
    if type(seqs) ~= "table" then error("continuation_logprob: expected a list of token-id lists", 2) end
    prefix = prefix or R.consumed_prefix(ctx, prompt, nth)
    local res, todo, keys = {}, {}, {}
    for i, s in ipairs(seqs) do
      local key = type(s) == "table" and table.concat(s, ",") or tostring(s)
      keys[i] = key
      if not cache[key] and not todo[key] then todo[key] = true; todo[#todo + 1] = s end
    end
    if #todo > 0 then
      local lps = R.continuation_logprob(ctx, prefix, todo)
      for i, s in ipairs(todo) do cache[table.concat(s, ",")] = lps[i] end
    end
    for i = 1, #seqs do res[i] = cache[keys[i]] end
    return res
  end
  ev.decode_thoughts = function(topk)
    topk = topk or 5
    if math.type(topk) ~= "integer" or topk < 1 then error("decode_thoughts: topk must be an integer >= 1", 2) end
    if nth > 0 and not ev.thoughts then
      error("decode_thoughts: the thoughts were not collected; the probe's wants() must return {thoughts = true}", 2)
    end
    return R.decode_thoughts(ctx, ev.thoughts, topk)
  end
  return ev
end

-- Greedy generation over a split; returns accuracy, rows written, seconds.
-- ctx.fixed_thoughts (optional): every prompt with markers gets exactly this
-- many thoughts instead of the curriculum's plan. With ctx.fixed_final_stage
-- (the analysis sweep) every prompt takes the curriculum's final-stage layout
-- with exactly ctx.fixed_thoughts thoughts (0 included), whatever the stage of
-- the checkpoint.
-- Under MPI the eval batches (eval_batch prompts each, as one process makes
-- them) are split into contiguous shares and the rows gathered in example
-- order, so eval_csv gets the single-process rows on every rank (files are
-- rank 0's). Probes see every example in order and keep state across them:
-- with probes rank 0 evaluates alone and sends the accuracy.
function R.evaluate(ctx, split, examples, epoch, stage, eval_csv)
  if D.active and #ctx.probes > 0 then
    local acc, secs = 0, 0
    if D.root then acc, secs = R.evaluate_shard(ctx, split, examples, epoch, stage, eval_csv, false) end
    return D.bcast(acc), D.bcast(secs)
  end
  return R.evaluate_shard(ctx, split, examples, epoch, stage, eval_csv, D.active)
end

function R.evaluate_shard(ctx, split, examples, epoch, stage, eval_csv, sharded)
  local o, m, lay = ctx.opts, ctx.model, ctx.layout
  local t0 = coconut.time()
  local correct, n = 0, #examples
  -- sharded: this rank's batches; its rows are kept, then gathered
  local shard_rows, out_csv = {}, eval_csv
  local blo, bhi = 1, math.ceil(n / ctx.opts.eval_batch)
  if sharded then
    blo, bhi = D.share(bhi)
    eval_csv = {row = function(_, r) shard_rows[#shard_rows + 1] = r end}
  end
  local want_thoughts, want_logits = false, false
  for _, p in ipairs(ctx.probes) do
    local w = p.plugin:wants()
    want_thoughts = want_thoughts or w.thoughts
    want_logits = want_logits or w.logits
  end
  local bar = P.new{total = n, label = string.format("  eval %s epoch %d", split, epoch), every = math.max(1, n // 4), unit = "ex"}
  local bs = o.eval_batch
  for b = blo, bhi do
    local first = (b - 1) * bs + 1
    local last = math.min(n, first + bs - 1)
    local prompts, planned, prompt_ids = {}, {}, {}
    for i = first, last do
      local ex = examples[i]
      local plan = ctx.curriculum:eval_plan(stage, #ex.steps)
      if ctx.fixed_thoughts and ctx.fixed_final_stage then
        plan = ctx.curriculum:eval_plan(ctx.curriculum:num_stages() - 1, #ex.steps)
        plan.n_latent = ctx.fixed_thoughts
      elseif ctx.fixed_thoughts and plan.n_latent > 0 then
        plan.n_latent = ctx.fixed_thoughts
      end
      local ids, k = lay:eval_prompt(ex, plan)
      prompts[#prompts + 1] = ids
      planned[#planned + 1] = k
      prompt_ids[#prompt_ids + 1] = ids
    end
    local gopts = {max_new_tokens = o.max_new_tokens, eos_id = ctx.special.eos, start_id = ctx.special.start,
                   end_id = ctx.special.end_, latent_id = ctx.special.latent, planned = planned,
                   markers = not ctx.markerless,
                   eot = ctx.eot, return_thoughts = want_thoughts, return_logits = want_logits}
    -- with a policy the thought count is the policy's, not always the plan's
    -- (e.g. the learned <eot>, issue 16): ask generate for it (n_thoughts comes
    -- with the extras), so eval.csv's thoughts column is what was generated;
    -- probes still see thoughts only when one asked for them (wants)
    if ctx.eot ~= nil then gopts.return_thoughts = true end
    local outs, extra = m:generate(prompts, gopts)
    for j, new in ipairs(outs) do
      local i = first + j - 1
      local ex = examples[i]
      -- Official extraction: decode the whole sequence without special tokens,
      -- take the text after the last '#'.
      local full = {}
      for _, t in ipairs(prompt_ids[j]) do full[#full + 1] = t end
      for _, t in ipairs(new) do full[#full + 1] = t end
      local text = lay:decode_visible(full)
      local out_text = lay:decode_visible(new)
      local pred = lay:extract(text)
      local ok = pred == ex.answer
      if ok then correct = correct + 1 end
      local nth = extra and extra[j].n_thoughts or planned[j]
      eval_csv:row{split = split, id = ex.id or (i - 1), epoch = epoch, stage = stage, k = planned[j], prediction = pred,
                   gold = ex.answer, correct = ok and 1 or 0, new_tokens = R.count_new_tokens(new, ctx.special),
                   thoughts = nth, output = out_text}
      if #ctx.probes > 0 then
        local tt = {}
        for q, t in ipairs(new) do tt[q] = lay.tok:decode({t}) end
        local ev = {split = split, epoch = epoch, stage = stage, index = i - 1, question = ex.question, gold = ex.answer,
                    prediction = pred, output_text = out_text, correct = ok, meta_json = ex.meta_json, steps = ex.steps,
                    thoughts = want_thoughts and extra and extra[j].thoughts or nil, logits = extra and extra[j].logits, tokens = new, token_text = tt}
        -- the sweep's k for pause-as-thought slots (prompt tokens, 0 planned) too
        local k = (ctx.fixed_thoughts and ctx.fixed_final_stage) and ctx.fixed_thoughts or nth
        R.probe_host(ctx, ev, prompt_ids[j], k, nth)
        for _, p in ipairs(ctx.probes) do
          for _, row in ipairs(p.plugin:on_example(ev)) do
            local r = {split, epoch, stage}
            for _, v in ipairs(row) do r[#r + 1] = v end
            p.csv:row(r)
          end
        end
      end
    end
    bar:update(last, {acc = correct / last})
    K.point("eval")
  end
  if sharded then
    correct = D.sum(correct)
    for _, r in ipairs(D.gather(shard_rows)) do out_csv:row(r) end
  end
  for _, p in ipairs(ctx.probes) do
    for _, row in ipairs(p.plugin:on_end(split, epoch, stage)) do
      local r = {split, epoch, stage}
      for _, v in ipairs(row) do r[#r + 1] = v end
      p.csv:row(r)
    end
  end
  bar:done()
  return n > 0 and correct / n or 0, coconut.time() - t0
end

-- ------------------------------------------------------------------ checkpoints

-- A checkpoint is <dir>/checkpoints/<which>/ (which = last | best):
-- model.safetensors, optimizer.safetensors (last only) and state.json. Each
-- file is atomic, but a directory of three files is not: a kill between them
-- would leave an epoch-e model beside an epoch-(e-1) state.json, and --resume
-- would continue a run that never existed. So a checkpoint is written whole
-- into <which>.new/ (state.json last: its presence marks it complete) and then
-- swapped with <which>/ in one step (coconut.fs.exchange, renameat2
-- RENAME_EXCHANGE); the old one, now at <which>.new/, is removed after. Where
-- the file system cannot exchange, <which>/ is renamed to <which>.old/ and
-- <which>.new/ into its place; recover_checkpoint repairs a kill between the
-- two renames. Either way <which>/ always holds one complete checkpoint.
local function save_checkpoint(ctx, which, state)
  if not D.root then return end -- rank 0 writes (coco.dist)
  local base = join(ctx.dir, "checkpoints")
  local d, new, old = join(base, which), join(base, which .. ".new"), join(base, which .. ".old")
  coconut.check(coconut.fs.mkdir(base))
  if coconut.fs.exists(new) then coconut.check(coconut.fs.rmtree(new)) end
  coconut.check(coconut.fs.mkdir(new))
  coconut.check(ctx.model:save(join(new, "model.safetensors")))
  K.point("checkpoint_model")
  if ctx.opt and which == "last" then coconut.check(ctx.opt:save(join(new, "optimizer.safetensors"))) end
  coconut.check(coconut.json.write(join(new, "state.json"), state))
  K.point("checkpoint_written")
  if not coconut.fs.exists(d) then
    coconut.check(coconut.fs.rename(new, d))
  elseif coconut.fs.exchange(new, d) then
    K.point("checkpoint_swapped")
    coconut.check(coconut.fs.rmtree(new)) -- the previous checkpoint
  else
    if coconut.fs.exists(old) then coconut.check(coconut.fs.rmtree(old)) end
    coconut.check(coconut.fs.rename(d, old))
    coconut.check(coconut.fs.rename(new, d))
    coconut.check(coconut.fs.rmtree(old))
  end
end
R.save_checkpoint = save_checkpoint

-- Before a run reads or writes its checkpoints: a complete <which>.new/ with
-- no <which>/ beside it is the newer checkpoint of a write killed between its
-- renames (promoted); any other <which>.new/ or <which>.old/ is a leftover.
local function recover_checkpoint(dir, which)
  if not D.root then return end
  local base = join(dir, "checkpoints")
  local d, new, old = join(base, which), join(base, which .. ".new"), join(base, which .. ".old")
  if not coconut.fs.exists(d) and coconut.fs.exists(join(new, "state.json")) then
    coconut.check(coconut.fs.rename(new, d))
  end
  if not coconut.fs.exists(d) and coconut.fs.exists(join(old, "state.json")) then
    coconut.check(coconut.fs.rename(old, d))
  end
  for _, x in ipairs{new, old} do
    if coconut.fs.exists(x) then coconut.check(coconut.fs.rmtree(x)) end
  end
end
R.recover_checkpoint = recover_checkpoint

-- Scores the best checkpoint on the test split and on every extra set that the
-- state has no number for yet; records them in state. Returns whether it scored
-- anything.
local function score_best(ctx, dir, state, evalcsv, summary)
  local need_test = state.test == nil and ctx.data.test and #ctx.data.test > 0
  state.extra = state.extra or {}
  local missing, extra_names = {}, {}
  for name in pairs(ctx.data.extra or {}) do
    extra_names[#extra_names + 1] = name
    if state.extra[name] == nil then missing[#missing + 1] = name end
  end
  table.sort(missing)
  table.sort(extra_names)
  local K = ctx.opts.eval_fixed_thoughts or 0
  local need_fixed = false
  if K > 0 and ctx.thinks then
    need_fixed = state.extra[string.format("test_k%d", K)] == nil
    for _, name in ipairs(extra_names) do need_fixed = need_fixed or state.extra[string.format("%s_k%d", name, K)] == nil end
  end
  if not need_test and #missing == 0 and not need_fixed then return false end
  local t0 = coconut.time()
  -- rank 0 reads the checkpoint and sends it (coco.dist)
  local best = coconut.check(D.load_model(join(dir, "checkpoints/best/model.safetensors")))
  local best_state = D.read_json(join(dir, "checkpoints/best/state.json"))
  local trained_model = ctx.model
  ctx.model = best
  best:train(false)
  local function score(split, exs)
    local acc, t = R.evaluate(ctx, split, exs, best_state.epoch, best_state.stage, evalcsv)
    summary:row{split = split, epoch = best_state.epoch, stage = best_state.stage, accuracy = acc, n = #exs, eval_seconds = t}
    P.log("[%s] %s accuracy %.3f (%d ex) with the best checkpoint (epoch %d)", ctx.method, split, acc, #exs, best_state.epoch)
    return acc
  end
  if need_test then state.test = score("test", ctx.data.test) end
  for _, name in ipairs(missing) do state.extra[name] = score(name, ctx.data.extra[name]) end
  -- the same sets with a fixed thought count (--eval_fixed_thoughts), for
  -- curricula whose prompts think; recorded as extra sets "<set>_k<K>"
  local K = ctx.opts.eval_fixed_thoughts or 0
  if K > 0 and ctx.thinks then
    ctx.fixed_thoughts = K
    local sets = {{"test", ctx.data.test}}
    for _, name in ipairs(extra_names) do sets[#sets + 1] = {name, ctx.data.extra[name]} end
    for _, p in ipairs(sets) do
      local key = string.format("%s_k%d", p[1], K)
      if state.extra[key] == nil and p[2] and #p[2] > 0 then state.extra[key] = score(key, p[2]) end
    end
    ctx.fixed_thoughts = nil
  end
  ctx.model = trained_model
  best:close()
  state.score_wall = (state.score_wall or 0) + (coconut.time() - t0)
  return true
end

-- ------------------------------------------------------------------ analysis sweep

-- "0,1,2" -> {0, 1, 2}: distinct thought counts >= 0, ascending.
function R.parse_k_list(text)
  local ks, seen = {}, {}
  for x in tostring(text):gmatch("[^,%s]+") do
    local k = math.tointeger(tonumber(x))
    if not k or k < 0 then
      coconut.user_error(string.format("--analysis_k: '%s' is not a thought count (expected integers >= 0, comma-separated, e.g. 0,1,2,3,4,5,6)", x))
    end
    if not seen[k] then seen[k] = true; ks[#ks + 1] = k end
  end
  if #ks == 0 then coconut.user_error("--analysis_k: no thought counts in '" .. tostring(text) .. "'") end
  table.sort(ks)
  return ks
end

-- The analysis of paper.md §5 (Fig 5, 7-9), run after training with the best
-- checkpoint: the test split once per k in ks with exactly k thoughts and a
-- forced <|end-latent|> (k = 0 included: question <|start-latent|>
-- <|end-latent|>; marker-less: k thoughts after the question), the model then
-- continuing in language, all through R.evaluate (ctx.fixed_thoughts with
-- the curriculum's final-stage layout). A method whose prompts do not think
-- gets one ordinary pass, its reference accuracy (mode "reference", k = 0).
-- Probes: ctx.probes and ctx.analysis_probes, each once; they see ev.k.
-- Files, each written whole (temp + rename; analysis_k.csv last, so its
-- presence marks a finished sweep and an interrupted one is redone):
--   <dir>/analysis_k.csv                    ANALYSIS columns, one row per pass
--   <dir>/analysis/eval.csv                 eval.csv's columns, split "test", k per row
--   <dir>/analysis/probes/<probe>.csv       split, epoch, stage, then the probe's columns
-- state.analysis records what was swept (ks and probes); returns whether it ran.
function R.analysis_sweep(ctx, dir, state, ks)
  local test = ctx.data.test
  if not test or #test == 0 then
    P.log("[%s] --analysis_k: no test examples; no analysis", ctx.method)
    return false
  end
  local probes, seen, names = {}, {}, {}
  for _, list in ipairs{ctx.probes or {}, ctx.analysis_probes or {}} do
    for _, p in ipairs(list) do
      if not seen[p.name] then
        seen[p.name] = true
        probes[#probes + 1] = {name = p.name, plugin = p.plugin}
        names[#names + 1] = p.name
      end
    end
  end
  local key = table.concat(ks, ",") .. (ctx.thinks and "" or " reference") .. " | " .. table.concat(names, ",")
  if state.analysis == key and D.exists(join(dir, "analysis_k.csv")) then return false end
  local t0 = coconut.time()
  local best = coconut.check(D.load_model(join(dir, "checkpoints/best/model.safetensors")))
  local best_state = D.read_json(join(dir, "checkpoints/best/state.json"))
  best:train(false)
  local adir = join(dir, "analysis")
  if D.root then coconut.check(coconut.fs.mkdir(adir)) end
  if #probes > 0 and D.root then coconut.check(coconut.fs.mkdir(join(adir, "probes"))) end
  for _, p in ipairs(probes) do
    local cols = {"split", "epoch", "stage"}
    for _, c in ipairs(p.plugin:columns()) do cols[#cols + 1] = c end
    p.csv = D.csv_open(join(adir, "probes/" .. p.name .. ".csv"), cols)
  end
  local evalcsv = D.csv_open(join(adir, "eval.csv"), EVAL)
  local acsv = D.csv_open(join(dir, "analysis_k.csv"), ANALYSIS)
  local trained, trained_probes = ctx.model, ctx.probes
  ctx.model, ctx.probes = best, probes
  for _, k in ipairs(ctx.thinks and ks or {0}) do
    if ctx.thinks then ctx.fixed_thoughts, ctx.fixed_final_stage = k, true end
    local sum = {n = 0, tok = 0, th = 0}
    -- eval rows go to analysis/eval.csv; their token counts are summed on the way
    local rows = {row = function(_, r)
      sum.n, sum.tok, sum.th = sum.n + 1, sum.tok + r.new_tokens, sum.th + r.thoughts
      evalcsv:row(r)
    end}
    local acc, secs = R.evaluate(ctx, "test", test, best_state.epoch, best_state.stage, rows)
    acsv:row{k = k, mode = ctx.thinks and "sweep" or "reference", n = sum.n, accuracy = acc,
             new_tokens = sum.n > 0 and sum.tok / sum.n or 0, thoughts = sum.n > 0 and sum.th / sum.n or 0}
    if ctx.thinks then
      P.log("[%s] analysis: k = %d thoughts, test accuracy %.3f (%d ex, %s)", ctx.method, k, acc, sum.n, P.fmt_time(secs))
    else
      P.log("[%s] analysis: reference pass (no thoughts), test accuracy %.3f (%d ex, %s)", ctx.method, acc, sum.n,
        P.fmt_time(secs))
    end
  end
  ctx.fixed_thoughts, ctx.fixed_final_stage = nil, nil
  ctx.model, ctx.probes = trained, trained_probes
  for _, p in ipairs(probes) do coconut.check(p.csv:close()) end
  coconut.check(evalcsv:close())
  coconut.check(acsv:close())
  best:close()
  state.analysis = key
  state.score_wall = (state.score_wall or 0) + (coconut.time() - t0)
  return true
end

-- ------------------------------------------------------------------ training

-- A training batch longer than the model's context is the data's or the
-- options' doing (--n_positions, or a --model_path model with a short
-- context): a user error naming both lengths, before the forward refuses it.
function R.check_length(batch, n_positions, what)
  local len = batch.input_ids:shape()[2]
  if len > n_positions then
    coconut.user_error(string.format("%s: a batch holds sequences of %d tokens, more than the model's context of %d "
      .. "positions (--n_positions, or the n_positions of the --model_path model)", what, len, n_positions))
  end
end

-- A resumed run continues the checkpoint's model: it must have the shape this
-- run builds (the tokenizer's vocabulary, the model options). A mismatch means
-- the data, tokenizer or options changed since the checkpoint was written.
function R.check_resume_model(path, loaded, fresh)
  local a, b = loaded:config(), fresh:config()
  for _, k in ipairs{"vocab_size", "n_layer", "n_embd", "n_head", "n_positions"} do
    if a[k] ~= b[k] then
      local what = k == "vocab_size" and "vocabulary" or k
      coconut.user_error(string.format("%s: the checkpoint's %s is %s but this run's %s is %s (the data, tokenizer or "
        .. "model options changed since it was written); --resume needs the run's original options, or pass "
        .. "--overwrite / --run NAME for a new run", path, what, tostring(a[k]),
        k == "vocab_size" and "tokenizer gives" or "model has", tostring(b[k])))
    end
  end
end

function R.run(ctx)
  local o = ctx.opts
  local dir = ctx.dir
  -- the analysis sweep's thought counts, checked before any training
  local analysis_ks = (o.analysis_k and o.analysis_k ~= "") and R.parse_k_list(o.analysis_k) or nil
  if D.root then coconut.check(coconut.fs.mkdir(dir)) end
  recover_checkpoint(dir, "last")
  recover_checkpoint(dir, "best")
  ctx.layout = Layout.new(ctx.tok, ctx.special, ctx.style or "words")
  local m = ctx.model
  local epochs = schedule(ctx.curriculum, ctx.first_stage)
  if o.max_epochs > 0 and #epochs > o.max_epochs then
    for i = #epochs, o.max_epochs + 1, -1 do epochs[i] = nil end
  end
  local state = {epoch_done = 0, step = 0, best_acc = -1, best_epoch = 0, wall = 0}
  -- under MPI rank 0 alone reads the checkpoint; its state, weights and
  -- optimizer go to the other ranks below (D.sync_model)
  local resume = D.bcast(D.root and o.resume and coconut.fs.exists(join(dir, "checkpoints/last/state.json")) or false)
  if o.resume and not resume then P.log("[%s] --resume: no checkpoint in %s; starting fresh", ctx.method, dir) end
  if resume and D.root then
    state = coconut.check(coconut.json.read(join(dir, "checkpoints/last/state.json")))
    local lm = coconut.check(coconut.gpt2.load(join(dir, "checkpoints/last/model.safetensors")))
    R.check_resume_model(join(dir, "checkpoints/last/model.safetensors"), lm, m)
    ctx.model, m = lm, lm
    P.log("[%s] resuming after epoch %d (step %d)", ctx.method, state.epoch_done, state.step)
  end
  state = D.bcast_table(state)
  m:train(true)
  -- the dropout streams continue where the checkpoint left them (the count of
  -- forwards so far; absent in checkpoints written before it was recorded)
  m:seed(o.seed, resume and state.forwards or 0)
  ctx.opt = coconut.optim.adamw(m, {lr = o.lr, weight_decay = o.weight_decay, betas = {o.beta1, o.beta2}, eps = 1e-8,
                                     clip = o.clip})
  if resume and D.root and coconut.fs.exists(join(dir, "checkpoints/last/optimizer.safetensors")) then
    coconut.check(ctx.opt:load(join(dir, "checkpoints/last/optimizer.safetensors")))
  end
  -- every rank starts from rank 0's weights and optimizer state
  D.sync_model(m, ctx.opt)
  -- Result tables grow row by row (each row written whole and flushed), so a
  -- long run can be watched and a crash keeps every finished row; a fresh run
  -- starts them empty, a resumed one appends (the header must match).
  local function table_file(path, cols)
    if not D.root then return D.NULL_WRITER end
    if not resume and coconut.fs.exists(path) then coconut.check(coconut.fs.remove(path)) end
    if resume and not state.finished and coconut.fs.exists(path) then
      -- drop rows of the epoch that was interrupted (and of a partial final
      -- evaluation): they are recomputed; keeping them would count them twice
      local rows = coconut.check(coconut.csv.read(path))
      local w = coconut.check(coconut.csv.open(path, cols))
      for _, r in ipairs(rows) do
        local e = tonumber(r.epoch)
        if e and e <= state.epoch_done and (r.split == nil or r.split == "valid") then w:row(r) end
      end
      coconut.check(w:close())
    end
    return coconut.check(coconut.csv.open(path, cols, {append = true}))
  end
  local metrics = table_file(join(dir, "metrics.csv"), METRICS)
  local evalcsv = table_file(join(dir, "eval.csv"), EVAL)
  local summary = table_file(join(dir, "summary.csv"), SUMMARY)
  -- Does this curriculum think at evaluation? (fixed-thought scoring and the stage probe apply then)
  do
    local last = ctx.curriculum:eval_plan(ctx.curriculum:num_stages() - 1, 4)
    ctx.thinks = last.n_latent > 0 -- thought slots, continuous or <pause> (pause as thought)
    -- continuous thoughts without <|start-latent|> / <|end-latent|> (collate and generate are told)
    ctx.markerless = ctx.thinks and not last.markers and not last.pause_as_thought
    -- the token of the thought slots in stage-probe prompts
    ctx.slot = last.pause_as_thought and ctx.special.pause or ctx.special.latent
    ctx.slot_markers = last.markers
  end
  local stage_csv, probe_k
  -- the stage probe runs on rank 0 alone (its numbers only go to files and logs)
  if o.stage_probe and ctx.thinks and D.root then
    probe_k = 0
    for _, ex in ipairs(ctx.data.valid) do probe_k = math.max(probe_k, #ex.steps) end
    probe_k = math.min(probe_k, 8)
    stage_csv = table_file(join(dir, "stage_accuracy.csv"), STAGE_ACC)
  end
  if #ctx.probes > 0 and D.root then coconut.check(coconut.fs.mkdir(join(dir, "probes"))) end
  for _, p in ipairs(ctx.probes) do
    local cols = {"split", "epoch", "stage"}
    for _, c in ipairs(p.plugin:columns()) do cols[#cols + 1] = c end
    local path = join(dir, "probes/" .. p.name .. ".csv")
    if resume and state.finished then
      -- a finished run reopens a probe table only to add rows (sets scored
      -- since): re-reporting it must not trip over a table an older version
      -- of the probe wrote with other columns
      local w
      p.csv = {row = function(_, r)
                 w = w or table_file(path, cols)
                 return w:row(r)
               end,
               close = function()
                 if w then return w:close() end
                 return true
               end}
    else
      p.csv = table_file(path, cols)
    end
  end

  local train, valid = ctx.data.train, ctx.data.valid
  local micro = o.micro_batch
  local accum = math.max(1, o.batch_size // micro)
  local n_pos = m:config().n_positions
  local t_run = coconut.time()
  local prev_stage = -1
  if state.epoch_done > 0 then prev_stage = epochs[state.epoch_done] end
  for epoch = state.epoch_done + 1, #epochs do
    local stage = epochs[epoch]
    if o.reset_every_epoch and epoch > 1 then
      ctx.opt:reset() -- what the official run.py does when reset_optimizer is set
    elseif stage ~= prev_stage and epoch > 1 and ctx.curriculum:reset_optimizer(stage) then
      ctx.opt:reset()
      P.log("[%s] stage %d: optimizer reset", ctx.method, stage)
    end
    prev_stage = stage
    local t_epoch = coconut.time()
    local t_layout = coconut.time()
    -- layouts for this epoch; rng seeded by (seed, epoch) so a resumed run sees the same data
    local rng = coconut.rng(o.seed * 1000003 + epoch)
    local items = {}
    -- a per-epoch rendering (--node_ids permute, --edge_order shuffle) replaces the training set
    local epoch_train = ctx.data.train_epoch and ctx.data.train_epoch(epoch) or train
    for i, ex in ipairs(epoch_train) do
      local plan = ctx.curriculum:train_plan(stage, #ex.steps, rng)
      items[i] = ctx.layout:train_example(ex, plan, rng)
    end
    rng:shuffle(items)
    t_layout = coconut.time() - t_layout
    local nsteps = math.ceil(#items / (micro * accum))
    local bar = P.new{total = nsteps, label = string.format("[%s] stage %d epoch %d/%d", ctx.method, stage, epoch, #epochs),
                      every = math.max(1, nsteps // 5)}
    local loss_sum, loss_n, tokens, t_train, c_total = 0, 0, 0, coconut.time(), 0
    local pos = 1
    for s = 1, nsteps do
      local t_step = coconut.time()
      local c_time = 0 -- seconds inside the C calls of this step
      m:zero_grad()
      local step_loss, nmicro, step_tokens = 0, 0, 0
      -- micro-batches in this step (the last step of an epoch may have fewer)
      local nm = math.min(accum, math.ceil((#items - pos + 1) / micro))
      -- under MPI each rank computes its share of them (coco.dist)
      local dst = D.begin_step(m, nm)
      for j = 1, nm do
        if pos > #items then break end
        local chunk = {}
        for i = pos, math.min(#items, pos + micro - 1) do chunk[#chunk + 1] = items[i] end
        pos = pos + #chunk
        if D.mine(dst, m, j) then
          local tc = coconut.time()
          local batch = coconut.collate(chunk, {latent_id = ctx.special.latent, pad_id = ctx.special.eos,
                                                start_id = ctx.special.start, markers = not ctx.markerless})
          R.check_length(batch, n_pos, "[" .. ctx.method .. "] training")
          local out <close> = m:forward(batch, {logits = false})
          c_time = c_time + (coconut.time() - tc)
          local l = out.loss
          if l ~= l or l == math.huge then
            coconut.user_error(string.format("[%s] loss is %s at epoch %d step %d (stage %d); stopping (try a smaller --lr). "
              .. "The last good checkpoint is in %s", ctx.method, tostring(l), epoch, s, stage, join(dir, "checkpoints/last")))
          end
          step_loss = step_loss + l
          nmicro = nmicro + 1
          step_tokens = step_tokens + batch.input_ids:numel()
          tc = coconut.time()
          out:backward(1.0 / nm) -- the step's gradient is the mean of the micro-batch means
          c_time = c_time + (coconut.time() - tc)
        end
      end
      do -- one allreduce of every gradient, then the step's sums (one process: as they are)
        local tc = coconut.time()
        local sums = D.finish_step(dst, m, {step_loss, nmicro, step_tokens})
        step_loss, nmicro, step_tokens = sums[1], sums[2], sums[3]
        c_time = c_time + (coconut.time() - tc)
      end
      if o.warmup_steps > 0 then -- linear warm-up (from-scratch models); the official schedule is constant
        ctx.opt:set_lr(o.lr * math.min(1, (state.step + 1) / o.warmup_steps))
      end
      local tc = coconut.time()
      local gnorm = ctx.opt:step()
      c_time = c_time + (coconut.time() - tc)
      state.step = state.step + 1
      step_loss = step_loss / nmicro
      loss_sum, loss_n = loss_sum + step_loss, loss_n + 1
      tokens = tokens + step_tokens
      local dt = coconut.time() - t_step
      c_total = c_total + c_time
      metrics:row{step = state.step, epoch = epoch, stage = stage, epoch_progress = s / nsteps, loss = step_loss,
                  lr = ctx.opt:lr(), grad_norm = gnorm, tokens_per_s = step_tokens / math.max(dt, 1e-9), seconds = dt,
                  outside_c_share = math.max(0, dt - c_time) / math.max(dt, 1e-9)}
      bar:update(s, {loss = step_loss})
      K.point("step")
    end
    bar:done()
    local train_time = coconut.time() - t_train
    m:train(false)
    local acc, eval_time = R.evaluate(ctx, "valid", valid, epoch, stage, evalcsv)
    local stage_acc
    if stage_csv then
      local fa = R.frontier_accuracy(ctx, valid, probe_k)
      for k = 0, probe_k - 1 do
        stage_csv:row{split = "valid", epoch = epoch, stage = stage, k = k, frontier_acc = fa[k + 1].frontier,
                      bfs_acc = fa[k + 1].bfs, n = fa[k + 1].n}
      end
      stage_csv:flush()
      if stage < probe_k and fa[stage + 1].n > 0 then stage_acc = fa[stage + 1].frontier end
      local parts = {}
      for k = 0, probe_k - 1 do parts[#parts + 1] = string.format("k=%d %.3f", k, fa[k + 1].frontier) end
      P.log("[%s] epoch %d stage-matched accuracy (argmax after k thoughts in frontier[k+1]): %s", ctx.method, epoch,
        table.concat(parts, ", "))
    end
    D.sync_forwards(m) -- rank 0 may have run more forwards (probes, stage probe)
    m:train(true)
    local epoch_time = coconut.time() - t_epoch
    summary:row{split = "valid", epoch = epoch, stage = stage, train_loss = loss_sum / math.max(1, loss_n), accuracy = acc,
                n = #valid, epoch_seconds = epoch_time, train_tokens_per_s = tokens / math.max(train_time, 1e-9),
                eval_seconds = eval_time, lr = ctx.opt:lr(), stage_accuracy = stage_acc}
    metrics:flush(); evalcsv:flush(); summary:flush()
    -- time outside C while training: the Lua loop plus building this epoch's layouts
    local outside = (math.max(0, train_time - c_total) + t_layout) / math.max(train_time + t_layout, 1e-9)
    P.log("[%s] epoch %d/%d stage %d: train loss %.4f, valid accuracy %.3f (%d ex), %.0f tok/s, %.1f%% of training outside C, %s",
      ctx.method, epoch, #epochs, stage, loss_sum / math.max(1, loss_n), acc, #valid, tokens / math.max(train_time, 1e-9),
      100 * outside, P.fmt_time(epoch_time))
    state.epoch_done = epoch
    state.wall = (state.wall or 0) + epoch_time
    -- only stages on the method's final layout compete for the best checkpoint
    -- (iCoT: once its chain is gone); curricula without the hook: every stage
    local eligible = not ctx.curriculum.selectable or ctx.curriculum:selectable(stage)
    if eligible and acc > state.best_acc then
      state.best_acc, state.best_epoch = acc, epoch
      save_checkpoint(ctx, "best", {epoch = epoch, stage = stage, valid_accuracy = acc})
    end
    state.forwards = m:forward_count() -- the dropout streams' position (m:seed on resume)
    save_checkpoint(ctx, "last", state)
    K.point("epoch")
  end
  -- A resumed run that had already finished trains nothing; extra sets added
  -- since (--extra_eval) are still scored with its best checkpoint.
  local already = state.finished
  if already then P.log("[%s] already finished (best epoch %d); nothing to train", ctx.method, state.best_epoch) end
  if score_best(ctx, dir, state, evalcsv, summary) or not already then
    state.finished = true
    if D.root then coconut.check(coconut.json.write(join(dir, "checkpoints/last/state.json"), state)) end
  end
  if analysis_ks and R.analysis_sweep(ctx, dir, state, analysis_ks) and D.root then
    coconut.check(coconut.json.write(join(dir, "checkpoints/last/state.json"), state))
  end
  coconut.check(metrics:close()); coconut.check(evalcsv:close()); coconut.check(summary:close())
  if stage_csv then coconut.check(stage_csv:close()) end
  for _, p in ipairs(ctx.probes) do coconut.check(p.csv:close()) end
  local results = {valid = state.best_acc, best_epoch = state.best_epoch, test = state.test, extra = state.extra or {}}
  results.wall = state.wall
  results.total_wall = state.wall + (state.score_wall or 0) -- accumulated over resumes
  results.run_wall = already and 0 or coconut.time() - t_run
  results.figures = D.root and F.method(dir, ctx.method) or {}
  return results
end

return R
