-- test_eot_learned.lua — the learned <eot> policy (issue 16) piece by piece:
-- the two labelling modes of coco.eot on hand-made examples, coconut.tensor.cat,
-- the coconut.classifier binding (class-weighted BCE against a hand-computed
-- value, a training step lowering the loss on a separable toy set and the
-- trained classifier separating it, misuse), the classifier file written by
-- coco.eot and read by plugins/eot/learned.c, the comparison helpers, and
-- batched generation with the learned policy equal to one-at-a-time generation
-- while the examples of one batch stop at different thought counts (both
-- layouts: <|start-latent|> markers and marker-less), with the plugin's stop
-- counts equal to what the trainer's own forward implies. The plugin's
-- decisions on hand-made hidden states are tests/c/test_eot_learned.c; the
-- end-to-end run of experiments/eot_classifier.lua is test_eot_e2e.lua.
local T = require "tap"
local EOT = require "coco.eot"

local function list(t) return table.concat(t, ",") end

T.test("eot labels: steps stops from the hop count on", function()
  T.eq(list(EOT.label_steps(3, 6)), "0,0,0,1,1,1")
  T.eq(list(EOT.label_steps(0, 4)), "1,1,1,1", "0 steps: stop at once")
  T.eq(list(EOT.label_steps(4, 4)), "0,0,0,0", "hops = K: every labelled decision continues (the cap stops at K)")
  T.eq(list(EOT.label_steps(9, 3)), "0,0,0")
  T.eq(list(EOT.labels("steps", {hops = 2}, 4)), "0,0,1,1")
  T.raises(function() EOT.label_steps(-1, 4) end, "hops must be an integer >= 0")
  T.raises(function() EOT.label_steps(2, 0) end, "K (thoughts per labelled example) must be an integer >= 1")
  T.raises(function() EOT.labels("oracle", {hops = 2}, 4) end, "unknown label mode 'oracle'")
end)

T.test("eot labels: outcome stops from the first k answered right; never-right examples excluded or all continue", function()
  local F, R = false, true
  -- k = 0..4 (K = 4): wrong, wrong, right, wrong, right -> stop from k = 2 (later mistakes do not matter)
  T.eq(list(EOT.label_outcome({F, F, R, F, R}, 4)), "0,0,1,1")
  T.eq(list(EOT.label_outcome({R, F, F, F, F}, 4)), "1,1,1,1", "right without thoughts: stop at once")
  T.eq(list(EOT.label_outcome({F, F, F, F, R}, 4)), "0,0,0,0", "right only at k = K: continue to the cap")
  T.eq(EOT.label_outcome({F, F, F, F, F}, 4), nil, "never right: excluded by default")
  T.eq(EOT.label_outcome({F, F, F, F, F}, 4, "exclude"), nil)
  T.eq(list(EOT.label_outcome({F, F, F, F, F}, 4, "continue")), "0,0,0,0")
  T.eq(EOT.first_right({F, F, R}), 2)
  T.eq(EOT.first_right({F, F}), nil)
  T.eq(list(EOT.labels("outcome", {correct = {F, R, R}}, 2)), "0,1")
  T.raises(function() EOT.label_outcome({F, R}, 4) end, "need the correctness at k = 0..4 (5 values), got 2")
  T.raises(function() EOT.label_outcome({F, F, F}, 2, "drop") end, "never must be exclude or continue")
end)

T.test("tensor.cat joins along a dimension; features add the step column", function()
  local a = coconut.tensor.from({{1, 2}, {3, 4}})
  local b = coconut.tensor.from({{5, 6}})
  local e = coconut.tensor.zeros({0, 2})
  T.eq(coconut.json.encode(coconut.tensor.cat({a, e, b}):totable()), "[[1.0,2.0],[3.0,4.0],[5.0,6.0]]")
  T.eq(coconut.json.encode(coconut.tensor.cat({a, coconut.tensor.from({{9}, {8}})}, 2):totable()), "[[1.0,2.0,9.0],[3.0,4.0,8.0]]")
  local i3 = coconut.tensor.cat({coconut.tensor.from({{{1}, {2}}}, "i32"), coconut.tensor.from({{{3}, {4}}}, "i32")}, 3)
  T.eq(coconut.json.encode(i3:totable()), "[[[1,3],[2,4]]]")
  T.eq(i3:dtype(), "i32")
  T.raises(function() coconut.tensor.cat({a, coconut.tensor.from({{1, 2, 3}})}) end,
    "element 2 has size 3 in dimension 2, element 1 has 2")
  T.raises(function() coconut.tensor.cat({a, b}, 3) end, "dim = 3 is outside 1..2")
  T.raises(function() coconut.tensor.cat({a, coconut.tensor.from({{1, 2}}, "i32")}) end, "differs from element 1 in dtype or rank")
  T.raises(function() coconut.tensor.cat({a, 7}) end, "element 2 is not a tensor")
  T.raises(function() coconut.tensor.cat({}) end, "nothing to concatenate")
  -- decision n of each example's thoughts [k, d] is its row n + 1; the step column is n
  local X, steps = EOT.features({coconut.tensor.from({{1, 1}, {2, 2}, {3, 3}}), coconut.tensor.from({{7, 7}})}, true)
  T.eq(coconut.json.encode(X:totable()), "[[1.0,1.0,0.0],[2.0,2.0,1.0],[3.0,3.0,2.0],[7.0,7.0,0.0]]")
  T.eq(list(steps), "0,1,2,0")
  T.eq(table.concat(EOT.features({a}, false):shape(), "x"), "2x2")
end)

-- Two Gaussian blobs in 3-D, separable along the first axis, unbalanced (3:1).
local function toy(seed, n)
  local r = coconut.rng(seed)
  local rows, y = {}, {}
  for i = 1, n do
    local c = (i % 4 == 0) and 1 or 0
    rows[i] = {(c == 1 and 2 or -2) + 0.5 * r:normal(), r:normal(), 3 + r:normal()}
    y[i] = c
  end
  return coconut.tensor.from(rows), y
end

T.test("classifier: class-weighted BCE equals the hand-computed value; misuse raises", function()
  local X, y = toy(1, 40)
  local c = coconut.classifier.new{kind = "logistic", d_in = 3}
  -- fresh logistic regression: every logit is 0, each row's BCE is ln 2
  local npos = 0
  for _, v in ipairs(y) do npos = npos + v end
  T.eq(npos, 10)
  T.near(c:loss(X, y), math.log(2), 1e-6)
  T.near(c:loss(X, y, {pos_weight = 3, neg_weight = 0.5}), math.log(2) * (3 * 10 + 0.5 * 30) / 40, 1e-6)
  -- balanced weights: each class contributes half
  local wp, wn = EOT.class_weights(y)
  T.near(wp, 40 / 20, 1e-12); T.near(wn, 40 / 60, 1e-12)
  T.raises(function() EOT.class_weights({0, 0, 0}) end, "all 3 labelled decisions are 'continue'")
  T.eq(coconut.json.encode(c:config()), '{"d_in":3,"hidden":0,"kind":"logistic"}')
  T.raises(function() c:loss(X, {0, 1}) end, "y must be a list (or f32 tensor) of 40 labels")
  local bad = {}
  for i = 1, 40 do bad[i] = y[i] end
  bad[7] = 2
  T.raises(function() c:step(X, bad) end, "y[7] = 2; labels are 0 (continue) or 1 (stop)")
  T.raises(function() c:logits(coconut.tensor.zeros({4, 2})) end, "X must be an f32 tensor [N, 3]")
  T.raises(function() coconut.classifier.new{kind = "tree", d_in = 3} end, "kind = 'tree', expected logistic or mlp")
  T.raises(function() coconut.classifier.new{kind = "mlp", d_in = 3, hiden = 4} end, "unknown option 'hiden'")
  T.raises(function() c:step(X, y, {pos_weight = -1}) end, "class weights must be finite and >= 0")
  c:close()
  T.raises(function() c:logits(X) end, "classifier was closed")
end)

T.test("classifier: a training step lowers the loss on a separable toy set; trained, it separates it", function()
  local X, y = toy(2, 64)
  for _, kind in ipairs{"logistic", "mlp"} do
    local c = coconut.classifier.new{kind = kind, d_in = 3, hidden = 8, seed = 3, lr = 0.05}
    c:fit_normalization(X)
    local w = {pos_weight = 2, neg_weight = 2 / 3}
    local before = c:loss(X, y, w)
    local reported = c:step(X, y, w)
    T.near(reported, before, 1e-6, kind .. ": step returns the loss before its update")
    local after = c:loss(X, y, w)
    T.ok(after < before, string.format("%s: one step lowers the loss (%.6f -> %.6f)", kind, before, after))
    for _ = 1, 150 do c:step(X, y, w) end
    local acc = EOT.accuracy(c:logits(X), y)
    T.eq(acc, 1, kind .. ": the trained classifier separates the toy set")
    T.ok(c:loss(X, y, w) < 0.1 * before, kind .. ": the loss fell by 10x")
    -- held-out points from the same blobs
    local Xh, yh = toy(99, 32)
    T.eq(EOT.accuracy(c:logits(Xh), yh), 1, kind .. ": separates fresh points")
  end
  -- normalisation statistics: per-feature mean and std over the rows
  local c = coconut.classifier.new{kind = "logistic", d_in = 2}
  c:fit_normalization(coconut.tensor.from({{1, 5}, {3, 5}}))
  local p = c:params()
  T.eq(coconut.json.encode(p["norm.mean"]:totable()), "[2.0,5.0]")
  T.eq(coconut.json.encode(p["norm.std"]:totable()), "[1.0,1.0]", "a constant feature keeps std 1")
end)

T.test("classifier file: coco.eot writes it atomically with its config; the plugin reads it", function()
  local dir = T.tmpdir("eotfile")
  local c = coconut.classifier.new{kind = "mlp", d_in = 5, hidden = 3}
  local path = dir .. "/clf.safetensors"
  local meta = EOT.save(path, c, {d = 4, step_feature = true, normalize = true, max_thoughts = 7, extra = {label = "steps"}})
  local t, m = assert(coconut.safetensors.load(path))
  T.eq(m.format, "coconut-eot-classifier"); T.eq(m.kind, "mlp"); T.eq(m.d, "4"); T.eq(m.hidden, "3")
  T.eq(m.step_feature, "true"); T.eq(m.normalize, "standard"); T.eq(m.max_thoughts, "7"); T.eq(m.label, "steps")
  T.eq(meta.activation, "gelu_tanh")
  T.eq(table.concat(t["fc1.weight"]:shape(), "x"), "5x3")
  T.eq(table.concat(t["out.weight"]:shape(), "x"), "3x1")
  T.ok(not coconut.fs.exists(path .. ".tmp"))
  local p = coconut.plugin.load("eot", "learned", {weights = path})
  T.eq(p:max_thoughts(), 7, "the cap defaults to the file's max_thoughts")
  T.eq(coconut.plugin.load("eot", "learned", {weights = path, max_thoughts = 3}):max_thoughts(), 3)
  T.raises(function() EOT.save(dir .. "/x.safetensors", c, {d = 5, step_feature = true}) end,
    "the classifier has 5 inputs, but d = 5 + the step feature")
  T.ok(not coconut.fs.exists(dir .. "/x.safetensors"), "nothing written")
  T.raises(function() coconut.plugin.load("eot", "learned", {weights = dir .. "/missing.safetensors"}) end, "missing.safetensors")
  T.raises(function() coconut.plugin.load("eot", "learned", {}) end, "weights")
  T.rmtree(dir)
end)

T.test("fixed-curve comparison helpers: interpolation, thoughts needed, correlation, per-hop means", function()
  local curve = {{thoughts = 0, accuracy = 0.5}, {thoughts = 1, accuracy = 0.6}, {thoughts = 2, accuracy = 0.9}, {thoughts = 3, accuracy = 0.8}}
  T.near(EOT.fixed_accuracy_at(curve, 1.5), 0.75, 1e-12)
  T.near(EOT.fixed_accuracy_at(curve, 2.5), 0.85, 1e-12)
  T.eq(EOT.fixed_accuracy_at(curve, 3.5), nil)
  T.near(EOT.fixed_thoughts_for(curve, 0.75), 1.5, 1e-12)
  T.near(EOT.fixed_thoughts_for(curve, 0.4), 0, 1e-12)
  T.eq(EOT.fixed_thoughts_for(curve, 0.95), nil)
  T.near(EOT.correlation({1, 2, 3}, {2, 4, 6}), 1, 1e-12)
  T.near(EOT.correlation({1, 2, 3}, {3, 2, 1}), -1, 1e-12)
  T.eq(EOT.correlation({1, 1, 1}, {1, 2, 3}), nil)
  local bh = EOT.by_hops({{hops = 4, thoughts = 4, correct = true}, {hops = 3, thoughts = 2, correct = false},
                          {hops = 3, thoughts = 3, correct = true}})
  T.eq(#bh, 2); T.eq(bh[1].hops, 3); T.eq(bh[1].n, 2); T.near(bh[1].accuracy, 0.5, 1e-12); T.near(bh[1].thoughts, 2.5, 1e-12)
  T.eq(EOT.stop_count({0.1, 0.6, 0.9}, 0.5, 3), 1)
  T.eq(EOT.stop_count({0.1, 0.6, 0.9}, 0.5, 3, 2), 2)
  T.eq(EOT.stop_count({0.1, 0.2, 0.3}, 0.5, 3), 3, "never above: the cap")
  local tr, ho = EOT.split(10, 0.2, 4)
  T.eq(#tr, 8); T.eq(#ho, 2)
  local seen = {}
  for _, i in ipairs(tr) do seen[i] = true end
  for _, i in ipairs(ho) do T.ok(not seen[i], "disjoint"); seen[i] = true end
  for i = 1, 10 do T.ok(seen[i], "covers every example") end
end)

-- A random tiny GPT-2 and 8 prompts of different lengths; ids 20..23 special.
local SP = {start = 20, end_ = 21, latent = 22, eos = 23}
local function tiny_model()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = 24, n_positions = 64, dropout = 0, seed = 11}
  m:train(false)
  return m
end
local function prompts(markers)
  local r, ps = coconut.rng(5), {}
  for i = 1, 8 do
    local p = {}
    for _ = 1, 2 + (i * 3) % 7 do p[#p + 1] = r:below(20) end
    if markers then p[#p + 1] = SP.start end
    ps[i] = p
  end
  return ps
end

local function gen(m, ps, markers, eot, K)
  return m:generate(ps, {max_new_tokens = 5, eos_id = SP.eos, start_id = SP.start, end_id = SP.end_, latent_id = SP.latent,
                         markers = markers, eot = eot, max_thoughts = K, return_thoughts = true})
end

T.test("learned policy: batched generation equals one-at-a-time, examples stopping at different counts (both layouts)", function()
  local dir = T.tmpdir("eotgen")
  local m = tiny_model()
  local d, K = m:config().n_embd, 5
  local want = {0, 3, 1, 4, 2, 5, 1, 3} -- the thought count each prompt should stop at (5 = the cap)
  for _, markers in ipairs{true, false} do
    local tag = markers and "markers" or "marker-less"
    local ps = prompts(markers)
    -- the decisions' hidden states: every prompt with exactly K thoughts
    local _, ex = gen(m, ps, markers, K)
    local ts = {}
    for i = 1, #ps do T.eq(ex[i].n_thoughts, K); ts[i] = ex[i].thoughts end
    local X = EOT.features(ts, true)
    local y = {}
    for i = 1, #ps do for n = 0, K - 1 do y[#y + 1] = n >= want[i] and 1 or 0 end end
    local clf = EOT.train(X, y, {kind = "mlp", hidden = 32, steps = 600, lr = 0.02, seed = 1})
    T.eq(EOT.accuracy(clf:logits(X), y), 1, tag .. ": the classifier fits the per-prompt stop counts")
    local path = dir .. "/" .. tag .. ".safetensors"
    EOT.save(path, clf, {d = d, step_feature = true, normalize = true, max_thoughts = K})
    local pol = coconut.plugin.load("eot", "learned", {weights = path})
    local outs, exb = gen(m, ps, markers, pol)
    local lg = clf:logits(X):totable()
    local counts = {}
    for i = 1, #ps do
      local p = {}
      for n = 0, K - 1 do p[n + 1] = EOT.sigmoid(lg[(i - 1) * K + n + 1]) end
      T.eq(exb[i].n_thoughts, EOT.stop_count(p, 0.5, K), tag .. ": prompt " .. i .. " stops where the trainer's forward says")
      T.eq(exb[i].n_thoughts, want[i], tag .. ": prompt " .. i .. " stop count")
      counts[exb[i].n_thoughts] = true
      -- alone
      local o1, e1 = gen(m, {ps[i]}, markers, pol)
      T.eq(list(o1[1]), list(outs[i]), tag .. ": prompt " .. i .. " tokens alone = in the batch")
      T.eq(e1[1].n_thoughts, exb[i].n_thoughts, tag .. ": prompt " .. i .. " thoughts alone = in the batch")
      if exb[i].n_thoughts > 0 then
        local a, b = e1[1].thoughts:totable(), exb[i].thoughts:totable()
        for r = 1, #a do for c = 1, d do T.near(a[r][c], b[r][c], 1e-4) end end
        -- and the thoughts are the fixed-K run's first ones (a row's states do not depend on when it stops)
        local f = ts[i]:totable()
        for r = 1, #b do for c = 1, d do T.near(b[r][c], f[r][c], 1e-4) end end
      end
    end
    local distinct = 0
    for _ in pairs(counts) do distinct = distinct + 1 end
    T.ok(distinct >= 4, tag .. ": the batch's prompts stop at different counts")
  end
  T.rmtree(dir)
end)

T.test("learned policy: a file for another hidden width is an error naming the file and both widths", function()
  local dir = T.tmpdir("eotwidth")
  local m = tiny_model()
  local c = coconut.classifier.new{kind = "logistic", d_in = 9}
  local path = dir .. "/w.safetensors"
  EOT.save(path, c, {d = 8, step_feature = true, normalize = false, max_thoughts = 3})
  local pol = coconut.plugin.load("eot", "learned", {weights = path})
  local err = T.raises(function() gen(m, prompts(true), true, pol) end, path)
  T.ok(err:find("width 8", 1, true) and err:find("width 32", 1, true), err)
  T.rmtree(dir)
end)

T.test("R.evaluate records the thoughts a policy chose (eval rows), not the planned count", function()
  local R = require "coco.run"
  local E = require "coco.experiment"
  local Layout = require "coco.layout"
  local H = require "hand_graph"
  for _, markers in ipairs{true, false} do
    local style = markers and "words" or "symbolic"
    local ex = H.load(T, style)
    local tok = assert(coconut.tokenizer.words(E.layout_texts({ex}, style), {specials = E.SPECIALS, unk = true}))
    local sp = {start = tok:id(E.SPECIALS[1]), end_ = tok:id(E.SPECIALS[2]), latent = tok:id(E.SPECIALS[3]), eos = tok:eos()}
    local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 128, dropout = 0, seed = 21}
    m:train(false)
    local cur = coconut.plugin.load("curriculum", "coconut", {max_latent_stage = 3, markers = markers})
    -- row r of the batch stops after r thoughts (a Lua function policy)
    local ctx = {opts = {eval_batch = 4, max_new_tokens = 4}, model = m, layout = Layout.new(tok, sp, style), special = sp,
                 curriculum = cur, probes = {}, markerless = not markers, thinks = true,
                 eot = function(row, n) return n >= row end, fixed_thoughts = 4, fixed_final_stage = true}
    local rows = {}
    R.evaluate(ctx, "test", {ex, ex, ex}, 1, 3, {row = function(_, r) rows[#rows + 1] = r end})
    T.eq(#rows, 3)
    for i, r in ipairs(rows) do
      T.eq(r.k, 4, "the planned count")
      T.eq(r.thoughts, i, style .. ": row " .. i .. " thought as often as the policy said")
    end
    m:close()
  end
end)
