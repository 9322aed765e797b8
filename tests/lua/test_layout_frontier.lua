-- test_layout_frontier.lua — the symbolic layout token by token (CoT, No-CoT,
-- Coconut official), the labels of the frontier and bfs losses, the coconut
-- curriculum's `loss` option, symbolic answer extraction, the stage-matched
-- accuracy and the "paths" probe's edge check, on the hand-made graph of
-- test_prosqa_symbolic.lua.
local T = require "tap"
local Layout = require "coco.layout"
local E = require "coco.experiment"
local R = require "coco.run"

-- Tom (1) reaches rompus (4) over two shortest paths (through wumpus 2 or
-- gorpus 6, then yumpus 3); Sam (0) is a lempus (5); a dead end Tom -> zumpus (7).

local function setup()
  local ex = require("hand_graph").load(T, "symbolic")
  local tok = assert(coconut.tokenizer.words(E.layout_texts({ex}, "symbolic"), {specials = E.SPECIALS, unk = true}))
  local sp = {start = tok:id(E.SPECIALS[1]), end_ = tok:id(E.SPECIALS[2]), latent = tok:id(E.SPECIALS[3]), eos = tok:eos()}
  return ex, tok, sp, Layout.new(tok, sp, "symbolic")
end

-- ids of a whitespace-separated list of words (each must be one token)
local function ids_of(tok, s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = assert(tok:id(w), "no token " .. w) end
  return t
end

local function same(a, b, what)
  T.eq(#a, #b, what .. ": length")
  for i = 1, math.max(#a, #b) do
    if a[i] ~= b[i] then T.eq(a[i], b[i], what .. ": item " .. i); return end
  end
end

local Q = "0 5 | 3 4 | 1 6 | 2 3 | 1 2 | 6 3 | 1 7 Q 5 4 R 1"

T.test("layout symbolic: CoT, No-CoT and Coconut (official) examples token by token", function()
  local ex, tok, sp, lay = setup()
  local q = ids_of(tok, Q)
  -- CoT: question, path, A target, eos; labels from the path on
  local cot = lay:train_example(ex, {drop_steps = 0, n_latent = 0, markers = false, n_pause = 0})
  local want = ids_of(tok, Q .. " 2 3 4 A 4")
  want[#want + 1] = sp.eos
  same(cot.input_ids, want, "cot ids")
  for i = 1, #q do T.eq(cot.labels[i], -100, "cot label over the question " .. i) end
  for i = #q + 1, #want do T.eq(cot.labels[i], want[i], "cot label " .. i) end
  -- No-CoT: the question, then A target eos
  local nocot = lay:train_example(ex, {drop_steps = 3, n_latent = 0, markers = false, n_pause = 0})
  want = ids_of(tok, Q .. " A 4"); want[#want + 1] = sp.eos
  same(nocot.input_ids, want, "nocot ids")
  -- Coconut official stage 1: one thought between the markers, then the kept steps
  local c1 = lay:train_example(ex, {drop_steps = 1, n_latent = 1, markers = true, n_pause = 0, supervision = "steps"})
  want = ids_of(tok, Q); for _, t in ipairs{sp.start, sp.latent, sp.end_} do want[#want + 1] = t end
  for _, t in ipairs(ids_of(tok, "3 4 A 4")) do want[#want + 1] = t end
  want[#want + 1] = sp.eos
  same(c1.input_ids, want, "coconut stage 1 ids")
  T.eq(c1.labels[#q + 3], -100, "<|end-latent|> is not labelled")
  T.eq(c1.labels[#q + 4], tok:id("3"))
  -- the eval prompt stops at <|start-latent|>
  local p, k = lay:eval_prompt(ex, {drop_steps = 0, n_latent = 3, markers = true, n_pause = 0})
  T.eq(#p, #q + 1); T.eq(p[#p], sp.start); T.eq(k, 3)
  -- answer extraction: the last marker and the word after it
  T.eq(lay:extract("2 3 4 A 4"), "A 4")
  T.eq(lay:extract("A 5 A 4"), "A 4")
  T.eq(lay:extract("2 3 4"), "")
  T.eq(lay:extract("2 A"), "A")
  local words_lay = Layout.new(tok, sp)
  T.eq(words_lay:extract("Tom is a wumpus.\n### Tom is a rompus."), "Tom is a rompus.")
end)

T.test("layout frontier loss: one label after s thoughts, drawn from the shortest-path frontier", function()
  local ex, tok, sp, lay = setup()
  local q = ids_of(tok, Q)
  local rng = coconut.rng(7)
  local seen = {}
  for _ = 1, 60 do
    local it = lay:train_example(ex, {drop_steps = 0, n_latent = 0, markers = true, n_pause = 0, supervision = "frontier"}, rng)
    T.eq(#it.input_ids, #q + 2, "question, <|start-latent|>, label")
    T.eq(it.input_ids[#q + 1], sp.start)
    local last = it.input_ids[#it.input_ids]
    T.eq(it.labels[#it.labels], last, "the label is the last token")
    for i = 1, #it.labels - 1 do if it.labels[i] ~= -100 then T.ok(false, "only one label") end end
    seen[tok:token(last)] = (seen[tok:token(last)] or 0) + 1
  end
  -- depth 1 frontier = {2, 6}: both drawn, never the dead end 7
  T.ok((seen["2"] or 0) > 10 and (seen["6"] or 0) > 10, "both shortest-path children drawn")
  T.eq(seen["7"], nil)
  -- stage 2: two thoughts, no <|end-latent|>, label 4 (frontier at depth 3 = the target)
  local it = lay:train_example(ex, {drop_steps = 2, n_latent = 2, markers = true, n_pause = 0, supervision = "frontier"}, rng)
  local want = ids_of(tok, Q)
  for _, t in ipairs{sp.start, sp.latent, sp.latent, tok:id("4")} do want[#want + 1] = t end
  same(it.input_ids, want, "stage 2 ids")
  T.eq(it.labels[#want], tok:id("4"))
  -- final stage (every step dropped): D thoughts, <|end-latent|>, A target eos labelled as usual
  it = lay:train_example(ex, {drop_steps = 3, n_latent = 3, markers = true, n_pause = 0, supervision = "frontier"}, rng)
  want = ids_of(tok, Q)
  for _, t in ipairs{sp.start, sp.latent, sp.latent, sp.latent, sp.end_, tok:id("A"), tok:id("4"), sp.eos} do
    want[#want + 1] = t
  end
  same(it.input_ids, want, "final stage ids")
  T.eq(it.labels[#want - 2], tok:id("A")); T.eq(it.labels[#want - 1], tok:id("4")); T.eq(it.labels[#want], sp.eos)
  T.eq(it.labels[#want - 3], -100)
end)

T.test("layout bfs loss: the label position carries the whole BFS frontier", function()
  local ex, tok, sp, lay = setup()
  local q = ids_of(tok, Q)
  local it = lay:train_example(ex, {drop_steps = 0, n_latent = 0, markers = true, n_pause = 0, supervision = "bfs"})
  T.eq(#it.input_ids, #q + 2)
  T.eq(it.labels[#q + 2], -100, "the set position has no plain label")
  local set = it.label_sets[#q + 2]
  T.ok(set, "label_sets at the last position")
  table.sort(set)
  local want = ids_of(tok, "2 6 7"); table.sort(want)
  same(set, want, "bfs frontier at depth 1 = {2, 6, 7}")
  local n = 0
  for _ in pairs(it.label_sets) do n = n + 1 end
  T.eq(n, 1, "one set per example")
  it = lay:train_example(ex, {drop_steps = 1, n_latent = 1, markers = true, n_pause = 0, supervision = "bfs"})
  same(it.label_sets[#q + 3], ids_of(tok, "3"), "bfs frontier at depth 2 = {3}")
  -- examples without frontier metadata are refused with a message
  local bad = {question = "1 2 Q 1 2 R 1", steps = {"2"}, answer = "A 2"}
  local ok, err = pcall(lay.train_example, lay, bad, {drop_steps = 0, n_latent = 0, markers = true, n_pause = 0,
                                                      supervision = "bfs"})
  T.ok(not ok and tostring(err):find("meta"), tostring(err))
end)

T.test("layout bfs_all loss: every thought's output carries its depth's BFS frontier", function()
  local ex, tok, sp, lay = setup()
  local q = ids_of(tok, Q)
  local function sorted(t) local c = {}; for i, v in ipairs(t) do c[i] = v end; table.sort(c); return c end
  -- stage 2, c = 1: outputs after 0, 1, 2 thoughts at depths 1, 2, 3
  local it = lay:train_example(ex, {drop_steps = 2, n_latent = 2, markers = false, n_pause = 0, supervision = "bfs_all"})
  T.eq(#it.input_ids, #q + 3, "question, two thoughts, the last set's filler")
  for i = 1, #it.labels do T.eq(it.labels[i], -100, "no plain label at " .. i) end
  -- label_sets[t] scores the output at t - 1: the question's last token, thought 1, thought 2
  same(sorted(it.label_sets[#q + 1]), sorted(ids_of(tok, "2 6 7")), "after 0 thoughts: depth 1")
  same(it.label_sets[#q + 2], ids_of(tok, "3"), "after 1 thought: depth 2")
  same(it.label_sets[#q + 3], ids_of(tok, "4"), "after 2 thoughts: depth 3")
  local n = 0
  for _ in pairs(it.label_sets) do n = n + 1 end
  T.eq(n, 3)
  -- plain bfs keeps one set, at the last position
  local one = lay:train_example(ex, {drop_steps = 2, n_latent = 2, markers = false, n_pause = 0, supervision = "bfs"})
  n = 0
  for _ in pairs(one.label_sets) do n = n + 1 end
  T.eq(n, 1); same(one.label_sets[#q + 3], ids_of(tok, "4"), "bfs: the last position only")
  -- c = 2, stage 1: two thoughts for one step, both outputs before the second thought at depth 1
  it = lay:train_example(ex, {drop_steps = 1, n_latent = 2, markers = true, n_pause = 0, supervision = "bfs_all"})
  T.eq(it.input_ids[#q + 1], sp.start)
  same(sorted(it.label_sets[#q + 2]), sorted(ids_of(tok, "2 6 7")), "c=2: after 0 thoughts")
  same(sorted(it.label_sets[#q + 3]), sorted(ids_of(tok, "2 6 7")), "c=2: after 1 thought")
  same(it.label_sets[#q + 4], ids_of(tok, "3"), "c=2: after 2 thoughts")
  -- the final stage labels the answer as every loss does
  it = lay:train_example(ex, {drop_steps = 3, n_latent = 3, markers = true, n_pause = 0, supervision = "bfs_all"})
  T.eq(it.label_sets, nil); T.eq(it.labels[#it.labels], sp.eos)
end)

T.test("curriculum coconut: the loss option sets the plan's supervision", function()
  for _, case in ipairs{{"official", "steps"}, {"frontier", "frontier"}, {"bfs", "bfs"}, {"bfs_all", "bfs_all"}} do
    local c = coconut.plugin.load("curriculum", "coconut", {max_latent_stage = 4, loss = case[1]})
    local pl = c:train_plan(1, 3, coconut.rng(1))
    T.eq(pl.supervision, case[2], case[1])
    T.eq(pl.drop_steps, 1); T.eq(pl.n_latent, 1)
  end
  local ok, err = pcall(coconut.plugin.load, "curriculum", "coconut", {loss = "frontiers"})
  T.ok(not ok and tostring(err):find("loss"), tostring(err))
  -- cot plans keep the official supervision
  T.eq(coconut.plugin.load("curriculum", "cot", {}):train_plan(0, 3, coconut.rng(1)).supervision, "steps")
end)

T.test("stage-matched accuracy: argmax after k thoughts, batched with padding = one at a time", function()
  local ex, tok, sp, lay = setup()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 64, dropout = 0, seed = 3}
  m:train(false)
  local short = {question = "1 2 | 2 4 Q 5 4 R 1", steps = {"2", "4"}, answer = "A 4", meta_json = coconut.json.encode{
    edges = {{1, 2}, {2, 4}}, root = 1, target = 4, neg_target = 5, frontier = {{2}, {4}}, bfs_frontier = {{2}, {4}},
    node_tokens = {"0", "1", "2", "3", "4", "5", "6", "7"}}}
  local ctx = {layout = lay, model = m, special = sp, opts = {eval_batch = 8}}
  local both = R.frontier_accuracy(ctx, {ex, short}, 4)
  T.eq(both[1].n, 2); T.eq(both[2].n, 2); T.eq(both[3].n, 1); T.eq(both[4].n, 0)
  -- reference: each example alone, argmax of the logits at the last prompt position
  for k = 0, 2 do
    local hits_f, hits_b, i = 0, 0, 0
    for _, e in ipairs{ex, short} do
      if #e.steps > k then
        local ids = {}
        for _, t in ipairs(lay:pieces(e).q) do ids[#ids + 1] = t end
        ids[#ids + 1] = sp.start
        for _ = 1, k do ids[#ids + 1] = sp.latent end
        local b = coconut.collate({{input_ids = ids}}, {latent_id = sp.latent, pad_id = sp.eos, start_id = sp.start})
        local out <close> = m:forward(b, {logits = true, grad = false})
        local row = out.logits:row(1):row(#ids)
        local best, bi = -math.huge, -1
        for v = 1, tok:size() do
          local x = row:get(v)
          if x > best then best, bi = x, v - 1 end
        end
        -- the batched probe's own argmax for this example: the prompts differ in
        -- length, so rows with thoughts are left-padded in the batch
        i = i + 1
        T.eq(both[k + 1].tops[i], bi, string.format("argmax of example %d after %d thoughts", i, k))
        local fr = lay:frontiers(e)
        for _, v in ipairs(fr.frontier[k + 1]) do if v == bi then hits_f = hits_f + 1 end end
        for _, v in ipairs(fr.bfs[k + 1]) do if v == bi then hits_b = hits_b + 1 end end
      end
    end
    T.near(both[k + 1].frontier, hits_f / both[k + 1].n, 1e-12, "frontier k=" .. k)
    T.near(both[k + 1].bfs, hits_b / both[k + 1].n, 1e-12, "bfs k=" .. k)
  end
  m:close()
end)

T.test("paths probe: generated node paths checked against the graph's edges", function()
  local P = dofile("plugins/probe/paths.lua")
  local meta = {edges = {{1, 2}, {1, 6}, {2, 3}, {6, 3}, {3, 4}, {0, 5}, {1, 7}}, root = 1, target = 4, neg_target = 5,
                node_tokens = {"0", "1", "2", "3", "4", "5", "6", "7"}}
  local function check(text) return table.pack(P.check(meta, text, "A")) end
  local r = check("2 3 4 A 4"); T.eq(r[1], 3); T.eq(r[2], true); T.eq(r[3], 0); T.eq(r[4], "target")
  r = check("6 3 A 3"); T.eq(r[2], true); T.eq(r[4], "other")                  -- valid, stopped short
  r = check("7 3 4 A 4"); T.eq(r[2], false); T.eq(r[3], 2)                      -- 7 -> 3 is no edge
  r = check("3 4 A 4"); T.eq(r[2], false); T.eq(r[3], 1)                        -- the root has no edge to 3
  r = check("2 9 A 9"); T.eq(r[2], false); T.eq(r[3], 2)                        -- unknown node
  r = check("A 4"); T.eq(r[1], 0); T.eq(r[2], nil); T.eq(r[4], "none")          -- No-CoT / Coconut output
  r = check("0 5 A 5"); T.eq(r[2], false); T.eq(r[3], 1)                        -- starts away from the root
end)

T.test("marker-less thoughts: generate's first token = the training forward's argmax after k thoughts", function()
  local ex, tok, sp, lay = setup()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 64, dropout = 0, seed = 11}
  m:train(false)
  local q = lay:pieces(ex).q
  for k = 0, 3 do
    -- layout: no markers, k thoughts after the question
    local p, planned = lay:eval_prompt(ex, {drop_steps = 0, n_latent = k, markers = false, n_pause = 0})
    T.eq(#p, #q, "the prompt is the question alone"); T.eq(planned, k)
    local outs, extra = m:generate({p}, {max_new_tokens = 3, eos_id = sp.eos, start_id = sp.start, end_id = sp.end_,
                                         latent_id = sp.latent, planned = {k}, markers = false, return_logits = true})
    T.eq(extra[1].n_thoughts, k, "thoughts")
    local ids = {}
    for _, t in ipairs(q) do ids[#ids + 1] = t end
    for _ = 1, k do ids[#ids + 1] = sp.latent end
    local b = coconut.collate({{input_ids = ids}}, {latent_id = sp.latent, pad_id = sp.eos, markers = false})
    local out <close> = m:forward(b, {logits = true, grad = false})
    local row = out.logits:row(1):row(#ids)
    T.eq(outs[1][1] or sp.eos, row:argmax() - 1, "first token after " .. k .. " thoughts")
    -- same logits as the generator's first decision
    T.near(extra[1].logits:row(1):get(1), row:get(1), 1e-4, "logit 1")
  end
  -- the official check still holds with markers, and column 0 is refused either way
  local bad = coconut.collate({{input_ids = {q[1], sp.latent, q[2]}}}, {latent_id = sp.latent, pad_id = sp.eos,
                                                                         start_id = sp.start})
  T.raises(function() m:forward(bad, {logits = false}) end, "not preceded by <|start-latent|>")
  local b0 = coconut.collate({{input_ids = {sp.latent, q[1]}}}, {latent_id = sp.latent, pad_id = sp.eos, markers = false})
  T.raises(function() m:forward(b0, {logits = false}) end, "column 0")
  m:close()
end)

T.test("marker-less thoughts: batched generation with prompts of different lengths = one at a time", function()
  local ex, tok, sp, lay = setup()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 64, dropout = 0, seed = 5}
  m:train(false)
  local q = lay:pieces(ex).q
  -- prompts of three lengths and three thought counts
  local prompts, planned = {q, {q[1], q[2], q[3], q[4]}, {q[1], q[2], q[3], q[4], q[5], q[6], q[7]}}, {3, 1, 2}
  local opts = {max_new_tokens = 4, eos_id = sp.eos, start_id = sp.start, end_id = sp.end_, latent_id = sp.latent,
                markers = false, return_logits = true}
  opts.planned = planned
  local outs, extra = m:generate(prompts, opts)
  for i = 1, #prompts do
    opts.planned = {planned[i]}
    local one, ex1 = m:generate({prompts[i]}, opts)
    T.eq(extra[i].n_thoughts, planned[i], "thoughts of prompt " .. i)
    T.eq(#outs[i], #one[1], "length of output " .. i)
    for t = 1, #one[1] do T.eq(outs[i][t], one[1][t], string.format("prompt %d token %d", i, t)) end
    T.near(extra[i].logits:row(1):get(2), ex1[1].logits:row(1):get(2), 1e-4, "first logits of prompt " .. i)
  end
  m:close()
end)
