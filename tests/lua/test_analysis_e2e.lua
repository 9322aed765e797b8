-- End to end: `coconut run experiments/prosqa_analysis.lua --preset quick`
-- trains the analysis model (Coconut, symbolic marker-less layout, frontier
-- loss, uniform_prob 0.3) and the CoT / No-CoT references, sweeps k = 0..3
-- with the five probes and draws Fig 5, 7, 8 and 9; experiments/figures/paper.lua
-- re-draws them from the CSVs with Table 1; --from adopts the finished models
-- of that run without training; bad input fails with a message.
-- COCONUT_BIN selects the binary (default build/coconut).
local T = require "tap"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local function read(path) return assert(coconut.csv.read(path)) end

local function nonempty_figure(dir, name)
  local png = coconut.fs.read(dir .. "/figures/" .. name .. ".png")
  T.ok(png and #png > 2000 and png:sub(2, 4) == "PNG", name .. ".png is a non-empty PNG")
  local svg = coconut.fs.read(dir .. "/figures/" .. name .. ".svg")
  T.ok(svg and #svg > 1000 and svg:find("<svg", 1, true), name .. ".svg is a non-empty SVG")
  T.ok(coconut.fs.exists(dir .. "/figures/" .. name .. ".gp"), name .. ".gp kept beside them")
end

local PROBE_COLS = {
  paths = "split,epoch,stage,k,index,correct,category,path_len,valid,first_bad,ends,completion,length,shortest",
  frontier = "split,epoch,stage,k,index,depth,node,node_id,value,on_shortest_path,reaches_target,parents,correct",
  parallelism = "split,epoch,stage,k,index,depth,n_frontier,rank,node,value,cumulative",
  height = "split,epoch,stage,k,index,depth,node,node_id,value,height_shortest,height_longest,reaches_target",
  decode = "split,epoch,stage,k,index,thought,rank,token_id,token,prob,node_id,depth,on_shortest_path,reaches_target",
}

T.test("prosqa_analysis --preset quick: the k sweep, the five probes, Fig 5/7/8/9; paper.lua re-draws them with Table 1; --from adopts", function()
  local d = T.tmpdir("analysis")
  local args = string.format("--results %s --data %s", d .. "/results", d .. "/data")
  local rc, out = T.sh(string.format("%s run experiments/prosqa_analysis.lua --preset quick %s", BIN, args))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/results/prosqa_analysis/quick"
  -- the sweep: one row per k for Coconut, one reference row for CoT and No-CoT
  local ak, cols = read(root .. "/coconut/analysis_k.csv")
  T.eq(table.concat(cols, ","), "k,mode,n,accuracy,new_tokens,thoughts")
  T.eq(#ak, 4)
  for i, r in ipairs(ak) do
    T.eq(r.k, tostring(i - 1)); T.eq(r.mode, "sweep"); T.eq(r.n, "24"); T.near(tonumber(r.thoughts), i - 1, 1e-9)
  end
  for _, m in ipairs{"cot", "nocot"} do
    local rows = read(root .. "/" .. m .. "/analysis_k.csv")
    T.eq(#rows, 1); T.eq(rows[1].mode, "reference")
  end
  -- accuracy per k = the eval rows of that k
  local ev = read(root .. "/coconut/analysis/eval.csv")
  T.eq(#ev, 4 * 24)
  for _, r in ipairs(ak) do
    local c = 0
    for _, e in ipairs(ev) do if e.k == r.k then c = c + tonumber(e.correct) end end
    T.near(tonumber(r.accuracy), c / 24, 1e-6, "accuracy at k=" .. r.k)
  end
  -- the probes' files and rows
  for name, want in pairs(PROBE_COLS) do
    local rows, pc = read(root .. "/coconut/analysis/probes/" .. name .. ".csv")
    T.eq(table.concat(pc, ","), want, name .. " columns")
    T.ok(#rows > 0, name .. " has rows")
  end
  local paths = read(root .. "/coconut/analysis/probes/paths.csv")
  T.eq(#paths, 4 * 24, "one category per example and k")
  local fr = read(root .. "/coconut/analysis/probes/frontier.csv")
  local depths = {}
  for _, r in ipairs(fr) do
    T.eq(tonumber(r.depth), tonumber(r.k) + 1, "symbolic: the frontier read after k slots is at depth k + 1")
    local v = tonumber(r.value)
    T.ok(v and v >= 0 and v <= 1, "a probability")
    depths[r.depth] = true
  end
  T.ok(depths["1"] and depths["2"], "first and second thought frontiers")
  -- marker-less: thought 1's decoded distribution is the depth-1 reading at k = 0
  local dec = read(root .. "/coconut/analysis/probes/decode.csv")
  local top1 = {}
  for _, r in ipairs(dec) do
    if r.k == "1" and r.thought == "1" and r.rank == "1" then top1[r.index] = r end
  end
  local checked = 0
  for _, r in ipairs(fr) do
    local t = top1[r.index]
    if r.k == "0" and t and t.token == r.node then
      T.near(tonumber(t.prob), tonumber(r.value), 1e-5, "decode(thought 1) = frontier value after 0 slots")
      checked = checked + 1
    end
  end
  T.ok(checked > 0, "some decoded thought names a frontier node")
  for _, f in ipairs{"fig4_decode", "fig5_analysis", "fig7_search_tree", "fig8_parallelism", "fig9_height"} do nonempty_figure(root, f) end
  T.ok(out:find("analysis: " .. root .. "/figures/fig5_analysis.png", 1, true), "the run prints its figures")

  -- paper.lua re-draws every figure from the CSVs, and writes Table 1
  for _, f in ipairs{"fig5_analysis", "fig9_height"} do os.remove(root .. "/figures/" .. f .. ".png") end
  rc, out = T.sh(string.format("%s run experiments/figures/paper.lua %s", BIN, d .. "/results"))
  if rc ~= 0 then error("paper.lua failed:\n" .. out) end
  for _, f in ipairs{"fig4_decode", "fig5_analysis", "fig7_search_tree", "fig8_parallelism", "fig9_height"} do nonempty_figure(root, f) end
  local md = assert(coconut.fs.read(d .. "/results/figures/table1.md"))
  T.ok(md:find("## ProsQA", 1, true) and md:find("| Coconut | 97.0 ±0.3 | 14.2 |", 1, true), md)
  T.ok(md:find("prosqa_analysis/quick Acc.", 1, true), "a column pair for the run")
  local t1 = read(d .. "/results/figures/table1.csv")
  T.eq(#t1, 3)
  -- a figure re-renders from its .gp alone
  os.remove(root .. "/figures/fig8_parallelism.png")
  T.ok(coconut.plot(root .. "/figures/fig8_parallelism.gp", {"figures/fig8_parallelism.png", "figures/fig8_parallelism.svg"}, root))
  nonempty_figure(root, "fig8_parallelism")

  -- --from: every method adopted, nothing trained, the sweep redone
  rc, out = T.sh(string.format("%s run experiments/prosqa_analysis.lua --preset quick %s --run adopt --from %s", BIN, args, root))
  if rc ~= 0 then error("--from run failed:\n" .. out) end
  local ad = d .. "/results/prosqa_analysis/adopt"
  for _, m in ipairs{"coconut", "cot", "nocot"} do
    T.ok(out:find(m .. ": adopted from", 1, true), m .. " adopted")
    T.eq(coconut.fs.read(ad .. "/" .. m .. "/metrics.csv"), coconut.fs.read(root .. "/" .. m .. "/metrics.csv"), m .. ": no training")
    T.ok(coconut.fs.exists(ad .. "/" .. m .. "/adopted_from.json"))
    T.eq(coconut.fs.read(ad .. "/" .. m .. "/analysis_k.csv"), coconut.fs.read(root .. "/" .. m .. "/analysis_k.csv"),
      m .. ": the same model gives the same sweep")
  end
  T.ok(not out:find("epoch 1/", 1, true), "no epoch trained")

  -- the words rendering (the official sentences, <|start-latent|> ... <|end-latent|>): the frontier
  -- after k >= 1 thoughts is read as "Every [A]" at depth k; no reading at k = 0
  rc, out = T.sh(string.format("%s run experiments/prosqa_analysis.lua --preset quick %s --run words --format words "
    .. "--coconut_markers true --coconut_loss official --analysis_k 0,1,2 --analysis_probes paths,frontier --probes ''",
    BIN, args))
  if rc ~= 0 then error("words run failed:\n" .. out) end
  local wr = d .. "/results/prosqa_analysis/words"
  fr = read(wr .. "/coconut/analysis/probes/frontier.csv")
  T.ok(#fr > 0, "words frontier rows")
  for _, r in ipairs(fr) do
    T.eq(r.depth, r.k, "words: depth = k"); T.ok(r.k ~= "0", "no reading at k = 0")
    T.ok(r.node:match("^%a+$"), "a concept name: " .. r.node)
    local v = tonumber(r.value)
    T.ok(v and v >= 0 and v <= 1, "a probability")
  end
  T.eq(#read(wr .. "/coconut/analysis/probes/paths.csv"), 3 * 24)
  for _, f in ipairs{"fig5_analysis", "fig7_search_tree"} do nonempty_figure(wr, f) end

  -- bad input: a clear message, a non-zero exit
  rc, out = T.sh(string.format("%s run experiments/prosqa_analysis.lua --preset quick %s --run bad1 --from %s", BIN, args,
    d .. "/nowhere"))
  T.ok(rc ~= 0 and out:find("no config.json there", 1, true), out)
  rc, out = T.sh(string.format("%s run experiments/prosqa_analysis.lua --preset quick %s --run bad2 --from %s --n_train 50",
    BIN, args, root))
  T.ok(rc ~= 0 and out:find("option 'n_train' is 96 there but 50 here", 1, true), out)
  rc, out = T.sh(string.format("%s run experiments/prosqa_analysis.lua --preset quick %s --run bad3 --analysis_k 0,two", BIN, args))
  T.ok(rc ~= 0 and out:find("--analysis_k: 'two' is not a thought count", 1, true), out)
  T.ok(not coconut.fs.exists(d .. "/results/prosqa_analysis/bad3"), "refused before writing anything")
  rc, out = T.sh(string.format("%s run experiments/figures/paper.lua %s", BIN, d .. "/data"))
  T.ok(rc ~= 0 and out:find("no run under it", 1, true), out)
  T.rmtree(d)
end)
