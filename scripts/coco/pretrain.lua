-- coco.pretrain — language-model pretraining of a from-scratch model on the
-- questions' text, shared by every method of an experiment.
--
-- The paper starts every method from pretrained GPT-2, which already copies
-- names from its context (induction heads). A small model trained from scratch
-- sees one copy target per example in the Coconut/CoT/No-CoT losses (labels are
-- -100 over the question) and stays on the "guess a name" plateau for a long
-- time: content-based copying at variable positions forms slowly (measured:
-- no progress in 600 steps on a plain repeat task with random lengths, while a
-- fixed-length one is learned in 300). This stage stands in for GPT-2's
-- pretraining, on the questions' text only (facts and the question sentence;
-- never steps or answers), so it teaches copying, not the task:
--   task "repeat": the question twice, loss on the second copy — every token of
--                  the copy is predictable only by looking back (dense copying);
--   task "lm":     next-token loss over the question.
--   task "recall": the question, then its units (edges "s t |" in the symbolic
--                  rendering, sentences ending in "." in the words one) again
--                  in a fresh random order every epoch, loss on every token of
--                  a unit but its first: the rest of a unit is found only by
--                  looking its first token up in the question (content-based
--                  induction), where "repeat" can also be solved by copying
--                  from a fixed distance back. A source with several edges
--                  leaves an irreducible loss on its targets, so
--                  --pretrain_until_loss suits "repeat" better.
--   task "lookup":  the question, then every node of its reasoning graph that
--                  has out-edges, named by its token, in a fresh random order
--                  every epoch; the output at each name is scored against the
--                  set of its children (the set loss of --coconut_loss bfs).
--                  The answer to each query is unambiguous and found only by
--                  a content lookup, where "recall" asks for one of several
--                  objects. Needs the graph meta (ProsQA; ProntoQA with
--                  frontiers, which --pretrain_task lookup turns on).
--                  --pretrain_lookup_units "4,8,0" keeps, at epoch e, that many
--                  of the question's units (drawn, in their order), and asks
--                  only for the edges inside them: a short-context curriculum
--                  (0 = the whole question; the last entry repeats).
-- All methods then start from the same pretrained weights.
--
-- Length: --pretrain_epochs epochs; with --pretrain_until_loss L > 0 that is a
-- cap, and pretraining stops after the first epoch whose mean loss is <= L.
-- The copy loss falls in a sudden transition (induction) whose epoch varies by
-- seed (ProsQA cpu preset: epoch 5-6 for seed 0, a later one for seed 1), and
-- a model stopped inside it has not learned the lookup the methods build on.
local P = require "coco.progress"
local K = require "coco.killpoint"
local R = require "coco.run"
local D = require "coco.dist"

local M = {}

-- The tokens that split the question into units for the "recall" task: sep
-- ends a unit ("|" after each edge in the symbolic rendering, "." after each
-- sentence in the words one); stop (symbolic "Q", else nil) starts the question
-- sentence, so the tokens between the last sep and it are the last unit.
function M.unit_tokens(layout)
  local symbolic = layout.style_name == "symbolic"
  local word = symbolic and "|" or "."
  local sep = layout.tok:id(word)
  if not sep then
    coconut.user_error(string.format("--pretrain_task recall: the tokenizer has no '%s' token to split the question into units", word))
  end
  local stop = symbolic and layout.tok:id("Q") or nil
  if symbolic and not stop then coconut.user_error("--pretrain_task recall: the tokenizer has no 'Q' token") end
  return sep, stop
end

-- A "lookup" item: q, then the query tokens of lookups ({{token, {children}}},
-- coco.layout:lookups) in the order rng draws; label_sets scores the output at
-- each query against its children (label_sets[t] scores the output at t - 1,
-- so the last query is followed by a filler token that is never scored).
function M.lookup_item(q, lookups, rng)
  local order = {}
  for i = 1, #lookups do order[i] = lookups[i] end
  rng:shuffle(order)
  local ids, labels, sets = {}, {}, {}
  for j = 1, #q do ids[j] = q[j]; labels[j] = -100 end
  for _, l in ipairs(order) do
    ids[#ids + 1] = l[1]; labels[#labels + 1] = -100
    sets[#ids + 1] = l[2]
  end
  ids[#ids + 1] = order[#order] and order[#order][2][1] or q[#q]
  labels[#labels + 1] = -100
  return {input_ids = ids, labels = labels, label_sets = sets}
end

-- The units of q (split as "recall" splits them) that hold an edge of
-- lookups: {ids = {tokens}, edges = {{s, t}}} with s before t in the unit.
function M.edge_units(q, lookups, sep, stop)
  local units, cur = {}, {}
  local function close()
    if #cur == 0 then return end
    local at = {}
    for i, t in ipairs(cur) do if not at[t] then at[t] = i end end
    local edges = {}
    for _, l in ipairs(lookups) do
      local i = at[l[1]]
      if i then
        for _, c in ipairs(l[2]) do
          for j = i + 1, #cur do if cur[j] == c then edges[#edges + 1] = {l[1], c}; break end end
        end
      end
    end
    if #edges > 0 then units[#units + 1] = {ids = cur, edges = edges} end
    cur = {}
  end
  for _, t in ipairs(q) do
    if t == stop then
      if #cur > 0 then cur[#cur + 1] = sep end -- the last, unterminated unit gets one (as in recall)
      break
    end
    cur[#cur + 1] = t
    if t == sep then close() end
  end
  close()
  return units
end

-- A "lookup" item over n of units (coco.pretrain.edge_units; n <= 0 or >= #units:
-- all), drawn by rng and kept in their order: their tokens, then the queries
-- of the edges among them (lookup_item).
function M.lookup_subset_item(units, n, rng)
  local pick = {}
  for i = 1, #units do pick[i] = i end
  if n > 0 and n < #units then
    rng:shuffle(pick)
    for i = #pick, n + 1, -1 do pick[i] = nil end
    table.sort(pick)
  end
  local q, kids, order = {}, {}, {}
  for _, k in ipairs(pick) do
    local u = units[k]
    for _, t in ipairs(u.ids) do q[#q + 1] = t end
    for _, e in ipairs(u.edges) do
      if not kids[e[1]] then kids[e[1]] = {}; order[#order + 1] = e[1] end
      local set = kids[e[1]]
      local dup = false
      for _, c in ipairs(set) do dup = dup or c == e[2] end
      if not dup then set[#set + 1] = e[2] end
    end
  end
  local lk = {}
  for i, s in ipairs(order) do lk[i] = {s, kids[s]} end
  return M.lookup_item(q, lk, rng)
end

-- A "recall" item: q, then q's units in the order rng draws, each ending in
-- sep (the last, unterminated one gets it too); labels on every token of a
-- copied unit except its first (-100 elsewhere). The question sentence (from
-- stop, or after the last sep) is not copied.
function M.recall_item(q, sep, stop, rng)
  local units, cur = {}, {}
  for _, t in ipairs(q) do
    if t == stop then break end
    cur[#cur + 1] = t
    if t == sep then units[#units + 1] = cur; cur = {} end
  end
  if stop and #cur > 0 then cur[#cur + 1] = sep; units[#units + 1] = cur end
  rng:shuffle(units)
  local ids, labels = {}, {}
  for j = 1, #q do ids[j] = q[j]; labels[j] = -100 end
  for _, u in ipairs(units) do
    for j, t in ipairs(u) do
      ids[#ids + 1] = t
      labels[#labels + 1] = j == 1 and -100 or t
    end
  end
  return {input_ids = ids, labels = labels}
end

-- examples: training examples; train_epoch (optional): epoch -> that epoch's
-- training examples (a per-epoch rendering); layout: coco.layout; returns the
-- model (trained in place)
function M.run(ctx)
  local o, m, dir = ctx.opts, ctx.model, ctx.dir
  if D.root then coconut.check(coconut.fs.mkdir(dir)) end
  local final = dir .. "/model.safetensors"
  -- under MPI rank 0 decides and sends the weights (coco.dist)
  if D.exists(dir .. "/state.json") then
    P.log("[pretrain] reusing %s", final)
    return coconut.check(D.load_model(final))
  end
  D.sync_model(m) -- every rank starts from rank 0's initialisation
  local opt = coconut.optim.adamw(m, {lr = o.pretrain_lr > 0 and o.pretrain_lr or o.lr, weight_decay = o.weight_decay,
                                      betas = {o.beta1, o.beta2}})
  local metrics = D.csv_open(dir .. "/metrics.csv", {"step", "epoch", "loss", "tokens_per_s"})
  local task = o.pretrain_task
  if task ~= "repeat" and task ~= "lm" and task ~= "recall" and task ~= "lookup" then
    coconut.user_error("--pretrain_task must be 'repeat', 'recall', 'lookup' or 'lm', got '" .. tostring(task) .. "'")
  end
  local sep, stop
  if task == "recall" then sep, stop = M.unit_tokens(ctx.layout) end
  -- lookup: units kept per epoch (0 = the whole question)
  local keep = {}
  for w in tostring(o.pretrain_lookup_units or "0"):gmatch("[^,]+") do
    local n = math.tointeger(tonumber(w))
    if not n or n < 0 then
      coconut.user_error("--pretrain_lookup_units must be a comma-separated list of counts >= 0, got '" .. tostring(o.pretrain_lookup_units) .. "'")
    end
    keep[#keep + 1] = n
  end
  if #keep == 0 then keep[1] = 0 end
  local subset = false
  for _, n in ipairs(keep) do subset = subset or n > 0 end
  if task == "lookup" and subset then sep, stop = M.unit_tokens(ctx.layout) end
  -- one epoch's training items ("recall" draws a fresh unit order per epoch)
  local function build(epoch)
    local items = {}
    local rng = (task == "recall" or task == "lookup") and coconut.rng(o.seed * 104729 + epoch) or nil
    -- a per-epoch rendering (e.g. ProntoQA's concepts = permute) gives every
    -- epoch its own text, as in the methods' training
    local src = ctx.train_epoch and ctx.train_epoch(epoch) or ctx.examples
    for i, ex in ipairs(src) do
      local q = ctx.layout:pieces(ex).q
      if task == "recall" then
        items[i] = M.recall_item(q, sep, stop, rng)
      elseif task == "lookup" then
        local ok, lk = pcall(ctx.layout.lookups, ctx.layout, ex)
        if not ok then coconut.user_error("--pretrain_task lookup: " .. tostring(lk)) end
        local n = keep[math.min(epoch, #keep)]
        if n > 0 then
          items[i] = M.lookup_subset_item(M.edge_units(q, lk, sep, stop), n, rng)
        else
          items[i] = M.lookup_item(q, lk, rng)
        end
      else
        local ids, labels = {}, {}
        if task == "repeat" then
          for j = 1, #q do ids[j] = q[j]; labels[j] = -100 end
          for j = 1, #q do ids[#q + j] = q[j]; labels[#q + j] = q[j] end
        else
          for j = 1, #q do ids[j] = q[j]; labels[j] = q[j] end
        end
        items[i] = {input_ids = ids, labels = labels}
      end
    end
    return items
  end
  local items = build(1)
  local micro, step = o.micro_batch, 0
  local n_pos = m:config().n_positions
  local accum = math.max(1, o.batch_size // micro)
  m:train(true)
  local stop_at = o.pretrain_until_loss or 0
  if stop_at < 0 then coconut.user_error("--pretrain_until_loss must be >= 0, got " .. tostring(stop_at)) end
  local done_epochs, last_loss = 0, math.huge
  for epoch = 1, o.pretrain_epochs do
    if (task == "recall" or task == "lookup" or ctx.train_epoch) and epoch > 1 then items = build(epoch) end
    coconut.rng(o.seed * 7919 + epoch):shuffle(items)
    local nsteps = math.ceil(#items / (micro * accum))
    local bar = P.new{total = nsteps, label = string.format("[pretrain] epoch %d/%d", epoch, o.pretrain_epochs),
                      every = math.max(1, nsteps // 5)}
    local pos, lsum = 1, 0
    for s = 1, nsteps do
      local t0 = coconut.time()
      m:zero_grad()
      local nm = math.min(accum, math.ceil((#items - pos + 1) / micro))
      local l, toks = 0, 0
      local dst = D.begin_step(m, nm) -- this rank's share of the micro-batches (coco.dist)
      for j = 1, nm do
        local chunk = {}
        for i = pos, math.min(#items, pos + micro - 1) do chunk[#chunk + 1] = items[i] end
        pos = pos + #chunk
        if D.mine(dst, m, j) then
          local batch = coconut.collate(chunk, {pad_id = ctx.special.eos})
          R.check_length(batch, n_pos, "[pretrain]")
          local out <close> = m:forward(batch, {logits = false})
          if out.loss ~= out.loss then
            coconut.user_error("[pretrain] loss is NaN at epoch " .. epoch .. " step " .. s .. " (try a smaller --pretrain_lr / --lr)")
          end
          l = l + out.loss / nm
          toks = toks + batch.input_ids:numel()
          out:backward(1.0 / nm)
        end
      end
      local sums = D.finish_step(dst, m, {l, toks}) -- gradients and sums over ranks
      l, toks = sums[1], sums[2]
      if o.warmup_steps > 0 then
        opt:set_lr((o.pretrain_lr > 0 and o.pretrain_lr or o.lr) * math.min(1, (step + 1) / o.warmup_steps))
      end
      opt:step()
      step = step + 1
      lsum = lsum + l
      metrics:row{step = step, epoch = epoch, loss = l, tokens_per_s = toks / math.max(coconut.time() - t0, 1e-9)}
      bar:update(s, {loss = l})
      K.point("pretrain_step") -- test-only kill point (coco.killpoint)
    end
    bar:done()
    local mean = lsum / nsteps
    P.log("[pretrain] epoch %d/%d: loss %.4f", epoch, o.pretrain_epochs, mean)
    done_epochs, last_loss = epoch, mean
    if stop_at > 0 and mean <= stop_at then
      P.log("[pretrain] loss %.4f <= --pretrain_until_loss %g: stopping after epoch %d", mean, stop_at, epoch)
      break
    end
  end
  if stop_at > 0 and last_loss > stop_at then
    P.log("[pretrain] warning: loss %.4f is still above --pretrain_until_loss %g after the cap of %d epochs "
          .. "(the copy task is not learned; the methods start from a model without the lookup)", last_loss, stop_at,
          o.pretrain_epochs)
  end
  coconut.check(metrics:close())
  if D.root then
    coconut.check(m:save(final))
    coconut.check(coconut.json.write(dir .. "/state.json", {epochs = done_epochs, steps = step, final_loss = last_loss,
                                                     until_loss = stop_at > 0 and stop_at or nil}))
  end
  return m
end

return M
