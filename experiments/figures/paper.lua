-- experiments/figures/paper.lua — the paper's figures and Table 1, re-drawn from
-- the CSV files under a results directory (no model is loaded):
--
--   coconut run experiments/figures/paper.lua <dir> [--example N]
--   make figures RUN=<dir>
--
-- <dir> is a run (results/prosqa_analysis/cpu), an experiment
-- (results/prosqa_k6) or the whole results tree. For every run under it
-- (a directory with results.csv; coco.paper_figures.find_runs):
--   an analysis run (methods with analysis_k.csv, experiments/prosqa_analysis.lua):
--     <run>/figures/fig4_decode      thoughts decoded with softmax(W h): one example's top-k tokens, and the
--                                    mean top-k mass per thought on nodes at the thought's depth / other nodes / other
--     <run>/figures/fig5_analysis    accuracy per k with the CoT / No-CoT references; path categories per k
--     <run>/figures/fig7_search_tree frontier values at depth 1 and 2 of one test example (--example N picks it)
--     <run>/figures/fig8_parallelism cumulative top-1/2/3 frontier values vs percentile, first and second thought
--     <run>/figures/fig9_height      frontier value vs node height, split by reaching the target
-- and over all runs, in <dir>/figures/:
--     fig3_accuracy_vs_c             where an experiment has Coconut runs with several c
--     table1.csv, table1.md          Table 1 from every run's results.csv, next to the paper's numbers
-- Each figure: .png, .svg and the .gp that renders them (coco.figures).
local PF = require "coco.paper_figures"

local usage = "usage: coconut run experiments/figures/paper.lua <results directory> [--example N]"
local dir, example
local i = 1
while arg[i] do
  local a = arg[i]
  if a == "--example" then
    example = math.tointeger(tonumber(arg[i + 1] or ""))
    if not example or example < 0 then error("--example needs a test example index (an integer >= 0); " .. usage, 0) end
    i = i + 2
  elseif a == "--help" or a == "-h" then
    print(usage)
    os.exit(0)
  elseif a:sub(1, 2) == "--" then
    error("unknown option " .. a .. "; " .. usage, 0)
  elseif dir then
    error("unexpected argument '" .. a .. "'; " .. usage, 0)
  else
    dir, i = a, i + 1
  end
end
if not dir then error(usage, 0) end
dir = dir:gsub("/+$", "")
if not coconut.fs.isdir(dir) then error(dir .. ": no such directory", 0) end

local runs = PF.find_runs(dir)
if #runs == 0 then error(dir .. ": no run under it (no results.csv); run an experiment first", 0) end
local n_fig = 0
for _, run in ipairs(runs) do
  local pngs = PF.analysis(run.dir, {title = run.experiment .. "/" .. run.run, example = example})
  for _, p in ipairs(pngs) do print(p); n_fig = n_fig + 1 end
end
local fig3 = PF.accuracy_vs_c(dir, runs)
if fig3 then print(fig3); n_fig = n_fig + 1 end
local md, csv = PF.table1(dir, runs)
if md then
  print(csv)
  print(md)
  print("")
  print(coconut.fs.read(md))
end
print(string.format("%d run(s), %d figure(s)%s", #runs, n_fig, md and ", Table 1" or ""))
