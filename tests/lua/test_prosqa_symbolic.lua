-- test_prosqa_symbolic.lua — the prosqa dataset plugin's symbolic format,
-- frontiers, node-id modes, per-epoch rendering and generator filters, seen
-- from Lua as the experiment scripts use it (plugin options, meta_json, and the
-- word-level tokenizer built from the layout texts as coco.experiment does).
local T = require "tap"

-- Tom (1) reaches rompus (4) over two shortest paths (through wumpus 2 or
-- gorpus 6, then yumpus 3); Sam (0) is a lempus (5); a dead end Tom -> zumpus (7).
local HAND = require("hand_graph").JSON

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local function same_list(a, b, what)
  T.eq(#a, #b, what .. " length")
  for i = 1, #b do T.eq(a[i], b[i], what .. " item " .. i) end
end

-- The vocabulary is built exactly as coco.experiment builds it.
local E = require "coco.experiment"
local layout_texts, SPECIALS = E.layout_texts, E.SPECIALS

T.test("prosqa symbolic: hand-made graph token by token, frontiers in meta_json", function()
  local d = T.tmpdir("pqsym")
  write(d .. "/hand.json", HAND)
  local ds = coconut.plugin.load("dataset", "prosqa", {valid_file = d .. "/hand.json", generate = false, dir = d,
                                                       format = "symbolic"})
  local ex = ds:load("valid")[1]
  same_list(words(ex.question), {"0", "5", "|", "3", "4", "|", "1", "6", "|", "2", "3", "|", "1", "2", "|", "6", "3",
                                 "|", "1", "7", "Q", "5", "4", "R", "1"}, "question")
  same_list(ex.steps, {"2", "3", "4"}, "steps")
  T.eq(ex.answer, "A 4")
  local m = assert(coconut.json.decode(ex.meta_json))
  T.eq(m.format, "symbolic"); T.eq(m.hops, 3); T.eq(m.root, 1); T.eq(m.target, 4)
  T.eq(#m.frontier, 3); T.eq(#m.bfs_frontier, 3)
  same_list(m.frontier[1], {2, 6}, "frontier k=1")   -- both shortest paths, not the dead end 7
  same_list(m.frontier[2], {3}, "frontier k=2")
  same_list(m.frontier[3], {4}, "frontier k=3")
  same_list(m.bfs_frontier[1], {2, 6, 7}, "bfs k=1")
  same_list(m.node_tokens, {"0", "1", "2", "3", "4", "5", "6", "7"}, "node tokens")
  -- the words format keeps the file's text and (frontiers=true) gives the same frontiers, names as node tokens
  local w = coconut.plugin.load("dataset", "prosqa", {valid_file = d .. "/hand.json", generate = false, dir = d,
                                                      frontiers = true})
  local wx = w:load("valid")[1]
  T.ok(wx.question:find("^Sam is a lempus%. Every yumpus is a rompus%."))
  T.eq(wx.answer, "Tom is a rompus.")
  local wm = assert(coconut.json.decode(wx.meta_json))
  T.eq(wm.format, "words"); same_list(wm.frontier[1], {2, 6}, "words frontier k=1")
  T.eq(wm.node_tokens[5], "rompus")
  -- without it, the words meta keeps the file's five graph fields only
  local w0 = coconut.plugin.load("dataset", "prosqa", {valid_file = d .. "/hand.json", generate = false, dir = d})
  local m0 = assert(coconut.json.decode(w0:load("valid")[1].meta_json))
  T.eq(m0.frontier, nil); T.eq(m0.hops, nil); T.eq(#m0.edges, 7)
  -- published bracket markers
  local b = coconut.plugin.load("dataset", "prosqa", {valid_file = d .. "/hand.json", generate = false, dir = d,
                                                      format = "symbolic", markers = "[Q],[R],[A],|"})
  local bx = b:load("valid")[1]
  T.ok(bx.question:find(" 1 7 %[Q%] 5 4 %[R%] 1$"), bx.question)
  T.eq(bx.answer, "[A] 4")
  T.rmtree(d)
end)

T.test("prosqa symbolic: bad options name the option", function()
  local d = T.tmpdir("pqopt")
  local function load(o)
    o.dir = d; o.generate = false
    return coconut.plugin.load("dataset", "prosqa", o)
  end
  T.raises(function() load{format = "sym"} end, "option 'format' = 'sym' is not one of words, symbolic")
  T.raises(function() load{format = "symbolic", node_ids = "random"} end, "option 'node_ids' = 'random'")
  T.raises(function() load{format = "symbolic", edge_order = "sorted"} end, "option 'edge_order' = 'sorted'")
  T.raises(function() load{node_ids = "shuffle"} end, "needs format=symbolic")
  T.raises(function() load{format = "symbolic", markers = "Q,R,A"} end, "must list 4 entries")
  T.raises(function() load{format = "symbolic", markers = "Q,R,Q,|"} end, "repeats 'Q'")
  T.raises(function() load{format = "symbolic", markers = "Q,R,7,|"} end, "not a number")
  T.raises(function() load{format = "symbolic", markers = "Q,R R,A,|"} end, "without spaces")
  T.raises(function() load{min_nodes = 20, max_nodes = 15, nodes = 24} end, "min_nodes = 20 and max_nodes = 15")
  T.raises(function() load{max_nodes = 30} end, "must be in 0..nodes = 28")
  T.raises(function() load{id_space = -1, format = "symbolic"} end, "id_space = -1")
  T.rmtree(d)
end)

T.test("prosqa symbolic: word-level vocabulary has one token per node and per marker", function()
  local d = T.tmpdir("pqtok")
  local ds = coconut.plugin.load("dataset", "prosqa", {dir = d, n_train = 60, n_valid = 5, n_test = 5, seed = 9,
                                                       nodes = 16, min_hops = 3, max_hops = 4, format = "symbolic"})
  local train = ds:load("train")
  local tok = assert(coconut.tokenizer.words(layout_texts(train, "symbolic"), {specials = SPECIALS, unk = true}))
  -- every whitespace-separated word of the question and answer is one token
  for i = 1, 10 do
    local ex = train[i]
    T.eq(#tok:encode(ex.question), #words(ex.question), "question " .. i)
    T.eq(#tok:encode(ex.answer), 2, "answer " .. i)
    for _, s in ipairs(ex.steps) do T.eq(#tok:encode(s), 1, "step " .. s) end
  end
  -- the vocabulary: <|endoftext|>, the specials, <unk>, the node ids, Q R A | (the symbolic layout has no "\n", "###")
  local ids = {}
  for _, ex in ipairs(train) do
    for w in ex.question:gmatch("%d+") do ids[w] = true end
  end
  local n_ids = 0
  for w in pairs(ids) do n_ids = n_ids + 1; T.ok(tok:id(w), "node " .. w) end
  for _, mk in ipairs{"Q", "R", "A", "|"} do T.ok(tok:id(mk), "marker " .. mk) end
  T.eq(tok:id("###"), nil)
  T.eq(tok:size(), 1 + #SPECIALS + 1 + n_ids + 4)
  T.ok(n_ids <= 16)
  -- the literal published brackets would cost three tokens each with this tokenizer
  local b = coconut.plugin.load("dataset", "prosqa", {dir = d, format = "symbolic", markers = "[Q],[R],[A],|"})
  local bt = b:load("train")
  local btok = assert(coconut.tokenizer.words(layout_texts(bt, "symbolic"), {specials = SPECIALS, unk = true}))
  T.eq(#btok:encode(bt[1].question), #words(bt[1].question) + 4)
  T.rmtree(d)
end)

T.test("prosqa symbolic: shuffle is fixed per graph, permute and edge shuffle change per epoch", function()
  local d = T.tmpdir("pqperm")
  local base = {dir = d, n_train = 30, n_valid = 5, n_test = 5, seed = 4, format = "symbolic"}
  local function load(extra)
    local o = {}
    for k, v in pairs(base) do o[k] = v end
    for k, v in pairs(extra) do o[k] = v end
    return coconut.plugin.load("dataset", "prosqa", o):load("train")
  end
  local function tokens(ex) return assert(coconut.json.decode(ex.meta_json)).node_tokens end
  local cre = load{}
  local sh0, sh1 = load{node_ids = "shuffle", render_seed = 3}, load{node_ids = "shuffle", render_seed = 3, epoch = 1}
  local pe0, pe0b = load{node_ids = "permute", render_seed = 3}, load{node_ids = "permute", render_seed = 3}
  local pe1 = load{node_ids = "permute", render_seed = 3, epoch = 1}
  local eo0, eo1 = load{edge_order = "shuffle", epoch = 0}, load{edge_order = "shuffle", epoch = 1}
  local diff_perm, diff_edges = 0, 0
  for i = 1, #cre do
    T.eq(sh0[i].question, sh1[i].question, "shuffle ignores the epoch")
    T.eq(pe0[i].question, pe0b[i].question, "permute is deterministic")
    if pe0[i].question ~= pe1[i].question then diff_perm = diff_perm + 1 end
    if eo0[i].question ~= eo1[i].question then diff_edges = diff_edges + 1 end
    -- node tokens describe the text: the root's token ends the question, the target's the answer
    for _, set in ipairs{cre, sh0, pe1} do
      local m = assert(coconut.json.decode(set[i].meta_json))
      T.ok(set[i].question:sub(-#m.node_tokens[m.root + 1] - 2) == "R " .. m.node_tokens[m.root + 1])
      T.eq(set[i].answer, "A " .. m.node_tokens[m.target + 1])
      T.eq(set[i].steps[#set[i].steps], m.node_tokens[m.target + 1])
    end
    -- a bijection of the creation ids
    local seen, tk = {}, tokens(sh0[i])
    for _, t in ipairs(tk) do
      local v = tonumber(t)
      T.ok(v >= 0 and v < #tk and not seen[v]); seen[v] = true
    end
    -- the edges are the same multiset under edge shuffle
    local a, b = words(eo0[i].question), words(eo1[i].question)
    table.sort(a); table.sort(b)
    same_list(a, b, "shuffled edges")
  end
  T.eq(diff_perm, #cre)
  T.eq(diff_edges, #cre)
  T.rmtree(d)
end)

T.test("prosqa generator filters: hop and node ranges", function()
  local d = T.tmpdir("pqfilt")
  local ds = coconut.plugin.load("dataset", "prosqa", {dir = d, n_train = 80, n_valid = 10, n_test = 10, seed = 2,
                                                       nodes = 17, min_nodes = 14, max_nodes = 16, min_hops = 3,
                                                       max_hops = 4, format = "symbolic"})
  for _, split in ipairs{"train", "valid", "test"} do
    for _, ex in ipairs(ds:load(split)) do
      local m = assert(coconut.json.decode(ex.meta_json))
      T.ok(#m.idx_to_symbol >= 14 and #m.idx_to_symbol <= 16, "nodes " .. #m.idx_to_symbol)
      T.ok(m.hops >= 3 and m.hops <= 4, "hops " .. m.hops)
      T.eq(#ex.steps, m.hops)
    end
  end
  -- filter_files applies the ranges to an existing file: only 3-hop examples
  local f3 = coconut.plugin.load("dataset", "prosqa", {dir = d, min_hops = 3, max_hops = 3, filter_files = true})
  local all, three = ds:load("train"), f3:load("train")
  local want = 0
  for _, ex in ipairs(all) do if #ex.steps == 3 then want = want + 1 end end
  T.ok(want > 0 and want < #all)
  T.eq(#three, want)
  T.rmtree(d)
end)

T.test("prosqa symbolic: the official valid.json", function()
  local off = T.shared("prosqa/valid.json")
  if not off then T.skip("official ProsQA valid.json not found (../shared/data/prosqa or $COCONUT_SHARED_DATA)") end
  local d = T.tmpdir("pqoff")
  local ds = coconut.plugin.load("dataset", "prosqa", {valid_file = off, generate = false, dir = d, format = "symbolic",
                                                       min_hops = 3, max_hops = 4, filter_files = true})
  local v = ds:load("valid")
  T.eq(#v, 257) -- the 3-4-hop subset of Reasoning by Superposition's valid file
  T.eq(v[1].question, "2 5 | 2 11 | 3 6 | 3 8 | 8 14 | 4 5 | 7 13 | 7 11 | 3 14 | 14 16 | 1 3 | 2 15 | 11 12 | " ..
                      "0 2 | 8 9 | 0 6 | 2 12 | 2 7 | 3 9 | 12 15 | 6 10 | 1 17 | 5 7 Q 16 13 R 1")
  same_list(v[1].steps, {"3", "14", "16"}, "steps")
  T.eq(v[1].answer, "A 16")
  for _, ex in ipairs(v) do
    local m = assert(coconut.json.decode(ex.meta_json))
    T.ok(m.hops == 3 or m.hops == 4)
    same_list(m.frontier[m.hops], {m.target}, "last frontier")
  end
  local all = coconut.plugin.load("dataset", "prosqa", {valid_file = off, generate = false, dir = d,
                                                        format = "symbolic", node_ids = "permute", epoch = 2})
  T.eq(#all:load("valid"), 300)
  T.rmtree(d)
end)
