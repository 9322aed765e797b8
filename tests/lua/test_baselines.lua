-- test_baselines.lua — the methods of the paper's Table 1 (issue 13) token by
-- token: each curriculum's plans turned into layouts by coco.layout and
-- compared, ids and labels, with sequences built here from their definitions
-- (paper.md §2.3) out of the tokenizer alone, in both ProsQA renderings:
--   icot                  at several epochs, smoothing offsets replayed from a
--                         fixed rng, then the whole chain removed;
--   pause                 n <pause> between question and answer, train and eval;
--   coconut_nocur         the final stage at every epoch;
--   coconut_nothought     every stage: one more step dropped, no thoughts, no markers;
--   coconut_pausethought  <pause> in the thought slots; its embedding is learned
--                         (one forward pass, a gradient on its row, a changed
--                         row after one AdamW step).
-- Also: the methods' plugin options from the run's options, the <|pause|>
-- token only when a method needs it, the paper's token count, and a plugin
-- built against the first ABI-1 header through the Lua host and the layout.
local T = require "tap"
local Layout = require "coco.layout"
local E = require "coco.experiment"
local R = require "coco.run"
local S = require "coco.seeds"

-- Tom reaches rompus in 3 steps (test_layout_frontier.lua's graph).
local HAND = require("hand_graph").JSON

-- The example in a rendering, the run's tokenizer (with <|pause|> when asked
-- for through `methods`), its special ids and a layout.
local function setup(style, methods)
  local d = T.tmpdir("baselines")
  local f = assert(io.open(d .. "/hand.json", "wb"))
  f:write(HAND)
  f:close()
  local ds = coconut.plugin.load("dataset", "prosqa", {valid_file = d .. "/hand.json", generate = false, dir = d,
                                                       format = style})
  local ex = ds:load("valid")[1]
  T.rmtree(d)
  local tok, sp = E.tokenizer({tokenizer = "words", format = style}, {ex}, methods or {"pause"})
  return ex, tok, sp, Layout.new(tok, sp, style)
end

-- The definition's pieces: tok(question + sep), tok(step_i + sep), tok(prefix + answer) eos.
local function pieces(ex, tok, sp, style)
  local st = Layout.STYLES[style]
  local p = {q = tok:encode(ex.question .. st.sep), steps = {}, a = tok:encode(st.answer_prefix .. ex.answer)}
  for i, s in ipairs(ex.steps) do p.steps[i] = tok:encode(s .. st.sep) end
  p.a[#p.a + 1] = sp.eos
  return p
end

local function cat(...)
  local t = {}
  for _, part in ipairs{...} do for _, x in ipairs(part) do t[#t + 1] = x end end
  return t
end

local function rep(id, n)
  local t = {}
  for i = 1, n do t[i] = id end
  return t
end

local function same(a, b, what)
  T.eq(#a, #b, what .. ": length")
  for i = 1, math.max(#a, #b) do
    if a[i] ~= b[i] then T.eq(a[i], b[i], what .. ": item " .. i) end
  end
end

-- A training item against (prefix, labelled): ids = prefix .. labelled, labels
-- -100 over the prefix and the ids over the rest.
local function check_item(item, prefix, labelled, what)
  same(item.input_ids, cat(prefix, labelled), what .. " ids")
  same(item.labels, cat(rep(-100, #prefix), labelled), what .. " labels")
  T.eq(item.label_sets, nil, what .. ": no label sets")
end

-- The reference's removal-smoothing offset for a uniform draw u (cumulative sum
-- of P(o) = (1 - e^-lambda) e^(-lambda o), o < 99; the rest at 99).
local function ref_offset(lambda, u)
  local cum = 0
  for o = 0, 98 do
    cum = cum + (1 - math.exp(-lambda)) * math.exp(-lambda * o)
    if u < cum then return o end
  end
  return 99
end

-- iCoT schedules that cut steps in the middle in each rendering: a words step
-- is several tokens, a symbolic step one node (a 3-token chain).
local ICOT = {words = {rpe = 2, beyond = 9, all_epoch = 5, min_chain = 6},
              symbolic = {rpe = 1, beyond = 3, all_epoch = 3, min_chain = 3}}

for _, style in ipairs{"words", "symbolic"} do
  T.test("icot (" .. style .. "): tokens removed from the chain's start per epoch, smoothing from a fixed rng, then all", function()
    local ex, tok, sp, lay = setup(style)
    local p = pieces(ex, tok, sp, style)
    local chain = cat(p.steps[1], p.steps[2], p.steps[3]) -- the rendered chain
    local c = ICOT[style]
    T.ok(#chain >= c.min_chain, "a chain of several tokens")
    local lambda = 0.7
    local cur = coconut.plugin.load("curriculum", "icot", {epochs = 6, remove_per_epoch = c.rpe,
                                                            removal_smoothing_lambda = lambda,
                                                            remove_all_when_remove_beyond = c.beyond})
    local partial, offsets = 0, {}
    for epoch = 0, c.all_epoch - 1 do
      local rng, ref = coconut.rng(77 + epoch), coconut.rng(77 + epoch)
      for i = 1, 40 do
        local plan = cur:train_plan(epoch, #ex.steps, rng)
        local o = ref_offset(lambda, ref:uniform())
        offsets[o] = true
        local r = c.rpe * epoch + o
        T.eq(plan.drop_tokens, r, string.format("epoch %d draw %d", epoch, i))
        local kept = {}
        for j = r + 1, #chain do kept[#kept + 1] = chain[j] end
        if r > 0 and r < #chain then partial = partial + 1 end
        check_item(lay:train_example(ex, plan, rng), p.q, cat(kept, p.a), string.format("icot epoch %d draw %d", epoch, i))
      end
      -- inference answers directly: the bare question
      local ids, k = lay:eval_prompt(ex, cur:eval_plan(epoch, #ex.steps))
      same(ids, p.q, "icot eval prompt"); T.eq(k, 0)
    end
    T.ok(offsets[0] and offsets[1] and offsets[2], "several smoothing offsets drawn")
    T.ok(partial > 20, "removals that cut the chain inside")
    -- from all_epoch on, rpe * epoch >= beyond: the whole chain goes (= No-CoT)
    for epoch = c.all_epoch, 5 do
      local plan = cur:train_plan(epoch, #ex.steps, coconut.rng(1))
      check_item(lay:train_example(ex, plan), p.q, p.a, "icot remove all, epoch " .. epoch)
    end
    -- a removal beyond the chain leaves question and answer
    check_item(lay:train_example(ex, {drop_steps = 0, drop_tokens = #chain + 5, n_latent = 0, markers = false, n_pause = 0}),
      p.q, p.a, "drop_tokens beyond the chain")
    -- resets when the count changes: epochs 1..all_epoch, not after
    for e = 1, 5 do T.eq(cur:reset_optimizer(e), e <= c.all_epoch, "reset at epoch " .. e) end
    T.eq(cur:reset_optimizer(0), false)
    T.eq(#R.schedule(cur), 6)
    -- only stages without any chain (and the last) may give the best checkpoint
    for e = 0, 5 do T.eq(cur:selectable(e), e >= c.all_epoch, "selectable at epoch " .. e) end
    local never = coconut.plugin.load("curriculum", "icot", {epochs = 4, remove_per_epoch = 1,
                                                              remove_all_when_remove_beyond = 0})
    for e = 0, 3 do T.eq(never:selectable(e), e == 3, "never removes all: only the last stage, epoch " .. e) end
  end)

  T.test("pause (" .. style .. "): question, n <pause>, answer; the same prompt at eval", function()
    local ex, tok, sp, lay = setup(style)
    local p = pieces(ex, tok, sp, style)
    T.ok(sp.pause and tok:id("<|pause|>") == sp.pause, "the tokenizer has <|pause|>")
    for _, n in ipairs{1, 3, 6} do
      local cur = coconut.plugin.load("curriculum", "pause", {n_pause = n, epochs = 2})
      local plan = cur:train_plan(0, #ex.steps, coconut.rng(1))
      check_item(lay:train_example(ex, plan), cat(p.q, rep(sp.pause, n)), p.a, "pause n=" .. n)
      local ids, k = lay:eval_prompt(ex, cur:eval_plan(0, #ex.steps))
      same(ids, cat(p.q, rep(sp.pause, n)), "pause eval prompt n=" .. n); T.eq(k, 0, "pauses are not thoughts")
    end
  end)

  T.test("coconut_nocur (" .. style .. "): the final stage from the first epoch", function()
    local ex, tok, sp, lay = setup(style)
    local p = pieces(ex, tok, sp, style)
    local o = {c_thought = 1, max_latent_stage = 2, epochs_per_stage = 2, epochs = 7, pad_latent_to_max = false,
               uniform_prob = 0.5, reset_optimizer = true, coconut_loss = "official", coconut_markers = true}
    local name, opts = E.METHODS.coconut_nocur(o)
    T.eq(name, "coconut"); T.eq(opts.curriculum, false)
    local cur = E.curriculum(o, "coconut_nocur")
    local epochs = R.schedule(cur)
    T.eq(#epochs, 7)
    local rng = coconut.rng(3)
    for e, stage in ipairs(epochs) do
      T.eq(stage, 3, "epoch " .. e .. " at the final stage")
      for _ = 1, 5 do -- uniform_prob would mix in other stages; it is not applied
        local item = lay:train_example(ex, cur:train_plan(stage, #ex.steps, rng), rng)
        check_item(item, cat(p.q, {sp.start}, rep(sp.latent, 2), {sp.end_}), p.a, "nocur epoch " .. e)
      end
    end
    local ids, k = lay:eval_prompt(ex, cur:eval_plan(3, #ex.steps))
    same(ids, cat(p.q, {sp.start}), "nocur eval prompt"); T.eq(k, 2)
  end)

  T.test("coconut_nothought (" .. style .. "): every stage drops one more step, no thoughts or markers", function()
    local ex, tok, sp, lay = setup(style)
    local p = pieces(ex, tok, sp, style)
    local o = {c_thought = 1, max_latent_stage = 3, epochs_per_stage = 1, epochs = 6, pad_latent_to_max = false,
               uniform_prob = 0, reset_optimizer = true, coconut_loss = "official", coconut_markers = true}
    local cur = E.curriculum(o, "coconut_nothought")
    local seen = {}
    for _, stage in ipairs(R.schedule(cur)) do seen[stage] = true end
    for stage = 0, 4 do
      T.ok(seen[stage], "stage " .. stage .. " is trained")
      local kept = {}
      for i = stage + 1, #ex.steps do kept = cat(kept, p.steps[i]) end
      check_item(lay:train_example(ex, cur:train_plan(stage, #ex.steps, coconut.rng(1))), p.q, cat(kept, p.a),
        "nothought stage " .. stage)
      local ids, k = lay:eval_prompt(ex, cur:eval_plan(stage, #ex.steps))
      same(ids, p.q, "nothought eval stage " .. stage); T.eq(k, 0)
    end
  end)

  T.test("coconut_pausethought (" .. style .. "): <pause> in every thought slot, Coconut's schedule", function()
    local ex, tok, sp, lay = setup(style)
    local p = pieces(ex, tok, sp, style)
    for _, markers in ipairs{true, false} do
      local o = {c_thought = 1, max_latent_stage = 2, epochs_per_stage = 1, epochs = 4, pad_latent_to_max = false,
                 uniform_prob = 0, reset_optimizer = true, coconut_loss = "official", coconut_markers = markers}
      local cur = E.curriculum(o, "coconut_pausethought")
      local open, close = markers and {sp.start} or {}, markers and {sp.end_} or {}
      for stage = 0, 3 do
        local n = math.min(stage, 2)
        local kept = {}
        for i = stage + 1, #ex.steps do kept = cat(kept, p.steps[i]) end
        local item = lay:train_example(ex, cur:train_plan(stage, #ex.steps, coconut.rng(1)))
        check_item(item, cat(p.q, open, rep(sp.pause, n), close), cat(kept, p.a),
          string.format("pausethought stage %d markers %s", stage, tostring(markers)))
        for _, id in ipairs(item.input_ids) do T.ok(id ~= sp.latent, "no <|latent|> slot") end
        -- eval: the slots are prompt tokens, no thought is generated
        local ids, k = lay:eval_prompt(ex, cur:eval_plan(stage, #ex.steps))
        same(ids, cat(p.q, open, rep(sp.pause, n), close), "pausethought eval stage " .. stage); T.eq(k, 0)
      end
    end
  end)
end

T.test("coconut_pausethought: the <pause> embedding is learned (one pass, a gradient, a changed row)", function()
  local ex, tok, sp, lay = setup("symbolic")
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 128, dropout = 0, seed = 11}
  local o = {c_thought = 1, max_latent_stage = 2, epochs_per_stage = 1, epochs = 4, pad_latent_to_max = false,
             uniform_prob = 0, reset_optimizer = true, coconut_loss = "official", coconut_markers = true}
  local function grads_of(method)
    local item = lay:train_example(ex, E.curriculum(o, method):train_plan(2, #ex.steps, coconut.rng(1)))
    local batch = coconut.collate({item}, {latent_id = sp.latent, pad_id = sp.eos, start_id = sp.start})
    m:zero_grad()
    local out <close> = m:forward(batch, {logits = false})
    local passes = out.passes
    out:backward(1.0)
    return m:grads()["wte.weight"]:row(sp.pause + 1):totable(), passes
  end
  local g_latent, passes_latent = grads_of("coconut")
  local g, passes = grads_of("coconut_pausethought")
  T.eq(passes, 1, "pause slots need no latent passes")
  T.eq(passes_latent, 3, "two continuous thoughts: three passes")
  local norm, diff = 0, 0
  for i = 1, #g do norm = norm + g[i] ^ 2; diff = diff + (g[i] - g_latent[i]) ^ 2 end
  T.ok(norm > 0, "the <pause> row has a gradient")
  -- with continuous thoughts the row only gets the tied LM head's gradient;
  -- as an input it gets more
  T.ok(diff > 1e-12 * math.max(norm, 1e-30), "the input <pause> tokens contribute to the row's gradient")
  local before = m:params()["wte.weight"]:row(sp.pause + 1):totable()
  local opt = coconut.optim.adamw(m, {lr = 1e-2, weight_decay = 0})
  opt:step()
  local after = m:params()["wte.weight"]:row(sp.pause + 1):totable()
  local moved = 0
  for i = 1, #before do moved = math.max(moved, math.abs(after[i] - before[i])) end
  T.ok(moved > 1e-4, "the <pause> embedding changed after one step: " .. moved)
end)

T.test("methods: plugin options from the run's options, <|pause|> only when needed, paper order", function()
  local o = {c_thought = 2, max_latent_stage = 3, epochs_per_stage = 2, epochs = 20, baseline_epochs = 8,
             pad_latent_to_max = true, uniform_prob = 0.1, reset_optimizer = false, coconut_loss = "frontier",
             coconut_markers = false, pause_count = 0, icot_epochs = 0, icot_remove_per_epoch = 3,
             icot_smoothing_lambda = 2, icot_remove_all_beyond = 12, icot_pretrain_epochs = 1, icot_reset_optimizer = false}
  local name, po = E.METHODS.pause(o)
  T.eq(name, "pause"); T.eq(po.n_pause, 6, "Coconut's final-stage thoughts: 3 x 2"); T.eq(po.epochs, 8)
  o.pause_count = 4
  T.eq(select(2, E.METHODS.pause(o)).n_pause, 4)
  local ic = E.curriculum(o, "icot")
  T.eq(ic.name, "icot"); T.eq(ic.options.epochs, 20); T.eq(ic.options.remove_per_epoch, 3)
  T.eq(ic.options.removal_smoothing_lambda, 2); T.eq(ic.options.remove_all_when_remove_beyond, 12)
  T.eq(ic.options.pretrain_epochs, 1); T.eq(ic.options.reset_optimizer, false)
  -- an experiment whose spec lacks the icot options gets the plugin's defaults
  local bare = {c_thought = 1, max_latent_stage = 6, epochs_per_stage = 5, epochs = 50, baseline_epochs = 0,
                pad_latent_to_max = true, uniform_prob = 0, reset_optimizer = true}
  local ib = E.curriculum(bare, "icot")
  T.eq(ib.options.remove_per_epoch, 8); T.eq(ib.options.removal_smoothing_lambda, 4)
  T.eq(ib.options.remove_all_when_remove_beyond, 39)
  for _, m in ipairs{"coconut", "coconut_nocur", "coconut_nothought", "coconut_pausethought"} do
    local c = E.curriculum(o, m)
    T.eq(c.name, "coconut", m)
    T.eq(c.options.loss, "frontier", m); T.eq(c.options.markers, false, m); T.eq(c.options.c_thought, 2, m)
    T.eq(c.options.uniform_prob, 0.1, m); T.eq(c.options.pad_latent_to_max, true, m)
  end
  T.eq(E.curriculum(o, "coconut_nothought").options.thoughts, "none")
  T.eq(E.curriculum(o, "coconut_pausethought").options.thoughts, "pause")
  T.eq(E.curriculum(o, "coconut").options.thoughts, "continuous")
  T.eq(E.curriculum(o, "coconut").options.curriculum, true)
  -- the paper's Table 1 order; every method builds
  T.eq(table.concat(E.PAPER_ORDER, ","), "cot,nocot,icot,pause,coconut,coconut_nocur,coconut_nothought,coconut_pausethought")
  for _, m in ipairs(E.PAPER_ORDER) do T.ok(E.curriculum(o, m), m) end
  -- <|pause|>: added for pause / coconut_pausethought only (other runs keep their vocabulary)
  T.eq(E.needs_pause{"cot", "coconut"}, false); T.eq(E.needs_pause{"cot", "pause"}, true)
  T.eq(E.needs_pause{"coconut_pausethought"}, true)
  local _, tok0, sp0 = setup("symbolic", {"coconut", "icot"})
  T.eq(sp0.pause, nil); T.eq(tok0:id("<|pause|>"), nil)
  local _, tok1, sp1 = setup("symbolic", {"coconut", "pause"})
  T.eq(tok1:size(), tok0:size() + 1); T.eq(sp1.pause, tok1:size() - 1)
end)

T.test("a method's initial model does not depend on whether a pause method shares the run", function()
  local _, tok0, sp0 = setup("symbolic", {"coconut"})
  local _, tok1, sp1 = setup("symbolic", {"coconut", "pause"})
  local o = {model = "tiny", model_path = "", n_positions = 64, dropout = 0, seed = 4, init_token = "<<"}
  T.eq(E.base_vocab(tok0, sp0), tok0:size()); T.eq(E.base_vocab(tok1, sp1), tok0:size())
  local a = E.model(o, tok0, nil, E.base_vocab(tok0, sp0))
  local b = E.model(o, tok1, nil, E.base_vocab(tok1, sp1))
  -- totable nests by dimension; flatten to compare
  local function flat(t, out)
    out = out or {}
    for _, v in ipairs(t) do
      if type(v) == "table" then flat(v, out) else out[#out + 1] = v end
    end
    return out
  end
  local pa, pb = a:params(), b:params()
  for _, name in ipairs(a:param_names()) do
    local x, y = flat(pa[name]:totable()), flat(pb[name]:totable())
    T.eq(#x, #y, name .. " size")
    local same = true
    for i = 1, #x do if x[i] ~= y[i] then same = false; break end end
    T.ok(same, name .. " is identical")
  end
  -- the pause method grows its copy by the <|pause|> row, a copy of <|latent|>'s
  E.with_pause(o, b, tok1, sp1)
  T.eq(b:config().vocab_size, tok1:size())
  local rows = b:params()["wte.weight"]:totable()
  T.eq(#rows, tok1:size())
  for j = 1, b:config().n_embd do
    T.eq(rows[sp1.pause + 1][j], rows[sp1.latent + 1][j], "pause row = latent row, column " .. j)
  end
  E.with_pause(o, b, tok1, sp1) -- idempotent
  T.eq(b:config().vocab_size, tok1:size())
  a:close(); b:close()
end)

T.test("layout: plan fields of issue 13 are checked", function()
  local ex, tok, sp, lay = setup("symbolic", {"coconut"})
  T.raises(function() lay:train_example(ex, {drop_steps = 0, n_latent = 2, markers = true, n_pause = 0, pause_as_thought = true}) end,
    "tokenizer has no <|pause|> token")
  local _, _, _, lay2 = setup("symbolic")
  T.raises(function()
    lay2:train_example(ex, {drop_steps = 0, drop_tokens = 2, n_latent = 0, markers = false, n_pause = 0, supervision = "frontier"})
  end, "drop_tokens")
end)

T.test("token count: markers and pauses are not new tokens, a thought is one token", function()
  local sp = {start = 90, end_ = 91, latent = 92, pause = 93, eos = 94}
  T.eq(R.count_new_tokens({5, 90, 6, 93, 93, 91, 7}, sp), 3)
  T.eq(R.count_new_tokens({}, sp), 0)
  T.eq(R.count_new_tokens({5, 93}, {start = 90, end_ = 91, latent = 92, eos = 94}), 2, "no pause token in the run")
  local d = T.tmpdir("tokcount")
  local w = assert(coconut.csv.open(d .. "/eval.csv", {"split", "id", "new_tokens", "thoughts"}))
  w:row{split = "test", id = 0, new_tokens = 2, thoughts = 6}
  w:row{split = "test", id = 1, new_tokens = 4, thoughts = 6}
  w:row{split = "valid", id = 0, new_tokens = 3, thoughts = 0}
  assert(w:close())
  local m = S.eval_means(d .. "/eval.csv")
  T.near(m.test.tokens, 9, 1e-12); T.near(m.test.new_tokens, 3, 1e-12); T.near(m.valid.tokens, 3, 1e-12)
  T.rmtree(d)
end)

T.test("a curriculum built against the first ABI-1 header runs through the Lua host and the layout", function()
  local builtin = assert(coconut.plugin.find("curriculum", "coconut"))
  local build = builtin:match("^(.*)/plugins/curriculum/coconut%.so$")
  local path = build and build .. "/tests/plugins/old_curriculum.so"
  if not (path and coconut.fs.exists(path)) then T.skip("test plugins not built (make test-plugins)") end
  local cur = coconut.plugin.load("curriculum", path, {epochs = 2})
  T.eq(cur.name, "old_curriculum")
  T.eq(cur:num_stages(), 2); T.eq(cur:stage_epochs(1), 2); T.eq(#R.schedule(cur), 4)
  local plan = cur:train_plan(1, 3, coconut.rng(1))
  T.eq(plan.drop_steps, 1); T.eq(plan.n_latent, 1); T.eq(plan.markers, true); T.eq(plan.n_pause, 1)
  T.eq(plan.supervision, "steps"); T.eq(plan.drop_tokens, 0); T.eq(plan.pause_as_thought, false)
  local ex, tok, sp, lay = setup("words")
  local p = pieces(ex, tok, sp, "words")
  check_item(lay:train_example(ex, plan), cat(p.q, {sp.start, sp.latent, sp.end_, sp.pause}), cat(p.steps[2], p.steps[3], p.a),
    "old plugin layout")
  local e = cur:eval_plan(1, 3)
  T.eq(e.drop_tokens, 0); T.eq(e.pause_as_thought, false)
  -- its vtable ends before the appended selectable(): every stage may be the best
  T.eq(cur:selectable(0), true); T.eq(cur:selectable(1), true)
end)
