-- coco.paper_figures — the paper's figures and Table 1 from a run's CSV files
-- (paper.md §1, §5), drawn with coco.figures (gnuplot: PNG + SVG, the .gp
-- beside them). Each figure reads only CSVs: the probes' and the sweep's files,
-- and derived CSVs written next to the .gp (figures/fig*.csv), so
-- `cd <run> && gnuplot -c figures/<name>.gp a.png a.svg` re-renders it.
--
--   local PF = require "coco.paper_figures"
--   PF.analysis(root)       -- Fig 4, 5, 7, 8, 9 of an analysis run (methods with analysis_k.csv)
--   PF.accuracy_vs_c(out, runs)  -- Fig 3 where coconut runs with several c exist
--   PF.table1(out, runs)    -- Table 1: figures/table1.csv (tidy) and table1.md
--   PF.find_runs(dir)       -- the runs (directories with results.csv) under dir
--
-- Inputs of an analysis run <root> (coco.run R.analysis_sweep, plugins/probe/*.lua):
--   <root>/<method>/analysis_k.csv                  k, mode, n, accuracy, new_tokens, thoughts
--   <root>/<method>/analysis/probes/paths.csv       k, index, correct, category, ...
--   <root>/<method>/analysis/probes/frontier.csv    k, index, depth, node, node_id, value, on_shortest_path, reaches_target, parents, correct
--   <root>/<method>/analysis/probes/parallelism.csv k, index, depth, n_frontier, rank, node, value, cumulative
--   <root>/<method>/analysis/probes/height.csv      k, index, depth, node, node_id, value, height_shortest, height_longest, reaches_target
--   <root>/<method>/analysis/probes/decode.csv      k, index, thought, rank, token, prob, node_id, depth, ...
-- Derived CSVs (in <root>/figures/):
--   fig4_decode_example.csv x, thought, rank, prob, frontier, label
--   fig4_decode_mass.csv  thought, frontier, other_node, other, top1_frontier, n
--   fig5_paths.csv       label, correct_path, longer_path, hallucination, wrong_target, correct_label, incorrect_label, n
--   fig7_nodes.csv       x, y, value, kind (0 root, 1 reaches the target, 2 does not), on_shortest_path, label
--   fig7_edges.csv       x1, y1, x2, y2
--   fig8_parallelism.csv depth, top, percentile, value
--   fig9_height.csv      depth, reaches_target, height, mean, std, n
--   fig3_accuracy_vs_c.csv (out dir) series, name, c, accuracy, std, seeds
--   table1.csv (out dir)  dataset, experiment, run, method, accuracy, accuracy_std, seeds, tokens
local F = require "coco.figures"
local G = require "coco.prosqa_graph"
local S = require "coco.seeds"

local PF = {}

local CAT = G.CATEGORIES
local CAT_COLOR = {correct_path = "#27ae60", longer_path = "#a9dfbf", hallucination = "#c0392b",
                   wrong_target = "#e67e22", correct_label = "#1f5fa6", incorrect_label = "#95a5a6"}
local METHOD_NAME = {cot = "CoT", nocot = "No-CoT", coconut = "Coconut", icot = "iCoT", pause = "Pause Token",
                     coconut_nocur = "w/o curriculum", coconut_nothought = "w/o thought",
                     coconut_pausethought = "pause as thought"}
local REF_COLOR = {"#1f5fa6", "#7f8c8d", "#8e44ad", "#16a085", "#b7950b"}

function PF.method_name(m) return METHOD_NAME[m] or m end

local function join(a, b) return a .. "/" .. b end

local function read_csv(path)
  if not coconut.fs.exists(path) then return nil end
  local rows, cols = coconut.csv.read(path)
  if not rows then error(cols, 0) end
  return rows, cols
end

local function write_csv(path, cols, rows)
  local w = assert(coconut.csv.open(path, cols))
  for _, r in ipairs(rows) do w:row(r) end
  assert(w:close())
end

local function q(s) return (tostring(s):gsub('\\', '\\\\'):gsub('"', '\\"')) end

-- Methods of a run: results.csv's order, then any other method directory.
local function run_methods(root)
  local out, seen = {}, {}
  local rows = read_csv(join(root, "results.csv")) or {}
  for _, r in ipairs(rows) do
    if r.method and not seen[r.method] and (r.seed == nil or (r.seed ~= "mean" and r.seed ~= "std")) then
      seen[r.method] = true; out[#out + 1] = r.method
    end
  end
  for _, d in ipairs(coconut.fs.listdir(root) or {}) do
    if not seen[d] and coconut.fs.exists(join(root, d .. "/analysis_k.csv")) then seen[d] = true; out[#out + 1] = d end
  end
  return out
end

-- ------------------------------------------------------------------ Fig 5

-- The category counts per bar: the reference methods' single pass, and the
-- sweep method's passes k = 0.. (rows of the paths probe, split "test").
local function fig5_rows(root, main, refs)
  local out = {}
  local function count(method, keep)
    local rows = read_csv(join(root, method .. "/analysis/probes/paths.csv"))
    if not rows then return nil end
    local by, ks = {}, {}
    for _, r in ipairs(rows) do
      if keep(r) and r.category ~= "" then
        local k = tonumber(r.k) or 0
        if not by[k] then by[k] = {n = 0}; ks[#ks + 1] = k end
        by[k][r.category] = (by[k][r.category] or 0) + 1
        by[k].n = by[k].n + 1
      end
    end
    table.sort(ks)
    return by, ks
  end
  local function row(label, c)
    local t = {label = label, n = c.n}
    for _, cat in ipairs(CAT) do t[cat] = c[cat] or 0 end
    return t
  end
  local function any() return true end
  local tail = {}
  for i, m in ipairs(refs) do
    local by, ks = count(m, any)
    if by and ks[1] then
      local r = row(PF.method_name(m), by[ks[1]])
      if i == 1 then out[#out + 1] = r else tail[#tail + 1] = r end
    end
  end
  local by, ks = count(main, any)
  if by then for _, k in ipairs(ks) do out[#out + 1] = row("k=" .. k, by[k]) end end
  for _, r in ipairs(tail) do out[#out + 1] = r end
  return out
end

function PF.fig5(root, main, sweeps, refs, title)
  local cols = {"label"}
  for _, c in ipairs(CAT) do cols[#cols + 1] = c end
  cols[#cols + 1] = "n"
  local bars = fig5_rows(root, main, refs)
  local kmax = 0
  for _, m in ipairs(sweeps) do
    for _, r in ipairs(read_csv(join(root, m .. "/analysis_k.csv"))) do kmax = math.max(kmax, tonumber(r.k) or 0) end
  end
  local L = {}
  local function add(s, ...) L[#L + 1] = string.format(s, ...) end
  if #bars > 0 then
    assert(coconut.fs.mkdir(join(root, "figures")))
    write_csv(join(root, "figures/fig5_paths.csv"), cols, bars)
    add('set multiplot layout 1,2 title "%s"', q(title))
  end
  add('set title "final-answer accuracy"')
  add('set xlabel "k (continuous thoughts before <eot>)"')
  add('set ylabel "accuracy (%%)"')
  add('set xrange [-0.5:%d.5]', kmax)
  add('set xtics 1')
  add('set yrange [0:100]')
  add('set key bottom right inside')
  local plots = {}
  local colors = {"#c0392b", "#d35400", "#8e44ad", "#2c3e50"}
  for i, m in ipairs(sweeps) do
    plots[#plots + 1] = string.format('"%s/analysis_k.csv" using "k":(100*column("accuracy")) with linespoints lw 2 pt 7 ps 1.3 lc rgb "%s" title "%s"',
      q(m), colors[(i - 1) % #colors + 1], q(PF.method_name(m)))
  end
  for i, m in ipairs(refs) do
    add('stats "%s/analysis_k.csv" using (100*column("accuracy")) nooutput', q(m))
    add('REF%d = STATS_mean', i)
    plots[#plots + 1] = string.format('REF%d with lines dt 2 lw 2 lc rgb "%s" title sprintf("%s (%%.1f)", REF%d)', i,
      REF_COLOR[(i - 1) % #REF_COLOR + 1], q(PF.method_name(m)), i)
  end
  add('plot %s', table.concat(plots, ", \\\n     "))
  if #bars > 0 then
    add('set title "reasoning path of each test case (%s)"', q(PF.method_name(main)))
    add('set style data histograms')
    add('set style histogram rowstacked')
    add('set style fill solid 0.85 border rgb "#333333"')
    add('set boxwidth 0.75')
    add('unset xlabel')
    add('set ylabel "test cases"')
    add('set autoscale x')
    add('set yrange [0:*]')
    add('set xtics rotate by -30 nomirror')
    add('set grid noxtics ytics')
    add('set key outside right top vertical')
    local p = {}
    for i, c in ipairs(CAT) do
      p[i] = string.format('%s using "%s"%s title "%s" lc rgb "%s"', i == 1 and '"figures/fig5_paths.csv"' or "''", c,
        i == 1 and ":xtic(1)" or "", G.CATEGORY_NAMES[c], CAT_COLOR[c])
    end
    add('plot %s', table.concat(p, ", \\\n     "))
    add('unset multiplot')
  end
  local body = table.concat(L, "\n") .. "\n"
  return F.render(root, "fig5_analysis", body, title .. ": Fig 5", {panels = true, size = #bars > 0 and "1300,520" or "760,520",
                                                                     font = "sans,11"})
end

-- ------------------------------------------------------------------ Fig 7

-- The example drawn: `index` if given, else the first whose depth-1 frontier
-- has the most nodes (at least 2) and that has a depth-2 frontier.
local function fig7_pick(rows, index)
  local by = {}
  for _, r in ipairs(rows) do
    local i = tonumber(r.index)
    by[i] = by[i] or {[1] = 0, [2] = 0}
    local d = tonumber(r.depth)
    if d == 1 or d == 2 then by[i][d] = by[i][d] + 1 end
  end
  if index then return by[index] and index or nil end
  local best, bn
  for i, c in pairs(by) do
    if c[2] > 0 and c[1] >= 2 and (not best or c[1] > bn or (c[1] == bn and i < best)) then best, bn = i, c[1] end
  end
  if best then return best end
  for i in pairs(by) do if not best or i < best then best = i end end
  return best
end

function PF.fig7(root, main, title, index)
  local rows = read_csv(join(root, main .. "/analysis/probes/frontier.csv"))
  if not rows or #rows == 0 then return nil end
  local ex = fig7_pick(rows, index)
  if not ex then return nil end
  local nodes, edges, pos = {}, {}, {}
  local per = {[1] = {}, [2] = {}}
  for _, r in ipairs(rows) do
    local d = tonumber(r.depth)
    if tonumber(r.index) == ex and (d == 1 or d == 2) then table.insert(per[d], r) end
  end
  -- the root: the parents of depth-1 nodes
  local root_id = per[1][1] and per[1][1].parents or "?"
  nodes[1] = {x = 0, y = 0.5, value = "nan", kind = 0, on_shortest_path = 1, label = "root " .. root_id}
  pos[0] = {[root_id] = {0, 0.5}}
  for d = 1, 2 do
    local list = per[d]
    table.sort(list, function(a, b) return tonumber(a.node_id) < tonumber(b.node_id) end)
    pos[d] = {}
    for i, r in ipairs(list) do
      local y = #list == 1 and 0.5 or 1 - (i - 1) / (#list - 1)
      pos[d][r.node_id] = {d, y}
      nodes[#nodes + 1] = {x = d, y = y, value = tonumber(r.value), kind = r.reaches_target == "1" and 1 or 2,
                           on_shortest_path = tonumber(r.on_shortest_path) or 0,
                           label = string.format("%s %.2f", r.node, tonumber(r.value))}
      for p in tostring(r.parents):gmatch("%S+") do
        local from = pos[d - 1][p]
        if from then edges[#edges + 1] = {x1 = from[1], y1 = from[2], x2 = d, y2 = y} end
      end
    end
  end
  write_csv(join(root, "figures/fig7_nodes.csv"), {"x", "y", "value", "kind", "on_shortest_path", "label"}, nodes)
  write_csv(join(root, "figures/fig7_edges.csv"), {"x1", "y1", "x2", "y2"}, edges)
  local body = string.format([[
set title "%s: latent search tree of test example %d (%s)\nvalue = probability that the continuation names the node next; ring = can reach the target"
unset key
set xrange [-0.35:2.45]
set yrange [-0.12:1.15]
unset ytics
set xtics ("root" 0, "depth 1 (first thought)" 1, "depth 2 (second thought)" 2) nomirror
set grid noxtics noytics
set border 1
set cbrange [0:1]
set cblabel "value"
set palette defined (0 "#f7fbff", 0.5 "#6baed6", 1 "#08306b")
plot "figures/fig7_edges.csv" using "x1":"y1":(column("x2")-column("x1")):(column("y2")-column("y1")) with vectors nohead lw 1.5 lc rgb "#aaaaaa", \
     "figures/fig7_nodes.csv" using "x":(column("kind")==0 ? column("y") : NaN) with points pt 7 ps 3 lc rgb "#333333", \
     "" using "x":(column("kind")>0 ? column("y") : NaN):"value" with points pt 7 ps 3.2 lc palette, \
     "" using "x":(column("kind")==1 ? column("y") : NaN) with points pt 6 ps 4.2 lw 2 lc rgb "#27ae60", \
     "" using "x":"y":"label" with labels offset char 0,1.9 font ",10"
]], q(title), ex, q(PF.method_name(main)))
  return F.render(root, "fig7_search_tree", body, title .. ": Fig 7", {size = "1000,600", font = "sans,11"})
end

-- ------------------------------------------------------------------ Fig 4

-- Fig 4 (v2) / Fig 9 (v3): continuous thoughts read through the LM head, from
-- the decode probe's rows (test split, the pass with the most thoughts).
-- Returns {example = {rows of the drawn example}, mass = {per thought and
-- class: mean top-k probability}, k =, index =}; nil without rows.
-- Classes (ProsQA, where the probe marks graph nodes): "frontier" = a node at
-- depth t for thought t (the marker-less layout trains thought t to name a
-- depth-t node), "other_node" = a node at another depth, "other" = any other
-- token; without node marks every token is "other".
function PF.decode_summary(rows, index)
  local kmax
  for _, r in ipairs(rows) do
    local k = tonumber(r.k)
    if r.split == "test" and k and (not kmax or k > kmax) then kmax = k end
  end
  if not kmax then return nil end
  local sel, idx = {}, {}
  for _, r in ipairs(rows) do
    if r.split == "test" and tonumber(r.k) == kmax then
      sel[#sel + 1] = r
      idx[tonumber(r.index)] = true
    end
  end
  if not index then for i in pairs(idx) do if not index or i < index then index = i end end end
  if not idx[index] then return nil end
  local mass, n = {}, {}
  local ex = {}
  for _, r in ipairs(sel) do
    local t, d, pr = tonumber(r.thought), tonumber(r.depth), tonumber(r.prob) or 0
    local class = (d and d == t) and "frontier" or (r.node_id ~= "" and r.node_id ~= nil) and "other_node" or "other"
    mass[t] = mass[t] or {frontier = 0, other_node = 0, other = 0, top1_frontier = 0}
    mass[t][class] = mass[t][class] + pr
    if tonumber(r.rank) == 1 then
      n[t] = (n[t] or 0) + 1
      if class == "frontier" then mass[t].top1_frontier = mass[t].top1_frontier + 1 end
    end
    if tonumber(r.index) == index then ex[#ex + 1] = r end
  end
  local out = {}
  for t = 1, kmax do
    local m, c = mass[t], n[t] or 0
    if m and c > 0 then
      out[#out + 1] = {thought = t, frontier = m.frontier / c, other_node = m.other_node / c, other = m.other / c,
                       top1_frontier = m.top1_frontier / c, n = c}
    end
  end
  table.sort(ex, function(a, b)
    local ta, tb = tonumber(a.thought), tonumber(b.thought)
    if ta ~= tb then return ta < tb end
    return tonumber(a.rank) < tonumber(b.rank)
  end)
  return {example = ex, mass = out, k = kmax, index = index}
end

function PF.fig4(root, main, title, index)
  local file = main .. "/analysis/probes/decode.csv"
  local rows = read_csv(join(root, file))
  if not rows or #rows == 0 then return nil end
  local d = PF.decode_summary(rows, index)
  if not d or #d.example == 0 then return nil end
  local topk = 0
  for _, r in ipairs(d.example) do topk = math.max(topk, tonumber(r.rank)) end
  local bars = {}
  for _, r in ipairs(d.example) do
    local t, rk = tonumber(r.thought), tonumber(r.rank)
    local tag = r.depth ~= "" and r.depth ~= nil and string.format(" (d%s)", r.depth) or ""
    bars[#bars + 1] = {x = (t - 1) * (topk + 1) + rk, thought = t, rank = rk, prob = tonumber(r.prob),
                       frontier = tonumber(r.depth) == t and 1 or 0, label = tostring(r.token) .. tag}
  end
  write_csv(join(root, "figures/fig4_decode_example.csv"), {"x", "thought", "rank", "prob", "frontier", "label"}, bars)
  write_csv(join(root, "figures/fig4_decode_mass.csv"), {"thought", "frontier", "other_node", "other", "top1_frontier", "n"},
    d.mass)
  local xt = {}
  for t = 1, d.k do xt[#xt + 1] = string.format('"thought %d" %g', t, (t - 1) * (topk + 1) + (topk + 1) / 2) end
  local body = string.format([[
set multiplot layout 1,2 title "%s: continuous thoughts decoded with softmax(W h) (%s, %d thoughts)"
set title "test example %d: top-%d tokens per thought (dN = the node's depth; green = depth of the thought)"
set style fill solid 0.8 border -1
set boxwidth 0.8
set yrange [0:1.15]
set ylabel "probability"
set xrange [0:%d]
set xtics (%s) nomirror
unset key
plot "figures/fig4_decode_example.csv" using "x":(column("frontier")==1 ? column("prob") : NaN) with boxes lc rgb "#27ae60",      "" using "x":(column("frontier")==0 ? column("prob") : NaN) with boxes lc rgb "#95a5a6",      "" using "x":"prob":"label" with labels rotate by 90 left offset 0,0.4 font ",8"
set title "all test examples: mean top-%d probability mass per thought"
set yrange [0:1.3]
set xrange [-0.6:%d.4]
set xtics
set xlabel "thought"
set key top right inside
set style histogram rowstacked
set style data histograms
set boxwidth 0.7
plot "figures/fig4_decode_mass.csv" using "frontier":xtic(1) lc rgb "#27ae60" title "node at the thought's depth",      "" using "other_node" lc rgb "#e67e22" title "node at another depth",      "" using "other" lc rgb "#95a5a6" title "other token"
unset multiplot
]], q(title), q(PF.method_name(main)), d.k, d.index, topk, d.k * (topk + 1), table.concat(xt, ", "), topk, d.k - 1)
  return F.render(root, "fig4_decode", body, title .. ": Fig 4", {panels = true, size = "1400,550", font = "sans,11"})
end

-- ------------------------------------------------------------------ Fig 8

-- The percentile curves of Fig 8 from rows of the parallelism probe's CSV (tables with
-- string or number fields): for each depth and top-r (r = 1..rmax), the
-- examples' cumulative top-r values sorted ascending, each at percentile
-- i / n. Returns {[depth] = {[r] = {{percentile, value}, ...}}}.
function PF.parallelism_curves(rows, rmax)
  rmax = rmax or 3
  local by = {} -- depth -> index -> {n =, cum = {rank -> value}}
  for _, r in ipairs(rows) do
    local d, i, rank = tonumber(r.depth), tostring(r.index), tonumber(r.rank)
    by[d] = by[d] or {}
    local e = by[d][i] or {n = tonumber(r.n_frontier), cum = {}}
    by[d][i] = e
    e.cum[rank] = tonumber(r.cumulative)
  end
  local out = {}
  for d, exs in pairs(by) do
    out[d] = {}
    for top = 1, rmax do
      local vals = {}
      for _, e in pairs(exs) do
        local rr = math.min(top, e.n)
        if e.cum[rr] then vals[#vals + 1] = e.cum[rr] end
      end
      table.sort(vals)
      local pts = {}
      for j, v in ipairs(vals) do pts[j] = {j / #vals, v} end
      out[d][top] = pts
    end
  end
  return out
end

function PF.fig8(root, main, title)
  local rows = read_csv(join(root, main .. "/analysis/probes/parallelism.csv"))
  if not rows or #rows == 0 then return nil end
  local curves = PF.parallelism_curves(rows, 3)
  local out = {}
  for _, d in ipairs{1, 2} do
    for top = 1, 3 do
      for _, pt in ipairs((curves[d] or {})[top] or {}) do
        out[#out + 1] = {depth = d, top = top, percentile = pt[1], value = pt[2]}
      end
    end
  end
  if #out == 0 then return nil end
  write_csv(join(root, "figures/fig8_parallelism.csv"), {"depth", "top", "percentile", "value"}, out)
  local L = {string.format('set multiplot layout 1,2 title "%s: cumulative value of the top frontier nodes (%s)"', q(title),
    q(PF.method_name(main)))}
  local colors = {"#c0392b", "#e67e22", "#1f5fa6"}
  for _, d in ipairs{1, 2} do
    L[#L + 1] = string.format('set title "%s thought (frontier at depth %d)"', d == 1 and "first" or "second", d)
    L[#L + 1] = 'set xlabel "percentile of test cases"'
    L[#L + 1] = 'set ylabel "cumulative value"'
    L[#L + 1] = 'set xrange [0:1]'
    L[#L + 1] = 'set yrange [0:1.05]'
    L[#L + 1] = 'set key top left inside'
    local p = {}
    for top = 1, 3 do
      p[top] = string.format('"figures/fig8_parallelism.csv" using (column("depth")==%d && column("top")==%d ? column("percentile") : NaN):"value" with lines lw 2.5 lc rgb "%s" title "%s"',
        d, top, colors[top], top == 1 and "top-1" or ("top-1..." .. top .. " (sum)"))
    end
    L[#L + 1] = "plot " .. table.concat(p, ", \\\n     ")
  end
  L[#L + 1] = "unset multiplot"
  return F.render(root, "fig8_parallelism", table.concat(L, "\n") .. "\n", title .. ": Fig 8",
    {panels = true, size = "1200,500", font = "sans,11"})
end

-- ------------------------------------------------------------------ Fig 9

function PF.fig9(root, main, title)
  local file = main .. "/analysis/probes/height.csv"
  local rows = read_csv(join(root, file))
  if not rows or #rows == 0 then return nil end
  local acc = {}
  for _, r in ipairs(rows) do
    local d, reach, h, v = tonumber(r.depth), tonumber(r.reaches_target), tonumber(r.height_shortest), tonumber(r.value)
    if (d == 1 or d == 2) and h and v then
      local key = d .. ":" .. reach .. ":" .. h
      local a = acc[key] or {depth = d, reaches_target = reach, height = h, vals = {}}
      acc[key] = a
      table.insert(a.vals, v)
    end
  end
  local out = {}
  for _, a in pairs(acc) do
    local mean, std = S.mean_std(a.vals)
    out[#out + 1] = {depth = a.depth, reaches_target = a.reaches_target, height = a.height, mean = mean, std = std or 0,
                     n = #a.vals}
  end
  if #out == 0 then return nil end
  table.sort(out, function(a, b)
    if a.depth ~= b.depth then return a.depth < b.depth end
    if a.reaches_target ~= b.reaches_target then return a.reaches_target > b.reaches_target end
    return a.height < b.height
  end)
  write_csv(join(root, "figures/fig9_height.csv"), {"depth", "reaches_target", "height", "mean", "std", "n"}, out)
  local L = {string.format('set multiplot layout 1,2 title "%s: frontier node value vs height (%s; height = shortest distance to a leaf)"',
    q(title), q(PF.method_name(main)))}
  for _, d in ipairs{1, 2} do
    L[#L + 1] = string.format('set title "%s thought (frontier at depth %d)"', d == 1 and "first" or "second", d)
    L[#L + 1] = 'set xlabel "node height"'
    L[#L + 1] = 'set ylabel "value"'
    L[#L + 1] = 'set yrange [-0.03:1.03]'
    L[#L + 1] = 'set xrange [-0.5:*]'
    L[#L + 1] = 'set xtics 1'
    L[#L + 1] = 'set key top right inside'
    L[#L + 1] = 'set offsets 0, 0.5, 0, 0'
    local p = {}
    for _, c in ipairs{{1, -0.12, "#27ae60", "#a9dfbf", "can reach the target"}, {0, 0.12, "#c0392b", "#f1b0a8", "cannot"}} do
      -- every node (jittered around its height), then the mean per height with its std
      p[#p + 1] = string.format('"%s" using (column("depth")==%d && column("reaches_target")==%d ? column("height_shortest") + %g + 0.1*(rand(0)-0.5) : NaN):"value" with points pt 7 ps 0.5 lc rgb "%s" notitle',
        q(file), d, c[1], c[2], c[4])
      p[#p + 1] = string.format('"figures/fig9_height.csv" using (column("depth")==%d && column("reaches_target")==%d ? column("height") + %g : NaN):"mean":"std" with yerrorlines lw 2 pt 7 ps 1.2 lc rgb "%s" title "%s (mean ± std)"',
        d, c[1], c[2], c[3], c[5])
    end
    L[#L + 1] = "plot " .. table.concat(p, ", \\\n     ")
  end
  L[#L + 1] = "unset multiplot"
  return F.render(root, "fig9_height", table.concat(L, "\n") .. "\n", title .. ": Fig 9",
    {panels = true, size = "1200,500", font = "sans,11"})
end

-- Fig 4, 5, 7, 8 and 9 of an analysis run; returns the PNG paths drawn (none
-- when no method has analysis_k.csv). opts: title, example (Fig 7's index).
function PF.analysis(root, opts)
  opts = opts or {}
  local sweeps, refs = {}, {}
  for _, m in ipairs(run_methods(root)) do
    local rows = read_csv(join(root, m .. "/analysis_k.csv"))
    if rows and #rows > 0 then
      local sweep = false
      for _, r in ipairs(rows) do sweep = sweep or r.mode == "sweep" end
      table.insert(sweep and sweeps or refs, m)
    end
  end
  if #sweeps == 0 then return {} end
  local main = sweeps[1]
  for _, m in ipairs(sweeps) do if m == "coconut" then main = m end end
  local title = opts.title or coconut.fs.basename(root)
  local out = {}
  local function add(png) if png then out[#out + 1] = png end end
  add(PF.fig4(root, main, title, opts.example))
  add(PF.fig5(root, main, sweeps, refs, title))
  add(PF.fig7(root, main, title, opts.example))
  add(PF.fig8(root, main, title))
  add(PF.fig9(root, main, title))
  return out
end

-- ------------------------------------------------------------------ runs, Fig 3, Table 1

-- Directories under dir (dir included) holding results.csv, depth-first, at
-- most `depth` levels down; skips method, checkpoint and figure directories.
-- Each: {dir =, experiment = (its parent's name), run = (its name),
-- seeds_root = (true for a --seeds aggregate), seed_of = (the aggregate's dir
-- for a seed<N> run inside one)}.
function PF.find_runs(dir, depth)
  depth = depth or 5
  local runs = {}
  local SKIP = {checkpoints = true, figures = true, probes = true, analysis = true, pretrain = true}
  local function visit(d, level, parent_run)
    local is_run = coconut.fs.exists(join(d, "results.csv"))
    local run
    if is_run then
      local _, cols = read_csv(join(d, "results.csv"))
      local name = coconut.fs.basename(d)
      local parent = coconut.fs.dirname(d)
      run = {dir = d, run = name, experiment = coconut.fs.basename(parent), seeds_root = cols[1] == "seed"}
      if name:match("^seed%d+$") then
        -- a seed of a --seeds run: <experiment>/<run>/seed<N>
        run.experiment, run.run = coconut.fs.basename(coconut.fs.dirname(parent)), coconut.fs.basename(parent) .. "/" .. name
        if parent_run and parent_run.seeds_root then run.seed_of = parent_run.dir end
      end
      runs[#runs + 1] = run
    end
    if level >= depth then return end
    local entries = {}
    for i, e in ipairs(coconut.fs.listdir(d) or {}) do entries[i] = e end
    table.sort(entries)
    for _, e in ipairs(entries) do
      local sub = join(d, e)
      if not SKIP[e] and coconut.fs.isdir(sub) and not (is_run and coconut.fs.exists(join(sub, "eval.csv"))) then
        visit(sub, level + 1, run or parent_run)
      end
    end
  end
  visit(dir, 0, nil)
  return runs
end

-- Dataset of an experiment name (Table 1's column groups).
function PF.dataset(experiment)
  local e = experiment:lower()
  if e:find("prontoqa", 1, true) then return "ProntoQA" end
  if e:find("prosqa", 1, true) then return "ProsQA" end
  if e:find("gsm", 1, true) then return "GSM8k" end
  return experiment
end

-- The paper's Table 1 (paper.md §1): {acc, std, tokens} per dataset and method.
PF.PAPER_TABLE1 = {
  GSM8k = {cot = {42.9, 0.2, 25.0}, nocot = {16.5, 0.5, 2.2}, icot = {30.0, nil, 2.2}, pause = {16.4, 1.8, 2.2},
           coconut = {34.1, 1.5, 8.2}, coconut_nocur = {14.4, 0.8, 8.2}, coconut_nothought = {21.6, 0.5, 2.3},
           coconut_pausethought = {24.1, 0.7, 2.2}},
  ProntoQA = {cot = {98.8, 0.8, 92.5}, nocot = {93.8, 0.7, 3.0}, icot = {99.8, 0.3, 3.0}, pause = {77.7, 21.0, 3.0},
              coconut = {99.8, 0.2, 9.0}, coconut_nocur = {52.4, 0.4, 9.0}, coconut_nothought = {99.9, 0.1, 3.0},
              coconut_pausethought = {100.0, 0.1, 3.0}},
  ProsQA = {cot = {77.5, 1.9, 49.4}, nocot = {76.7, 1.0, 8.2}, icot = {98.2, 0.3, 8.2}, pause = {75.9, 0.7, 8.2},
            coconut = {97.0, 0.3, 14.2}, coconut_nocur = {76.1, 0.2, 14.2}, coconut_nothought = {95.5, 1.1, 8.2},
            coconut_pausethought = {96.6, 0.8, 8.2}},
}
PF.PAPER_ORDER = {"cot", "nocot", "icot", "pause", "coconut", "coconut_nocur", "coconut_nothought", "coconut_pausethought"}

-- One accuracy entry per method of a run: {method, accuracy, std, seeds, tokens}
-- (test accuracy, else validation; a --seeds aggregate gives mean and std).
function PF.run_results(run)
  local rows, cols = read_csv(join(run.dir, "results.csv"))
  local out = {}
  local metric = "test_accuracy"
  local has_test = false
  for _, r in ipairs(rows) do if tonumber(r.test_accuracy) then has_test = true end end
  if not has_test then metric = "valid_accuracy" end
  if cols[1] == "seed" then
    local std, n = {}, {}
    for _, r in ipairs(rows) do
      if r.seed == "std" then std[r.method] = tonumber(r[metric]) end
      if r.seed ~= "mean" and r.seed ~= "std" and tonumber(r[metric]) then n[r.method] = (n[r.method] or 0) + 1 end
    end
    for _, r in ipairs(rows) do
      if r.seed == "mean" and tonumber(r[metric]) then
        out[#out + 1] = {method = r.method, accuracy = tonumber(r[metric]), std = std[r.method], seeds = n[r.method] or 1,
                         tokens = tonumber(r.test_tokens), metric = metric}
      end
    end
  else
    for _, r in ipairs(rows) do
      if tonumber(r[metric]) then
        out[#out + 1] = {method = r.method, accuracy = tonumber(r[metric]), seeds = 1, tokens = tonumber(r.test_tokens),
                         metric = metric}
      end
    end
  end
  return out
end

-- A method's base method and c (thoughts per step) from its config.json (a
-- variant's own options over the run's), nil when unknown.
local function method_c(run, method)
  local dir = run.dir
  if run.seeds_root then
    for _, e in ipairs(coconut.fs.listdir(dir) or {}) do
      if e:match("^seed%d+$") and coconut.fs.exists(join(dir, e .. "/" .. method .. "/config.json")) then
        dir = join(dir, e); break
      end
    end
  end
  local path = join(dir, method .. "/config.json")
  if not coconut.fs.exists(path) then return nil end
  local c = coconut.json.read(path)
  if not c then return nil end
  local base = c.variant and c.variant.method or method
  local ct = c.variant and c.variant.options and c.variant.options.c_thought or c.c_thought
  return base, tonumber(ct)
end

-- Fig 3: accuracy of the coconut runs (method coconut or a variant of it)
-- against c, per experiment, when an experiment has at least two values of c.
-- Seed-level runs inside a --seeds aggregate are left to the aggregate.
function PF.accuracy_vs_c(out, runs)
  local series, order = {}, {}
  for _, run in ipairs(runs) do
    if not run.seed_of then
      for _, r in ipairs(PF.run_results(run)) do
        local base, c = method_c(run, r.method)
        if base == "coconut" and c then
          local s = series[run.experiment]
          if not s then s = {points = {}, cs = {}}; series[run.experiment] = s; order[#order + 1] = run.experiment end
          s.cs[c] = true
          table.insert(s.points, {c = c, accuracy = 100 * r.accuracy, std = r.std and 100 * r.std or 0, seeds = r.seeds,
                                  name = run.experiment})
        end
      end
    end
  end
  local rows, names = {}, {}
  for _, e in ipairs(order) do
    local s, n = series[e], 0
    for _ in pairs(s.cs) do n = n + 1 end
    if n >= 2 then
      names[#names + 1] = e
      table.sort(s.points, function(a, b) return a.c < b.c end)
      for _, p in ipairs(s.points) do
        rows[#rows + 1] = {series = #names, name = e, c = p.c, accuracy = p.accuracy, std = p.std, seeds = p.seeds}
      end
    end
  end
  if #rows == 0 then return nil end
  assert(coconut.fs.mkdir(join(out, "figures")))
  write_csv(join(out, "figures/fig3_accuracy_vs_c.csv"), {"series", "name", "c", "accuracy", "std", "seeds"}, rows)
  local body = string.format([[
set title "accuracy vs continuous thoughts per reasoning step (Fig 3)"
set xlabel "# thoughts per step (c)"
set ylabel "accuracy (%%)"
set xtics 1
set offsets 0.3, 0.3, 2, 2
set key bottom right inside
NAMES = "%s"
plot for [i=1:words(NAMES)] "figures/fig3_accuracy_vs_c.csv" using (column("series")==i ? column("c") : NaN):"accuracy":"std" with yerrorlines lw 2 pt 7 ps 1.3 title word(NAMES, i)
]], table.concat(names, " "))
  return F.render(out, "fig3_accuracy_vs_c", body, "Fig 3: accuracy vs c", {font = "sans,11"})
end

-- Table 1 from every run's results (aggregates rather than their seeds):
-- figures/table1.csv (one row per run and method) and figures/table1.md (per
-- dataset: the paper's column, then one column pair per run).
function PF.table1(out, runs)
  local rows, by_ds, ds_order = {}, {}, {}
  for _, run in ipairs(runs) do
    if not run.seed_of then
      local ds = PF.dataset(run.experiment)
      local label = run.experiment .. "/" .. run.run
      local entries = PF.run_results(run)
      if #entries > 0 then
        if not by_ds[ds] then by_ds[ds] = {runs = {}, methods = {}, seen = {}}; ds_order[#ds_order + 1] = ds end
        local d = by_ds[ds]
        local cells = {}
        for _, e in ipairs(entries) do
          rows[#rows + 1] = {dataset = ds, experiment = run.experiment, run = run.run, method = e.method,
                             accuracy = e.accuracy, accuracy_std = e.std or "", seeds = e.seeds, tokens = e.tokens or "",
                             metric = e.metric}
          cells[e.method] = e
          if not d.seen[e.method] then d.seen[e.method] = true; d.methods[#d.methods + 1] = e.method end
        end
        d.runs[#d.runs + 1] = {label = label, cells = cells}
      end
    end
  end
  if #rows == 0 then return nil end
  assert(coconut.fs.mkdir(join(out, "figures")))
  write_csv(join(out, "figures/table1.csv"), {"dataset", "experiment", "run", "method", "accuracy", "accuracy_std", "seeds",
                                              "tokens", "metric"}, rows)
  local L = {"# Table 1 (reproduction)", "",
             "Accuracy (%) of each method's best checkpoint: test accuracy (validation where a run has no test " ..
             "score), mean ± sample std over seeds for a --seeds run. # Tokens: new tokens + continuous thoughts per " ..
             "test question (the paper's count). The paper's column is its Table 1 (paper.md §1).", ""}
  local function fmt(acc, std, tok)
    if not acc then return "-", "-" end
    local a = string.format("%.1f", acc)
    if std then a = a .. string.format(" ±%.1f", std) end
    return a, tok and string.format("%.1f", tok) or "-"
  end
  for _, ds in ipairs(ds_order) do
    local d = by_ds[ds]
    local paper = PF.PAPER_TABLE1[ds]
    local methods, seen = {}, {}
    for _, m in ipairs(PF.PAPER_ORDER) do
      if d.seen[m] then methods[#methods + 1] = m; seen[m] = true end
    end
    for _, m in ipairs(d.methods) do if not seen[m] then methods[#methods + 1] = m end end
    L[#L + 1] = "## " .. ds
    L[#L + 1] = ""
    local head, rule = {"Method"}, {"---"}
    if paper then
      head[#head + 1] = "paper Acc. (%)"; head[#head + 1] = "paper # Tokens"; rule[#rule + 1] = "---"; rule[#rule + 1] = "---"
    end
    for _, r in ipairs(d.runs) do
      head[#head + 1] = r.label .. " Acc. (%)"; head[#head + 1] = "# Tokens"
      rule[#rule + 1] = "---"; rule[#rule + 1] = "---"
    end
    L[#L + 1] = "| " .. table.concat(head, " | ") .. " |"
    L[#L + 1] = "|" .. table.concat(rule, "|") .. "|"
    for _, m in ipairs(methods) do
      local cells = {PF.method_name(m)}
      if paper then
        local p = paper[m]
        local a, t = fmt(p and p[1], p and p[2], p and p[3])
        cells[#cells + 1] = a; cells[#cells + 1] = t
      end
      for _, r in ipairs(d.runs) do
        local e = r.cells[m]
        local a, t = fmt(e and 100 * e.accuracy, e and e.std and 100 * e.std, e and e.tokens)
        if e and e.metric == "valid_accuracy" then a = a .. " (valid)" end
        cells[#cells + 1] = a; cells[#cells + 1] = t
      end
      L[#L + 1] = "| " .. table.concat(cells, " | ") .. " |"
    end
    L[#L + 1] = ""
  end
  local md = table.concat(L, "\n")
  assert(coconut.fs.write(join(out, "figures/table1.md"), md))
  return join(out, "figures/table1.md"), join(out, "figures/table1.csv")
end

return PF
