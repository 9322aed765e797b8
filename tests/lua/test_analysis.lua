-- test_analysis.lua — the paper's analysis (issue 15) piece by piece: the
-- ProsQA graph measurements (coco.prosqa_graph), the five probes of
-- plugins/probe/ on hand-made graphs and hand-made logits (every path
-- category with the partial-path rules in both renderings, frontier values as
-- products of token probabilities, percentile curves, both height
-- definitions), the host functions of coco.run (continuation_logprob against
-- a direct forward, decode_thoughts against the forward's logits, the k sweep
-- writing one accuracy row per k) and the figure helpers (Fig 3, Table 1).
-- The end-to-end run of experiments/prosqa_analysis.lua is test_analysis_e2e.lua.
local T = require "tap"
local G = require "coco.prosqa_graph"
local R = require "coco.run"
local E = require "coco.experiment"
local Layout = require "coco.layout"
local PF = require "coco.paper_figures"
local H = require "hand_graph"

local function probe(name) return dofile("plugins/probe/" .. name .. ".lua") end

-- The hand graph (tests/lua/hand_graph.lua): Tom (1) -> wumpus (2), gorpus (6),
-- zumpus (7); 2 -> yumpus (3), 6 -> 3; 3 -> rompus (4, target); Sam (0) ->
-- lempus (5, neg_target). D = 3 over two shortest paths (1 2 3 4, 1 6 3 4).
local function hand_meta(style, extra_edges)
  local m = coconut.json.decode(H.JSON)[1]
  local meta = {idx_to_symbol = m.idx_to_symbol, edges = m.edges, root = m.root, target = m.target, neg_target = m.neg_target}
  for _, e in ipairs(extra_edges or {}) do table.insert(meta.edges, e) end
  if style == "symbolic" then
    meta.format = "symbolic"
    meta.node_tokens = {}
    for i = 1, #m.idx_to_symbol do meta.node_tokens[i] = tostring(i - 1) end
  end
  return meta
end

-- A graph with a longer path to the target: 1 -> 2 -> 3 -> 4 and 1 -> 5 -> 4
-- (D = 2 through 5); 6 is the negative target (0 -> 6).
local LONG = {idx_to_symbol = {"Ann", "Tom", "alpus", "betus", "gamus", "delpus", "epsus"},
              edges = {{1, 2}, {2, 3}, {3, 4}, {1, 5}, {5, 4}, {0, 6}}, root = 1, target = 4, neg_target = 6}

local function ids(list)
  local t = {}
  for i, f in ipairs(list) do t[i] = f.id end
  return table.concat(t, " ")
end

T.test("prosqa_graph: distances, frontiers by walk depth, shortest-path and reach marks, both heights", function()
  local g = G.new(hand_meta("words"))
  T.eq(g.D, 3); T.eq(g.style, "words"); T.eq(g.tokens[2], "wumpus")
  T.eq(ids(g:frontier(1)), "2 6 7", "depth 1: the root's children")
  T.eq(ids(g:frontier(2)), "3", "depth 2: their children")
  T.eq(table.concat(g:frontier(2)[1].parents, " "), "2 6", "both parents of yumpus")
  T.eq(ids(g:frontier(3)), "4"); T.eq(#g:frontier(4), 0)
  for _, v in ipairs{1, 2, 6, 3, 4} do T.ok(g:on_shortest(v), "on a shortest path: " .. v) end
  for _, v in ipairs{0, 5, 7} do T.ok(not g:on_shortest(v), "not on a shortest path: " .. v) end
  T.ok(g:reaches_target(2) and g:reaches_target(4)); T.ok(not g:reaches_target(7) and not g:reaches_target(5))
  local short, long = g:heights()
  -- leaves 4, 5, 7; the root reaches the leaf 7 in 1 edge and the leaf 4 in 3
  T.eq(short[4], 0); T.eq(short[7], 0); T.eq(short[3], 1); T.eq(short[2], 2); T.eq(short[1], 1); T.eq(long[1], 3)
  T.eq(long[2], 2); T.eq(long[0], 1)
  local s = G.new(hand_meta("symbolic"))
  T.eq(s.style, "symbolic"); T.eq(s.tokens[2], "2"); T.eq(s.id_of["6"], 6)
  -- the reading depth: symbolic after k slots = k + 1 (marker-less: thought k+1), words = k (k >= 1)
  T.eq(G.reading_depth("symbolic", 0), 1); T.eq(G.reading_depth("symbolic", 1), 2)
  T.eq(G.reading_depth("words", 1), 1); T.eq(G.reading_depth("words", 2), 2); T.eq(G.reading_depth("words", 0), nil)
  T.raises(function() G.new({edges = {{0, 1}, {1, 0}}, root = 0, target = 1}):heights() end, "cycle")
  T.raises(function() G.new({foo = 1}) end, "no ProsQA graph")
end)

-- category, path_len, valid, first_bad, ends, completion, length of one output
local function cat(g, text, k, correct)
  local c, row = probe("paths").row(g, text, k, correct, "A")
  return c, row
end

T.test("paths probe, symbolic: the six categories, and the partial-path rules for k > 0", function()
  local g = G.new(hand_meta("symbolic"))
  local cases = {
    -- text, k, correct, category, completion, length
    {"2 3 4 A 4", 0, true, "correct_path", 0, 3},
    {"6 3 4 A 4", 0, true, "correct_path", 0, 3},           -- the other shortest path
    {"A 4", 0, true, "correct_label"},
    {"A 5", 0, false, "incorrect_label"},
    {"", 0, false, "incorrect_label"},                         -- nothing at all
    {"7 A 7", 0, false, "wrong_target", 0, 1},                 -- a valid path to a dead end
    {"2 3 A 3", 0, false, "wrong_target", 0, 2},               -- stopped short, answered the stop
    {"3 4 A 4", 0, true, "hallucination"},                     -- k = 0: the root has no edge to 3
    {"7 3 4 A 4", 0, true, "hallucination"},                   -- 7 -> 3 is no edge
    {"2 9 A 9", 0, false, "hallucination"},                    -- unknown node
    {"2 3 4 A 5", 0, false, "hallucination"},                  -- the answer is not where the path ends
    {"2 3 4", 0, false, "correct_path", 0, 3},                 -- no answer: the path's end counts
    -- partial paths after k thoughts: a path from the root may precede them
    {"3 4 A 4", 1, true, "correct_path", 1, 3},                -- 1 -> 2 (or 6) -> 3 completes it
    {"4 A 4", 2, true, "correct_path", 2, 3},
    {"3 A 3", 1, false, "wrong_target", 1, 2},
    {"7 3 4 A 4", 1, true, "hallucination"},                   -- no completion repairs a missing edge
    {"5 A 5", 1, false, "hallucination"},                      -- lempus is not reachable from Tom
    {"A 4", 3, true, "correct_label"},
  }
  for _, c in ipairs(cases) do
    local got, row = cat(g, c[1], c[2], c[3])
    T.eq(got, c[4], string.format("'%s' after %d thoughts", c[1], c[2]))
    if c[5] then T.eq(row[7], c[5], "completion of '" .. c[1] .. "'"); T.eq(row[8], c[6], "length of '" .. c[1] .. "'") end
  end
  -- a longer valid path to the target
  local long_sym = {node_tokens = {"0", "1", "2", "3", "4", "5", "6"}}
  for k, v in pairs(LONG) do long_sym[k] = v end
  local gl = G.new(long_sym, "symbolic")
  T.eq(gl.D, 2)
  T.eq(cat(gl, "2 3 4 A 4", 0, true), "longer_path")
  T.eq(cat(gl, "5 4 A 4", 0, true), "correct_path")
  T.eq(cat(gl, "3 4 A 4", 1, true), "longer_path", "partial: the shortest completion 1 -> 2 still makes it 3 edges")
  T.eq(cat(gl, "4 A 4", 1, true), "correct_path", "partial: 1 -> 5 -> 4 completes it in 2")
  -- the columns of a row: correct, category, path_len, valid, first_bad, ends, completion, length, shortest
  local _, row = cat(g, "7 3 4 A 4", 1, true)
  T.eq(row[1], 1); T.eq(row[3], 3); T.eq(row[4], 0); T.eq(row[5], 2); T.eq(row[6], "target"); T.eq(row[7], ""); T.eq(row[9], 3)
  _, row = cat(g, "A 4", 0, true)
  T.eq(row[3], 0); T.eq(row[4], ""); T.eq(row[5], ""); T.eq(row[6], "none")
end)

T.test("paths probe, words: the official sentences, the six categories and partial paths", function()
  local g = G.new(hand_meta("words"))
  local full = "Tom is a wumpus.\nEvery wumpus is a yumpus.\nEvery yumpus is a rompus.\n### Tom is a rompus."
  local cases = {
    {full, 0, true, "correct_path", 0, 3},
    {"Tom is a gorpus.\nEvery gorpus is a yumpus.\nEvery yumpus is a rompus.\n### Tom is a rompus.", 0, true, "correct_path"},
    {"### Tom is a rompus.", 0, true, "correct_label"},
    {"### Tom is a lempus.", 0, false, "incorrect_label"},
    {"Tom is a zumpus.\n### Tom is a zumpus.", 0, false, "wrong_target", 0, 1},
    {"Every wumpus is a yumpus.\nEvery yumpus is a rompus.\n### Tom is a rompus.", 0, true, "hallucination"}, -- k = 0: must start at Tom
    {"Tom is a wumpus.\nEvery wumpus is a rompus.\n### Tom is a rompus.", 0, true, "hallucination"},         -- no such edge
    {"Tom is a wumpus.\nEvery gorpus is a yumpus.\n### Tom is a yumpus.", 0, false, "hallucination"},        -- disconnected
    {"Tom is a wumpus.\nEvery wumpus is yumpus.\n### Tom is a yumpus.", 0, false, "hallucination"},          -- not a sentence of the grammar
    {"Tom is a wumpus.\nEvery wumpus is a yumpus.\n### Tom is a rompus.", 0, true, "hallucination"},         -- answer beyond the path
    {"Tom is a wumpus.\nEvery wumpus is a yumpus.\n### Sam is a yumpus.", 0, false, "hallucination"},        -- answer about another entity
    -- partial paths
    {"Every wumpus is a yumpus.\nEvery yumpus is a rompus.\n### Tom is a rompus.", 1, true, "correct_path", 1, 3},
    {"Every gorpus is a yumpus.\nEvery yumpus is a rompus.\n### Tom is a rompus.", 1, true, "correct_path", 1, 3},
    {"Every yumpus is a rompus.\n### Tom is a rompus.", 2, true, "correct_path", 2, 3},
    {full, 2, true, "correct_path", 0, 3},                                                                 -- a complete path is its own completion
    {"Every wumpus is a yumpus.\n### Tom is a yumpus.", 1, false, "wrong_target", 1, 2},
    {"Every lempus is a rompus.\n### Tom is a rompus.", 1, true, "hallucination"},                         -- no edge lempus -> rompus
    {"Every wumpus is a yumpus.\nEvery yumpus is a rompus.\n### Tom is a rompus.", 0, true, "hallucination"},
  }
  for _, c in ipairs(cases) do
    local got, row = cat(g, c[1], c[2], c[3])
    T.eq(got, c[4], string.format("%q after %d thoughts", c[1], c[2]))
    if c[5] then T.eq(row[7], c[5], "completion"); T.eq(row[8], c[6], "length") end
  end
  local gl = G.new(LONG, "words")
  T.eq(cat(gl, "Tom is a alpus.\nEvery alpus is a betus.\nEvery betus is a gamus.\n### Tom is a gamus.", 0, true), "longer_path")
  T.eq(cat(gl, "Every alpus is a betus.\nEvery betus is a gamus.\n### Tom is a gamus.", 1, true), "longer_path")
  T.eq(cat(gl, "Every delpus is a gamus.\n### Tom is a gamus.", 1, true), "correct_path")
end)

T.test("paths probe: the earlier symbolic edge check (P.check) and rows through on_example", function()
  local P = probe("paths")
  local meta = hand_meta("symbolic")
  local n, valid, bad, ends = P.check(meta, "2 3 4 A 4", "A")
  T.eq(n, 3); T.eq(valid, true); T.eq(bad, 0); T.eq(ends, "target")
  n, valid, bad, ends = P.check(meta, "A 4", "A")
  T.eq(n, 0); T.eq(valid, nil); T.eq(ends, "none")
  local rows = {}
  local self = P.create({marker = "A"})
  P.on_example(self, {k = 1, index = 7, correct = true, style = "symbolic", meta_json = coconut.json.encode(meta),
                      output_text = "3 4 A 4"}, function(r) rows[#rows + 1] = r end)
  T.eq(#rows, 1); T.eq(#rows[1], #P.columns(self))
  T.eq(rows[1][1], 1); T.eq(rows[1][2], 7); T.eq(rows[1][4], "correct_path")
  rows = {}
  P.on_example(self, {k = 0, index = 1, correct = false, output_text = "x"}, function(r) rows[#rows + 1] = r end)
  T.eq(rows[1][4], "", "no graph: no category")
end)

-- A probe event on the hand graph with hand-made logits: a small vocabulary,
-- one logit row per continuation position (every position of every sequence
-- gets the same row, so the expected probabilities are softmax(row)[token]).
local VOCAB = {Every = 1, wumpus = {10, 11}, gorpus = {12, 13}, zumpus = {14}, yumpus = {15, 16}, rompus = {17}}
local LOGITS = {0.0, 2.0, 0, 0, 0, 0, 0, 0, 0, 0, 1.5, -0.5, 0.2, 1.0, 3.0, 0.1, 0.7, 2.5}  -- ids 0..17
local function softmax_p(id)
  local z = 0
  for _, x in ipairs(LOGITS) do z = z + math.exp(x) end
  return math.exp(LOGITS[id + 1]) / z
end

local function hand_event(style, k, calls)
  local meta = hand_meta(style)
  local ev = {k = k, index = 3, correct = true, style = style, meta_json = coconut.json.encode(meta)}
  ev.encode = function(text)
    local out = {}
    for w in text:gmatch("%S+") do
      local v = style == "symbolic" and {100 + tonumber(w)} or VOCAB[w]
      if type(v) == "number" then v = {v} end
      for _, t in ipairs(assert(v, "no token for " .. w)) do out[#out + 1] = t end
    end
    return out
  end
  ev.continuation_logprob = function(seqs)
    calls.n = calls.n + 1
    local res = {}
    for i, s in ipairs(seqs) do
      res[i] = {}
      for q, t in ipairs(s) do
        -- symbolic node tokens 100 + id: a hand-made distribution over nodes
        res[i][q] = t >= 100 and math.log(({[2] = 0.5, [6] = 0.3, [7] = 0.15, [3] = 0.8})[t - 100] or 0.01)
                    or math.log(softmax_p(t))
      end
    end
    return res
  end
  return ev
end

T.test("frontier probe: words values = product of the name's token probabilities after 'Every'; symbolic = one token", function()
  local F = probe("frontier")
  local calls = {n = 0}
  local rows = F.rows(hand_event("words", 1, calls))
  T.eq(#rows, 3, "depth 1: wumpus, gorpus, zumpus")
  local want = {[2] = softmax_p(10) * softmax_p(11), [6] = softmax_p(12) * softmax_p(13), [7] = softmax_p(14)}
  for _, r in ipairs(rows) do
    -- k, index, depth, node, node_id, value, on_shortest_path, reaches_target, parents, correct
    T.eq(r[1], 1); T.eq(r[2], 3); T.eq(r[3], 1); T.eq(r[9], "1")
    T.near(r[6], want[r[5]], 1e-12, "value of " .. r[4] .. " excludes p(Every)")
  end
  T.eq(rows[1][4], "wumpus"); T.eq(rows[1][7], 1); T.eq(rows[1][8], 1)
  T.eq(rows[3][4], "zumpus"); T.eq(rows[3][7], 0); T.eq(rows[3][8], 0)
  T.eq(calls.n, 1, "one batched call for the whole frontier")
  rows = F.rows(hand_event("words", 2, calls))
  T.eq(#rows, 1); T.eq(rows[1][4], "yumpus"); T.eq(rows[1][3], 2); T.eq(rows[1][9], "2 6")
  T.near(rows[1][6], softmax_p(15) * softmax_p(16), 1e-12)
  T.eq(#F.rows(hand_event("words", 0, calls)), 0, "words, k = 0: no frontier reading")
  -- symbolic: after 0 slots the next token is a depth-1 node, after 1 a depth-2 node
  rows = F.rows(hand_event("symbolic", 0, calls))
  T.eq(#rows, 3); T.eq(rows[1][3], 1); T.eq(rows[1][4], "2"); T.near(rows[1][6], 0.5, 1e-12); T.near(rows[2][6], 0.3, 1e-12)
  rows = F.rows(hand_event("symbolic", 1, calls))
  T.eq(#rows, 1); T.eq(rows[1][3], 2); T.eq(rows[1][4], "3"); T.near(rows[1][6], 0.8, 1e-12)
  -- probes sharing one event share the values (cached on the event)
  local ev = hand_event("symbolic", 0, calls)
  local n0 = calls.n
  F.rows(ev); F.rows(ev)
  local got = {}
  probe("height").on_example({}, ev, function(r) got[#got + 1] = r end)
  T.eq(calls.n, n0 + 1, "the frontier is scored once per event")
  T.eq(#got, 3)
end)

T.test("height probe: shortest and longest distance to a leaf, reaches-target", function()
  -- an extra edge wumpus -> lempus (a leaf) makes wumpus's two heights differ
  local meta = hand_meta("symbolic", {{2, 5}})
  local calls = {n = 0}
  local ev = hand_event("symbolic", 0, calls)
  ev.meta_json = coconut.json.encode(meta)
  local rows = {}
  local P = probe("height")
  P.on_example(P.create({}), ev, function(r) rows[#rows + 1] = r end)
  T.eq(#rows, 3)
  -- k, index, depth, node, node_id, value, height_shortest, height_longest, reaches_target
  local by = {}
  for _, r in ipairs(rows) do by[r[5]] = r end
  T.eq(by[2][7], 1, "wumpus: shortest to the leaf lempus"); T.eq(by[2][8], 2, "wumpus: longest, to rompus")
  T.eq(by[6][7], 2); T.eq(by[6][8], 2); T.eq(by[7][7], 0); T.eq(by[7][8], 0)
  T.eq(by[2][9], 1); T.eq(by[7][9], 0)
  T.near(by[6][6], 0.3, 1e-12)
  T.eq(#P.columns({}), #rows[1])
end)

T.test("parallelism probe and the percentile curves: sorted values, cumulative top-1/2/3", function()
  local P = probe("parallelism")
  local calls = {n = 0}
  local rows = {}
  P.on_example({}, hand_event("symbolic", 0, calls), function(r) rows[#rows + 1] = r end)
  -- k, index, depth, n_frontier, rank, node, value, cumulative: 0.5 (2), 0.3 (6), 0.15 (7)
  T.eq(#rows, 3)
  T.eq(rows[1][5], 1); T.eq(rows[1][6], "2"); T.near(rows[1][8], 0.5, 1e-12)
  T.eq(rows[2][6], "6"); T.near(rows[2][8], 0.8, 1e-12)
  T.eq(rows[3][6], "7"); T.near(rows[3][8], 0.95, 1e-12); T.eq(rows[3][4], 3)
  -- curves over four examples with known values (the CSV's string fields)
  local csv = {}
  local function ex(i, vals)
    local r = P.ranked((function() local t = {} for j, v in ipairs(vals) do t[j] = {id = j, value = v} end return t end)())
    for rank, x in ipairs(r) do
      csv[#csv + 1] = {index = tostring(i), depth = "1", n_frontier = tostring(#vals), rank = tostring(rank),
                       cumulative = tostring(x.cumulative)}
    end
  end
  ex(0, {0.1, 0.5, 0.3}); ex(1, {0.05, 0.9}); ex(2, {0.4, 0.05, 0.4, 0.1}); ex(3, {1.0})
  local c = PF.parallelism_curves(csv, 3)[1]
  local function pts(list)
    local t = {}
    for _, p in ipairs(list) do t[#t + 1] = string.format("%.2f:%.2f", p[1], p[2]) end
    return table.concat(t, " ")
  end
  T.eq(pts(c[1]), "0.25:0.40 0.50:0.50 0.75:0.90 1.00:1.00", "top-1")
  T.eq(pts(c[2]), "0.25:0.80 0.50:0.80 0.75:0.95 1.00:1.00", "top-2 (a single node counts once)")
  T.eq(pts(c[3]), "0.25:0.90 0.50:0.90 0.75:0.95 1.00:1.00", "top-3")
end)

T.test("Fig 4 summary: the example's tokens and the mean top-k mass per thought by class, from the largest k", function()
  local rows = {}
  local function add(split, k, index, thought, rank, prob, node, depth)
    rows[#rows + 1] = {split = split, k = tostring(k), index = tostring(index), thought = tostring(thought),
                       rank = tostring(rank), prob = tostring(prob), token = node or "x", node_id = node or "",
                       depth = depth and tostring(depth) or ""}
  end
  -- k = 2 (the largest): two examples, two thoughts, top-2
  add("test", 2, 0, 1, 1, 0.6, "4", 1); add("test", 2, 0, 1, 2, 0.3, "9", 2)
  add("test", 2, 0, 2, 1, 0.5, "9", 2); add("test", 2, 0, 2, 2, 0.2, nil, nil)
  add("test", 2, 1, 1, 1, 0.4, nil, nil); add("test", 2, 1, 1, 2, 0.4, "3", 1)
  add("test", 2, 1, 2, 1, 0.9, "5", 2); add("test", 2, 1, 2, 2, 0.1, "3", 1)
  -- ignored: a smaller k, another split
  add("test", 1, 0, 1, 1, 1.0, "4", 1); add("valid", 2, 0, 1, 1, 1.0, "4", 1)
  local d = PF.decode_summary(rows)
  T.eq(d.k, 2); T.eq(d.index, 0); T.eq(#d.example, 4)
  T.eq(d.example[1].thought, "1"); T.eq(d.example[1].rank, "1"); T.eq(d.example[4].thought, "2")
  T.eq(#d.mass, 2)
  -- thought 1: frontier (depth 1) 0.6 + 0.4, other node 0.3, other 0.4; over 2 examples
  T.near(d.mass[1].frontier, 0.5, 1e-12); T.near(d.mass[1].other_node, 0.15, 1e-12); T.near(d.mass[1].other, 0.2, 1e-12)
  T.near(d.mass[1].top1_frontier, 0.5, 1e-12); T.eq(d.mass[1].n, 2)
  -- thought 2: frontier (depth 2) 0.5 + 0.9, other node 0.1, other 0.2
  T.near(d.mass[2].frontier, 0.7, 1e-12); T.near(d.mass[2].other_node, 0.05, 1e-12); T.near(d.mass[2].other, 0.1, 1e-12)
  T.near(d.mass[2].top1_frontier, 1, 1e-12)
  T.eq(PF.decode_summary(rows, 1).index, 1); T.eq(PF.decode_summary(rows, 7), nil)
  T.eq(PF.decode_summary({}), nil)
end)

-- ------------------------------------------------------------------ the host (real model)

local function setup(style)
  local ex = H.load(T, style)
  local tok = assert(coconut.tokenizer.words(E.layout_texts({ex}, style), {specials = E.SPECIALS, unk = true}))
  local sp = {start = tok:id(E.SPECIALS[1]), end_ = tok:id(E.SPECIALS[2]), latent = tok:id(E.SPECIALS[3]), eos = tok:eos()}
  local lay = Layout.new(tok, sp, style)
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 128, dropout = 0, seed = 21}
  m:train(false)
  return ex, tok, sp, lay, m
end

-- A probe (as R.evaluate calls it) whose on_example runs fn(ev).
local function fake_probe(fn, wants)
  return {name = "fake", csv = {row = function() end},
          plugin = {wants = function() return wants or {} end, on_example = function(_, ev) fn(ev); return {} end,
                    on_end = function() return {} end}}
end

local function ctx_for(m, lay, sp, markers, probes)
  local cur = coconut.plugin.load("curriculum", "coconut", {max_latent_stage = 3, markers = markers})
  return {opts = {eval_batch = 4, max_new_tokens = 4}, model = m, layout = lay, special = sp, curriculum = cur,
          eot = coconut.plugin.load("eot", "fixed", {}), probes = probes, markerless = not markers, thinks = true}
end

-- log p of each token of s after prefix, from one plain forward with logits
local function direct_logprob(m, sp, prefix, s, markers)
  local ids = {}
  for _, t in ipairs(prefix) do ids[#ids + 1] = t end
  for _, t in ipairs(s) do ids[#ids + 1] = t end
  local b = coconut.collate({{input_ids = ids}}, {latent_id = sp.latent, pad_id = sp.eos, start_id = sp.start,
                                                  markers = markers})
  local out <close> = m:forward(b, {logits = true, grad = false})
  local lp = {}
  for i = 1, #s do lp[i] = out.logits:row(1):row(#prefix + i - 1):log_softmax():get(s[i] + 1) end
  return lp
end

T.test("ev.continuation_logprob = log-probs of a direct forward over prompt, k thoughts, <eot> and the sequence", function()
  for _, style in ipairs{"symbolic", "words"} do
    local ex, tok, sp, lay, m = setup(style)
    for _, markers in ipairs{true, false} do
      for _, k in ipairs{0, 2} do
        local seen = {}
        local seqs = {tok:encode(style == "symbolic" and "2 3" or "Every wumpus is"), tok:encode(style == "symbolic" and "6" or "Every"), {}}
        local ctx = ctx_for(m, lay, sp, markers, {fake_probe(function(ev)
          seen.k, seen.lp = ev.k, ev.continuation_logprob(seqs)
          seen.again = ev.continuation_logprob({seqs[2]})
        end)})
        ctx.fixed_thoughts, ctx.fixed_final_stage = k, true
        R.evaluate(ctx, "test", {ex}, 1, 0, {row = function() end})
        T.eq(seen.k, k)
        local prefix = {}
        for _, t in ipairs(lay:pieces(ex).q) do prefix[#prefix + 1] = t end
        if markers then prefix[#prefix + 1] = sp.start end
        for _ = 1, k do prefix[#prefix + 1] = sp.latent end
        if markers then prefix[#prefix + 1] = sp.end_ end
        for i, s in ipairs(seqs) do
          local want = direct_logprob(m, sp, prefix, s, markers)
          T.eq(#seen.lp[i], #s, "one log-prob per token")
          for q = 1, #s do
            T.near(seen.lp[i][q], want[q], 1e-4, string.format("%s markers=%s k=%d seq %d token %d", style,
              tostring(markers), k, i, q))
          end
        end
        T.near(seen.again[1][1], seen.lp[2][1], 0, "cached per event")
      end
    end
    m:close()
  end
  -- bad sequences are refused with a message
  local ex, tok, sp, lay, m = setup("symbolic")
  local ctx = ctx_for(m, lay, sp, false, {fake_probe(function(ev)
    T.raises(function() ev.continuation_logprob({{99999}}) end, "not a token id")
    T.raises(function() ev.continuation_logprob("x") end, "list of token-id lists")
  end)})
  R.evaluate(ctx, "test", {ex}, 1, 0, {row = function() end})
  m:close()
end)

T.test("ev.decode_thoughts: top-k of softmax(W h) per thought = the forward's distribution where the thought is formed", function()
  local ex, tok, sp, lay, m = setup("symbolic")
  for _, markers in ipairs{false, true} do
    local got, n
    local ctx = ctx_for(m, lay, sp, markers, {fake_probe(function(ev) got = ev.decode_thoughts(3); n = ev.thoughts:shape()[1] end,
                                                         {thoughts = true})})
    ctx.fixed_thoughts, ctx.fixed_final_stage = 2, true
    R.evaluate(ctx, "test", {ex}, 1, 0, {row = function() end})
    T.eq(n, 2); T.eq(#got, 2); T.eq(#got[1], 3)
    -- thought t is the hidden state at the position before latent slot t: the
    -- question's last token (marker-less) or <|start-latent|>, then slot 1
    local ids = {}
    for _, t in ipairs(lay:pieces(ex).q) do ids[#ids + 1] = t end
    if markers then ids[#ids + 1] = sp.start end
    local at = #ids
    ids[#ids + 1] = sp.latent; ids[#ids + 1] = sp.latent
    if markers then ids[#ids + 1] = sp.end_ end
    local b = coconut.collate({{input_ids = ids}}, {latent_id = sp.latent, pad_id = sp.eos, start_id = sp.start, markers = markers})
    local out <close> = m:forward(b, {logits = true, grad = false})
    for t = 1, 2 do
      local ls = out.logits:row(1):row(at + t - 1):log_softmax()
      local idx = ls:topk(3)
      for r = 1, 3 do
        T.eq(got[t][r].id, idx[r] - 1, string.format("markers=%s thought %d rank %d", tostring(markers), t, r))
        T.near(got[t][r].prob, math.exp(ls:get(idx[r])), 1e-4)
        T.eq(got[t][r].token, tok:decode({idx[r] - 1}))
      end
      T.ok(got[t][1].prob >= got[t][2].prob and got[t][2].prob >= got[t][3].prob, "largest first")
    end
  end
  -- without wants{thoughts} the function says what is missing
  local ctx = ctx_for(m, lay, sp, false, {fake_probe(function(ev)
    T.raises(function() ev.decode_thoughts(2) end, "wants() must return {thoughts = true}")
  end)})
  ctx.fixed_thoughts, ctx.fixed_final_stage = 1, true
  R.evaluate(ctx, "test", {ex}, 1, 0, {row = function() end})
  m:close()
end)

T.test("analysis sweep: one accuracy row per k, eval and probe rows per k, a reference pass for a method without thoughts", function()
  local ex, tok, sp, lay, m = setup("symbolic")
  local d = T.tmpdir("sweep")
  assert(coconut.fs.mkdir(d .. "/checkpoints/best", {parents = true}))
  assert(m:save(d .. "/checkpoints/best/model.safetensors"))
  -- the best checkpoint is from stage 0: the sweep still uses the final stage's layout with k thoughts
  assert(coconut.json.write(d .. "/checkpoints/best/state.json", {epoch = 1, stage = 0}))
  local ex2 = {question = ex.question, steps = {ex.steps[1]}, answer = ex.answer, meta_json = ex.meta_json}
  local paths = {name = "paths", plugin = coconut.plugin.load("probe", "paths", {})}
  local ctx = ctx_for(m, lay, sp, false, {})
  ctx.data, ctx.method, ctx.analysis_probes = {test = {ex, ex2}}, "coconut", {paths}
  local state = {}
  T.ok(R.analysis_sweep(ctx, d, state, R.parse_k_list("3,0,1,1")))
  local rows, cols = assert(coconut.csv.read(d .. "/analysis_k.csv"))
  T.eq(table.concat(cols, ","), "k,mode,n,accuracy,new_tokens,thoughts")
  T.eq(#rows, 3, "one row per distinct k")
  local ev = assert(coconut.csv.read(d .. "/analysis/eval.csv"))
  T.eq(#ev, 6, "two examples per k")
  for i, k in ipairs{0, 1, 3} do
    T.eq(rows[i].k, tostring(k)); T.eq(rows[i].mode, "sweep"); T.eq(rows[i].n, "2")
    T.near(tonumber(rows[i].thoughts), k, 1e-9, "every example thinks exactly k thoughts")
    local c, n = 0, 0
    for _, r in ipairs(ev) do
      if r.k == tostring(k) then n = n + 1; c = c + tonumber(r.correct); T.eq(r.thoughts, tostring(k)) end
    end
    T.eq(n, 2); T.near(tonumber(rows[i].accuracy), c / 2, 1e-9)
  end
  local pr = assert(coconut.csv.read(d .. "/analysis/probes/paths.csv"))
  T.eq(#pr, 6)
  for _, r in ipairs(pr) do T.eq(r.split, "test"); T.ok(r.category ~= "", "a category per row") end
  T.eq(pr[1].k, "0"); T.eq(pr[5].k, "3")
  T.ok(state.analysis and state.analysis:find("0,1,3", 1, true), "state records the sweep")
  T.eq(R.analysis_sweep(ctx, d, state, R.parse_k_list("0,1,3")), false, "a finished sweep is not redone")
  T.eq(ctx.model, m, "the trained model is restored")
  -- a method whose prompts do not think: one reference pass
  local cot = {opts = ctx.opts, model = m, layout = lay, special = sp, curriculum = coconut.plugin.load("curriculum", "cot", {}),
               eot = ctx.eot, probes = {}, thinks = false, data = ctx.data, method = "cot"}
  local d2 = T.tmpdir("sweep_cot")
  assert(coconut.fs.mkdir(d2 .. "/checkpoints/best", {parents = true}))
  assert(m:save(d2 .. "/checkpoints/best/model.safetensors"))
  assert(coconut.json.write(d2 .. "/checkpoints/best/state.json", {epoch = 1, stage = 0}))
  T.ok(R.analysis_sweep(cot, d2, {}, {0, 1, 2}))
  rows = assert(coconut.csv.read(d2 .. "/analysis_k.csv"))
  T.eq(#rows, 1); T.eq(rows[1].mode, "reference"); T.eq(rows[1].k, "0"); T.eq(rows[1].thoughts, "0")
  T.raises(function() R.parse_k_list("0,x") end, "--analysis_k: 'x' is not a thought count")
  T.raises(function() R.parse_k_list("-1") end, "--analysis_k")
  T.raises(function() R.parse_k_list(" , ") end, "no thought counts")
  T.rmtree(d); T.rmtree(d2)
  m:close()
end)

-- ------------------------------------------------------------------ figure helpers

T.test("figures: Fig 3 appears where coconut runs with several c exist; Table 1 lists every run with the paper's column", function()
  local d = T.tmpdir("fig3")
  local function run(exp, name, c, acc, extra_method)
    local root = d .. "/" .. exp .. "/" .. name
    assert(coconut.fs.mkdir(root .. "/coconut", {parents = true}))
    assert(coconut.json.write(root .. "/coconut/config.json", {c_thought = c}))
    local w = assert(coconut.csv.open(root .. "/results.csv", {"method", "valid_accuracy", "test_accuracy", "test_tokens"}))
    w:row{method = "coconut", valid_accuracy = acc, test_accuracy = acc, test_tokens = 3 + c}
    if extra_method then w:row{method = extra_method, valid_accuracy = 0.5, test_accuracy = 0.5, test_tokens = 2} end
    assert(w:close())
  end
  run("gsm8k", "c1", 1, 0.30, "nocot"); run("gsm8k", "c2", 2, 0.34); run("prosqa_k6", "a", 1, 0.9, "cot")
  local runs = PF.find_runs(d)
  T.eq(#runs, 3)
  local png = PF.accuracy_vs_c(d, runs)
  T.ok(png and #assert(coconut.fs.read(png)) > 1000, "fig3 png")
  T.ok(#assert(coconut.fs.read(d .. "/figures/fig3_accuracy_vs_c.svg")) > 500)
  T.ok(coconut.fs.exists(d .. "/figures/fig3_accuracy_vs_c.gp"))
  local pts = assert(coconut.csv.read(d .. "/figures/fig3_accuracy_vs_c.csv"))
  T.eq(#pts, 2, "only gsm8k has two values of c"); T.eq(pts[1].c, "1"); T.near(tonumber(pts[2].accuracy), 34, 1e-9)
  local md = PF.table1(d, runs)
  local text = assert(coconut.fs.read(md))
  T.ok(text:find("## GSM8k", 1, true) and text:find("## ProsQA", 1, true), text)
  T.ok(text:find("| Coconut | 34.1 ±1.5 | 8.2 |", 1, true), "the paper's numbers: " .. text)
  T.ok(text:find("| No-CoT | 16.5 ±0.5 | 2.2 | 50.0 | 2.0 |", 1, true), "a run's cell: " .. text)
  local t1 = assert(coconut.csv.read(d .. "/figures/table1.csv"))
  T.eq(#t1, 5)
  -- only one c: no Fig 3
  local d2 = T.tmpdir("fig3b")
  assert(coconut.fs.mkdir(d2 .. "/x/r/coconut", {parents = true}))
  assert(coconut.json.write(d2 .. "/x/r/coconut/config.json", {c_thought = 1}))
  assert(coconut.fs.write(d2 .. "/x/r/results.csv", "method,test_accuracy\ncoconut,0.5\n"))
  T.eq(PF.accuracy_vs_c(d2, PF.find_runs(d2)), nil)
  T.rmtree(d); T.rmtree(d2)
end)
