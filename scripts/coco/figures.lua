-- coco.figures — gnuplot figures as pure functions of the run's CSV files.
--
-- Each figure is a .gp script kept in <dir>/figures/ and rendered to .png and
-- .svg with the working directory at <dir>, so
--     cd <dir> && gnuplot -c figures/accuracy.gp figures/accuracy.png figures/accuracy.svg
-- re-renders it from the CSVs alone (no retraining). Terminals: pngcairo when
-- this gnuplot has it, else png (libgd); svg is built in.
local F = {}

-- A figure's size ("w,h" pixels) and font default to 900,520 and "sans,10";
-- render's opts may change them.
local HEADER = [[
# %s
# Rendered by coconut from CSV files; re-render with:
#   gnuplot -c %s <out.png> <out.svg>      (working directory: the run directory)
]]

local SETUP = [[
set datafile separator comma
set datafile missing "nan"
set key outside right top
set grid
]]

local PNG = [[if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo noenhanced size %s font "%s" } else { set terminal png noenhanced size %s }
set output ARG1
]]

local SVG = [[set terminal svg noenhanced size %s dynamic font "%s"
set output ARG2
]]

-- render(dir, name, body, title [, opts]): writes <dir>/figures/<name>.gp and
-- renders .png and .svg. opts: size ("900,520"), font ("sans,10"), panels
-- (true for a body that draws several plots, e.g. `set multiplot`: the body is
-- run once per terminal, after a `reset`, instead of `replot` for the svg).
local function render(dir, name, body, title, opts)
  opts = opts or {}
  local size, font = opts.size or "900,520", opts.font or "sans,10"
  coconut.check(coconut.fs.mkdir(dir .. "/figures")) -- a failed write (disk full) is the user's to fix: no traceback
  local gp = "figures/" .. name .. ".gp"
  local text
  if opts.panels then
    text = string.format(HEADER, title, gp) .. string.format(PNG, size, font, size) .. SETUP .. body
      .. "unset output\nreset\n" .. string.format(SVG, size, font) .. SETUP .. body .. "unset output\n"
  else
    text = string.format(HEADER, title, gp) .. SETUP .. string.format(PNG, size, font, size) .. body
      .. string.format(SVG, size, font) .. "replot\nunset output\n"
  end
  coconut.check(coconut.fs.write(dir .. "/" .. gp, text))
  -- Render to temp names and rename, so a failed render leaves no half image.
  local png, svg = "figures/" .. name .. ".png", "figures/" .. name .. ".svg"
  local ok, err = pcall(coconut.plot, dir .. "/" .. gp, {png .. ".tmp", svg .. ".tmp"}, dir)
  if not ok then
    -- gnuplot failed (e.g. a full disk): no half image is left, and the
    -- message (gnuplot's own) is reported as the user's problem
    coconut.fs.remove(dir .. "/" .. png .. ".tmp")
    coconut.fs.remove(dir .. "/" .. svg .. ".tmp")
    coconut.user_error(string.format("%s: the figure cannot be rendered: %s", dir .. "/" .. gp,
      (tostring(err):gsub("^[^\n]-%.lua:%d+: ", ""))))
  end
  coconut.check(os.rename(dir .. "/" .. png .. ".tmp", dir .. "/" .. png))
  coconut.check(os.rename(dir .. "/" .. svg .. ".tmp", dir .. "/" .. svg))
  return dir .. "/" .. png, dir .. "/" .. svg
end
F.render = render

-- Stage boundaries: the stage is drawn as a step line on the right axis, read
-- from the same CSV, so boundaries stay a function of the data.
local STAGE = [[, "summary.csv" using "epoch":(strcol("split") eq "valid" ? column("stage") : NaN) axes x1y2 with fsteps lw 1 dt 2 lc rgb "#888888" title "stage"]]

-- Accuracy axes (0..1) with the stage on the right axis (y2), for per-epoch accuracy figures.
local ACC_AXES = [[
set xlabel "epoch"
set ylabel "accuracy"
stats "summary.csv" using "stage" nooutput
set y2range [-0.5:STATS_max + 0.5]
set yrange [0:1]
set y2label "stage"
set y2tics 1
set ytics nomirror
]]

-- Per-method figures: training loss and validation accuracy per epoch.
function F.method(dir, title)
  local out = {}
  local loss = [[
set title "]] .. title .. [[: training loss"
set xlabel "epoch"
set ylabel "loss"
set y2label "stage"
set y2tics 1
set ytics nomirror
stats "summary.csv" using "stage" nooutput
set y2range [-0.5:STATS_max + 0.5]
plot "metrics.csv" using (column("epoch") - 1 + column("epoch_progress")):"loss" with lines lw 1 lc rgb "#a6c8e8" title "loss (per step)", \
     "summary.csv" using "epoch":(strcol("split") eq "valid" ? column("train_loss") : NaN) with linespoints lw 2 pt 7 lc rgb "#1f5fa6" title "mean loss (per epoch)"]] .. STAGE .. "\n"
  out[#out + 1] = {render(dir, "loss", loss, title .. " training loss")}
  local acc = [[
set title "]] .. title .. [[: validation accuracy"
]] .. ACC_AXES .. [[
plot "summary.csv" using "epoch":(strcol("split") eq "valid" ? column("accuracy") : NaN) with linespoints lw 2 pt 7 lc rgb "#c0392b" title "valid accuracy"]] .. STAGE .. "\n"
  out[#out + 1] = {render(dir, "accuracy", acc, title .. " validation accuracy")}
  -- stage-matched accuracy (--stage_probe): one line per thought count k; the
  -- stage-matched value is the k = stage line while that stage trains
  local rows = coconut.fs.exists(dir .. "/stage_accuracy.csv") and coconut.csv.read(dir .. "/stage_accuracy.csv")
  if rows and #rows > 0 then
    -- K: the largest thought count probed (fixed for a run; the .gp keeps it)
    local K = 0
    for _, r in ipairs(rows) do K = math.max(K, tonumber(r.k) or 0) end
    local st = [[
set title "]] .. title .. [[: argmax after k thoughts in the frontier at depth k+1 (solid: shortest-path, dashed: BFS)"
]] .. ACC_AXES .. [[
K = ]] .. K .. [[

# rows are (epoch, k = 0..K) in order, so every K+1-th row from row k is one line
plot for [k=0:K] "stage_accuracy.csv" every K+1::k using "epoch":"frontier_acc" with linespoints lw 2 pt 7 lc k+1 title sprintf("k=%d", k), \
     for [k=0:K] "stage_accuracy.csv" every K+1::k using "epoch":"bfs_acc" with lines lw 1 dt 2 lc k+1 notitle]] .. STAGE .. "\n"
    out[#out + 1] = {render(dir, "stage_accuracy", st, title .. " stage-matched accuracy")}
  end
  return out
end

-- Accuracy per epoch of several methods (each in <root>/<method>/summary.csv).
function F.compare(root, methods, title)
  local parts = {}
  -- one colour per method of the paper's Table 1 (8 rows)
  local colors = {"#c0392b", "#1f5fa6", "#27ae60", "#8e44ad", "#d35400", "#2c3e50", "#16a085", "#b7950b"}
  for i, m in ipairs(methods) do
    parts[#parts + 1] = string.format([["%s/summary.csv" using "epoch":(strcol("split") eq "valid" ? column("accuracy") : NaN) with linespoints lw 2 pt 7 lc rgb "%s" title "%s"]],
      m, colors[(i - 1) % #colors + 1], m)
  end
  local body = [[
set title "]] .. title .. [[: validation accuracy by method"
set xlabel "epoch"
set ylabel "accuracy"
set yrange [0:1]
plot ]] .. table.concat(parts, ", \\\n     ") .. "\n"
  return render(root, "compare_accuracy", body, title .. " accuracy by method")
end

-- Accuracy over seeds, from the aggregate <root>/results.csv of a --seeds run
-- (coco.seeds): a bar per method at the "mean" row's value, a ± std error bar
-- from the "std" row (which directly follows it; an empty std, i.e. a single
-- seed, draws a zero-length bar), the value as a label above the error bar
-- and the highest seed point, and one point per seed row. column:
-- "test_accuracy" (default) or another accuracy column. Methods are placed by
-- name, so per-seed rows may come in any order. Error bars are plain gnuplot
-- (`with vectors heads`): coconut.plot runs any gnuplot script.
function F.compare_seeds(root, methods, title, column)
  column = column or "test_accuracy"
  -- the highest seed point of each method, so its label clears the points too
  local tops = {}
  local rows = coconut.csv.read(root .. "/results.csv") or {}
  for i, m in ipairs(methods) do
    local top = 0
    for _, r in ipairs(rows) do
      local v = tonumber(r[column])
      if r.method == m and r.seed ~= "mean" and r.seed ~= "std" and v and v > top then top = v end
    end
    tops[i] = string.format("%.6g", top)
  end
  local body = string.format([[
set title "%s: %s over seeds (bar: mean, error bar: sample std)"
set ylabel "%s"
set yrange [0:1.05]
M = "%s"
TOP = "%s"
idx(m) = sum [i=1:words(M)] (word(M, i) eq m ? i : 0)
top(m) = (idx(m) > 0 ? real(word(TOP, idx(m))) : 0)
hi(a, b) = (a > b ? a : b)
set xrange [0.4:words(M) + 0.6]
set xtics ()
do for [i=1:words(M)] { set xtics add (word(M, i) i) }
if (words(M) > 4) { set xtics rotate by -25 }
set grid noxtics ytics
set boxwidth 0.6
set style fill solid 0.35 border
isseed(s) = (s ne "mean" && s ne "std")
sd(x) = (x == x) ? x : 0
mu = NaN
m2 = NaN
plot "results.csv" using (strcol("seed") eq "mean" ? idx(strcol("method")) : NaN):"%s" with boxes lc rgb "#1f5fa6" title "mean", \
     "results.csv" using (strcol("seed") eq "mean" ? (mu = column("%s"), NaN) : (strcol("seed") eq "std" ? idx(strcol("method")) : NaN)):(mu - sd(column("%s"))):(0):(2 * sd(column("%s"))) with vectors heads size screen 0.008,90 lw 2 lc rgb "#222222" title "± std", \
     "results.csv" using (isseed(strcol("seed")) ? idx(strcol("method")) : NaN):"%s" with points pt 7 ps 1.2 lc rgb "#c0392b" title "one seed", \
     "results.csv" using (strcol("seed") eq "mean" ? (m2 = column("%s"), NaN) : (strcol("seed") eq "std" ? idx(strcol("method")) : NaN)):(hi(m2 + sd(column("%s")), top(strcol("method"))) + 0.035):(sprintf("%%.3f ± %%.3f", m2, sd(column("%s")))) with labels center font ",8" notitle
]], title, column, column, table.concat(methods, " "), table.concat(tops, " "), column, column, column, column, column, column,
    column, column)
  return render(root, "compare_seeds", body, title .. " " .. column .. " over seeds")
end

-- Accuracy against mean thoughts per question of the <eot> policies (issue
-- 16), from <dir>/eot_policies.csv (experiments/eot_classifier.lua): the fixed
-- policies k = 0..K as a curve (each point labelled k), the learned policy as
-- points (labelled with their thresholds), and the curriculum's planned count
-- (the run's own evaluation) as one more point when the file has it.
function F.eot_tradeoff(dir, title)
  local body = [[
set title "]] .. title .. [[: accuracy vs mean thoughts per question (test)"
set xlabel "mean continuous thoughts per question"
set ylabel "accuracy"
set yrange [-0.05:1.08]
set offsets 0.3, 0.6, 0, 0
fixed(c) = strcol("policy") eq "fixed" ? column(c) : NaN
learned(c) = strcol("policy") eq "learned" ? column(c) : NaN
plan(c) = strcol("policy") eq "plan" ? column(c) : NaN
plot "eot_policies.csv" using (fixed("thoughts")):(fixed("accuracy")) with linespoints lw 2 pt 7 lc rgb "#1f5fa6" title "fixed k", \
     "eot_policies.csv" using (fixed("thoughts")):(fixed("accuracy")):("k=".strcol("k")) with labels offset char 0,0.9 font ",8" tc rgb "#1f5fa6" notitle, \
     "eot_policies.csv" using (learned("thoughts")):(learned("accuracy")) with points pt 9 ps 1.6 lc rgb "#c0392b" title "learned (threshold)", \
     "eot_policies.csv" using (learned("thoughts")):(learned("accuracy")):(strcol("threshold")) with labels offset char 1.3,-0.7 font ",8" tc rgb "#c0392b" notitle, \
     "eot_policies.csv" using (plan("thoughts")):(plan("accuracy")) with points pt 5 ps 1.4 lc rgb "#27ae60" title "planned count (curriculum)"
]]
  return render(dir, "eot_tradeoff", body, title .. " <eot> policies: accuracy vs thoughts")
end

return F
