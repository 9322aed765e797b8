-- test_pretrain.lua — coco.pretrain's length: --pretrain_epochs epochs, or with
-- --pretrain_until_loss L > 0 up to that cap, stopping after the first epoch
-- whose mean loss is <= L; state.json records what ran; a finished directory
-- is reused; a negative threshold is refused.
local T = require "tap"
local Layout = require "coco.layout"
local E = require "coco.experiment"
local PT = require "coco.pretrain"


local function setup()
  local d = T.tmpdir("pretrain")
  local ex = require("hand_graph").load(T, "symbolic")
  local tok, sp = E.tokenizer({tokenizer = "words", format = "symbolic"}, {ex}, {})
  return d, {ex, ex, ex, ex}, tok, sp, Layout.new(tok, sp, "symbolic")
end

local function opts(epochs, stop_at)
  return {pretrain_epochs = epochs, pretrain_until_loss = stop_at, pretrain_lr = 0, lr = 3e-3, weight_decay = 0,
          beta1 = 0.9, beta2 = 0.999, pretrain_task = "repeat", micro_batch = 2, batch_size = 2, warmup_steps = 0, seed = 1}
end

local function pretrain(dir, o, exs, tok, sp, lay)
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = tok:size(), n_positions = 128, dropout = 0, seed = 2}
  local out = PT.run{dir = dir, opts = o, model = m, examples = exs, layout = lay, special = sp}
  return out, assert(coconut.json.read(dir .. "/state.json")), assert(coconut.csv.read(dir .. "/metrics.csv"))
end

T.test("pretrain: a fixed number of epochs without a threshold", function()
  local d, exs, tok, sp, lay = setup()
  local m, st, rows = pretrain(d .. "/a", opts(3, 0), exs, tok, sp, lay)
  T.eq(st.epochs, 3); T.eq(st.steps, 6); T.eq(#rows, 6); T.eq(tonumber(rows[#rows].epoch), 3)
  m:close()
  T.rmtree(d)
end)

T.test("pretrain: --pretrain_until_loss stops after the first epoch at or below it", function()
  local d, exs, tok, sp, lay = setup()
  -- a threshold every epoch meets: one epoch
  local m, st, rows = pretrain(d .. "/b", opts(5, 1e9), exs, tok, sp, lay)
  T.eq(st.epochs, 1); T.eq(#rows, 2); T.eq(st.until_loss, 1e9)
  m:close()
  -- a threshold between epoch 1's and epoch 2's mean: two epochs (the same
  -- model and data as run c below, so its per-epoch means are known)
  local m3, st3, rows3 = pretrain(d .. "/c", opts(3, 0), exs, tok, sp, lay)
  m3:close()
  local mean = {}
  for _, r in ipairs(rows3) do
    local e = tonumber(r.epoch)
    mean[e] = (mean[e] or 0) + tonumber(r.loss) / 2
  end
  T.ok(mean[2] < mean[1], "the loss falls on one repeated example")
  local m4, st4, rows4 = pretrain(d .. "/e", opts(3, (mean[1] + mean[2]) / 2), exs, tok, sp, lay)
  T.eq(st4.epochs, 2); T.eq(#rows4, 4)
  T.near(st4.final_loss, mean[2], 1e-5)
  m4:close()
  -- a threshold never met: the cap, and the state says the loss stayed above it
  local m5, st5 = pretrain(d .. "/f", opts(2, 1e-12), exs, tok, sp, lay)
  T.eq(st5.epochs, 2); T.ok(st5.final_loss > 1e-12)
  m5:close()
  -- a finished directory is reused, whatever the options now say
  local m6 = pretrain(d .. "/f", opts(9, 0), exs, tok, sp, lay)
  T.eq(assert(coconut.json.read(d .. "/f/state.json")).epochs, 2)
  m6:close()
  T.raises(function() pretrain(d .. "/g", opts(2, -1), exs, tok, sp, lay) end, "pretrain_until_loss")
  T.rmtree(d)
end)

T.test("pretrain task recall: the question's units again in a drawn order, labels past each unit's first token", function()
  local d, exs, tok, sp, lay = setup()
  local q = lay:pieces(exs[1]).q
  local bar, qid = PT.unit_tokens(lay)
  T.eq(bar, tok:id("|")); T.eq(qid, tok:id("Q"))
  -- the units as the definition has them: "s t |" for each of the 7 edges, in
  -- the question's order (its last edge has no "|" before "Q": the copy adds it)
  local function id(w) return assert(tok:id(w), w) end
  -- from the question's text: "0 5 | 3 4 | ... | 1 7 Q 5 4 R 1"
  local edges_text = exs[1].question:match("^(.-) Q ")
  local units = {}
  for edge in (edges_text .. " |"):gmatch("(.-) |%s*") do
    local a, b = edge:match("^(%S+) (%S+)$")
    units[#units + 1] = {id(a), id(b), bar}
  end
  T.eq(#units, 7)
  -- the rendered question starts with those edges in that order
  local at = 1
  for k, u in ipairs(units) do
    T.eq(q[at], u[1], "edge " .. k .. " source"); T.eq(q[at + 1], u[2], "edge " .. k .. " target")
    at = at + 3
  end
  T.eq(q[at - 1], qid, "the question sentence follows the last edge")
  local it = PT.recall_item(q, bar, qid, coconut.rng(5))
  -- the same draw on a list of unit numbers gives the expected order
  local order = {}
  for i = 1, #units do order[i] = i end
  coconut.rng(5):shuffle(order)
  local want_ids, want_labels = {}, {}
  for _, t in ipairs(q) do want_ids[#want_ids + 1] = t; want_labels[#want_labels + 1] = -100 end
  for _, k in ipairs(order) do
    for j, t in ipairs(units[k]) do
      want_ids[#want_ids + 1] = t; want_labels[#want_labels + 1] = j == 1 and -100 or t
    end
  end
  T.eq(#it.input_ids, #q + 3 * 7); T.eq(#it.labels, #it.input_ids)
  for i = 1, #want_ids do
    T.eq(it.input_ids[i], want_ids[i], "id " .. i); T.eq(it.labels[i], want_labels[i], "label " .. i)
  end
  local moved = false
  for i = 1, #order do moved = moved or order[i] ~= i end
  T.ok(moved, "the draw reorders the units")
  -- the words rendering: sentences ending in ".", the question sentence ("?") not copied
  local wex = require("hand_graph").load(T, "words")
  local wtok, wsp = E.tokenizer({tokenizer = "words", format = "words"}, {wex}, {})
  local wlay = Layout.new(wtok, wsp, "words")
  local dot, none = PT.unit_tokens(wlay)
  T.eq(dot, wtok:id(".")); T.eq(none, nil)
  local wq = wlay:pieces(wex).q
  local wit = PT.recall_item(wq, dot, nil, coconut.rng(9))
  local copied, starts, dots = 0, 0, 0
  for i = #wq + 1, #wit.input_ids do
    copied = copied + 1
    if wit.labels[i] == -100 then starts = starts + 1 end
    if wit.input_ids[i] == dot then dots = dots + 1 end
  end
  T.eq(dots, 7, "seven sentences copied"); T.eq(starts, 7, "each copy's first token unlabelled")
  T.eq(copied, 3 * 6 + 4 * 5, "three 'Every X is a Y .' (6 tokens) and four 'N is a X .' (5)")
  -- a run of the task trains and records its epochs
  local o = opts(2, 0)
  o.pretrain_task = "recall"
  local m, st = pretrain(d .. "/r", o, exs, tok, sp, lay)
  T.eq(st.epochs, 2)
  m:close()
  o.pretrain_task = "copy"
  T.raises(function() pretrain(d .. "/x", o, exs, tok, sp, lay) end, "pretrain_task")
  T.rmtree(d)
end)

T.test("pretrain lookup: each node's token is scored against the set of its children", function()
  local d, exs, tok, sp, lay = setup()
  local id = function(w) return assert(tok:id(w), w) end
  -- the hand graph's edges 0-5 3-4 1-6 2-3 1-2 6-3 1-7: five nodes with out-edges, in id order
  local lk = lay:lookups(exs[1])
  local want = {{"0", {"5"}}, {"1", {"6", "2", "7"}}, {"2", {"3"}}, {"3", {"4"}}, {"6", {"3"}}}
  T.eq(#lk, #want)
  for i, w in ipairs(want) do
    T.eq(lk[i][1], id(w[1]), "query " .. i)
    T.eq(#lk[i][2], #w[2], "children of " .. w[1])
    local got, exp = {}, {}
    for j, c in ipairs(w[2]) do got[j] = lk[i][2][j]; exp[j] = id(c) end
    table.sort(got); table.sort(exp)
    for j = 1, #exp do T.eq(got[j], exp[j], "children of " .. w[1] .. ", sorted, " .. j) end
  end
  local q = lay:pieces(exs[1]).q
  local it = PT.lookup_item(q, lk, coconut.rng(3))
  T.eq(#it.input_ids, #q + #want + 1, "question, five queries, a filler")
  for i = 1, #it.labels do T.eq(it.labels[i], -100, "no plain label at " .. i) end
  for i = 1, #q do T.eq(it.input_ids[i], q[i]) end
  local kids = {}
  for _, l in ipairs(lk) do kids[l[1]] = l[2] end
  local order, n = {}, 0
  for t = #q + 1, #q + #want do
    local set = it.label_sets[t + 1]
    T.ok(set, "a set scores the output at query " .. (t - #q))
    T.eq(set, kids[it.input_ids[t]], "the set is the query's children")
    order[#order + 1] = tok:token(it.input_ids[t])
  end
  for _ in pairs(it.label_sets) do n = n + 1 end
  T.eq(n, #want, "one set per query, none on the question")
  T.ok(table.concat(order, " ") ~= "0 1 2 3 6", "the draw reorders the queries: " .. table.concat(order, " "))
  -- a run of the task trains on the sets; its loss falls on a repeated example
  local o = opts(4, 0)
  o.pretrain_task = "lookup"
  local m, st, rows = pretrain(d .. "/l", o, exs, tok, sp, lay)
  T.eq(st.epochs, 4)
  T.ok(tonumber(rows[#rows].loss) < tonumber(rows[1].loss), "lookup loss falls: " .. rows[1].loss .. " -> " .. rows[#rows].loss)
  m:close()
  -- the short-context form: units holding an edge, n of them kept in order, queries only for their edges
  local bar, qid = PT.unit_tokens(lay)
  local units = PT.edge_units(q, lk, bar, qid)
  T.eq(#units, 7, "every edge unit of the question")
  for k, u in ipairs(units) do
    T.eq(#u.edges, 1, "unit " .. k .. " holds one edge")
    T.eq(u.ids[1], u.edges[1][1]); T.eq(u.ids[2], u.edges[1][2]); T.eq(u.ids[3], bar)
  end
  local sub = PT.lookup_subset_item(units, 3, coconut.rng(4))
  local kept, at = {}, 1
  while sub.input_ids[at + 2] == bar do
    kept[#kept + 1] = {sub.input_ids[at], sub.input_ids[at + 1]}
    at = at + 3
  end
  T.eq(#kept, 3, "three units kept")
  local pos = {}
  for k, u in ipairs(units) do pos[u.ids[1] .. ">" .. u.ids[2]] = k end
  for k = 2, #kept do
    T.ok(pos[kept[k][1] .. ">" .. kept[k][2]] > pos[kept[k - 1][1] .. ">" .. kept[k - 1][2]], "kept units in question order")
  end
  local want_sets = {}
  for _, e in ipairs(kept) do
    want_sets[e[1]] = want_sets[e[1]] or {}
    table.insert(want_sets[e[1]], e[2])
  end
  local nq = 0
  for t, set in pairs(sub.label_sets) do
    nq = nq + 1
    local w = want_sets[sub.input_ids[t - 1]]
    T.ok(w, "a query names a kept edge's source")
    table.sort(set); table.sort(w)
    T.eq(table.concat(set, ","), table.concat(w, ","), "its children among the kept units only")
  end
  local ns = 0
  for _ in pairs(want_sets) do ns = ns + 1 end
  T.eq(nq, ns, "one query per kept source")
  T.eq(#PT.lookup_subset_item(units, 0, coconut.rng(4)).input_ids, 7 * 3 + 5 + 1, "0 keeps every unit")
  o.pretrain_lookup_units = "2,0"
  local m2, st2 = pretrain(d .. "/s", o, exs, tok, sp, lay)
  T.eq(st2.epochs, 4); m2:close()
  o.pretrain_lookup_units = "2,x"
  T.raises(function() pretrain(d .. "/u", o, exs, tok, sp, lay) end, "pretrain_lookup_units")
  o.pretrain_lookup_units = "0"
  -- examples without a graph are refused, naming the task
  local bare = {question = exs[1].question, steps = exs[1].steps, answer = exs[1].answer}
  T.raises(function() pretrain(d .. "/n", o, {bare}, tok, sp, lay) end, "pretrain_task lookup")
  T.rmtree(d)
end)
