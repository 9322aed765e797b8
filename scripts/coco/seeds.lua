-- coco.seeds — one experiment over several seeds, and the numbers that make
-- seeds comparable (mean ± std, new tokens per question).
--
--   coconut run experiments/prosqa_k6.lua --preset small --seeds 0,1,2
--
-- `--seeds` (an option coco.experiment adds to every experiment's spec) runs the
-- single-seed path once per seed, with --seed N, into <root>/seed<N>/: each seed
-- directory is exactly what `--seed N --run <run>/seed<N>` would produce (its
-- config.json included), so --resume / --overwrite act per seed as they do on a
-- single run (with --resume a finished seed trains nothing and is reused). Then:
--   <root>/results.csv   seed,<the per-seed results.csv columns>: one row per
--                        (seed, method), seeds in the order given, methods in
--                        the run's order; then per method a row with seed =
--                        "mean" and one with seed = "std" (sample standard
--                        deviation, n - 1) for every numeric column. A column
--                        with numbers from fewer than two seeds (e.g. a single
--                        seed) has an empty std: the sample std is undefined.
--                        Written atomically (temp file + rename). With
--                        --resume, seeds of the run that this invocation does
--                        not name stay in it (their seed<N>/results.csv), and
--                        each seed keeps the methods it ran earlier (a run
--                        grows: --method icot --seeds 0,1,2, then --method
--                        pause --seeds 0 ...); a method's mean and std cover
--                        the seeds that have it (table.md: n seeds).
--   <root>/table.md      the paper's Table 1 columns per evaluated split (test,
--                        then every --extra_eval set): accuracy (%) mean ± std,
--                        # tokens per question as the paper counts them (new
--                        tokens + thoughts), its two parts, the number of seeds
--                        and the per-seed accuracies; methods in the run's order.
--   <root>/figures/compare_seeds.{gp,png,svg}
--                        a bar per method (mean test accuracy) with a ± std
--                        error bar and one point per seed, read from results.csv.
-- Without --seeds nothing here runs and a run is as before.
local O = require "coco.options"
local P = require "coco.progress"
local F = require "coco.figures"
local RL = require "coco.runlock"
local D = require "coco.dist"

local S = {}

S.OPTION = {"seeds", "string", "",
            "run every method once per seed, e.g. 0,1,2: seed N goes to <run>/seed<N>/ (as --seed N --run <run>/seed<N>), " ..
            "then mean ± std in <run>/results.csv and table.md (empty: one run with --seed)"}

-- Appends the `seeds` option to an option spec (coco.options) unless the
-- spec already declares one. Returns the spec.
function S.add_option(spec)
  if not spec.by.seeds then
    spec.by.seeds = O.spec{S.OPTION}.by.seeds
    spec.order[#spec.order + 1] = "seeds"
  end
  return spec
end

-- "0,1,2" -> {0, 1, 2}; "" (or only spaces) -> nil (no seed list: use --seed).
-- Raises an error naming the option for an item that is not an integer, an
-- empty item or a repeated seed.
function S.parse(text)
  if text == nil or tostring(text):match("^%s*$") then return nil end
  text = tostring(text)
  local seeds, seen = {}, {}
  for item in (text .. ","):gmatch("([^,]*),") do
    local t = item:match("^%s*(.-)%s*$")
    local n = math.tointeger(tonumber(t))
    if not n then
      coconut.user_error(string.format("option 'seeds': '%s' is not an integer seed (expected a comma-separated list such as 0,1,2; got '%s')",
        t, text))
    end
    if seen[n] then coconut.user_error(string.format("option 'seeds': seed %d is listed twice in '%s'", n, text)) end
    seen[n] = true
    seeds[#seeds + 1] = n
  end
  return seeds
end

-- Mean `new_tokens` and `thoughts` per split of an eval.csv (coco.run's
-- per-example table), and their sum `tokens`, the paper's "# tokens" (a
-- thought counts as one token; markers and pauses are in neither column):
-- {[split] = {new_tokens =, thoughts =, tokens =, n =}}; a split
-- without rows is absent. Raises when the file is unreadable or a row of it
-- has no numbers there.
function S.eval_means(path)
  local rows, err = coconut.csv.read(path)
  if not rows then coconut.user_error(err) end
  local sums = {}
  for i, r in ipairs(rows) do
    local a, b = tonumber(r.new_tokens), tonumber(r.thoughts)
    if not a or not b then
      coconut.user_error(string.format("%s: data row %d (split '%s') has new_tokens '%s', thoughts '%s'", path, i, tostring(r.split),
        tostring(r.new_tokens), tostring(r.thoughts)))
    end
    local s = sums[r.split]
    if not s then s = {tok = 0, th = 0, n = 0}; sums[r.split] = s end
    s.tok, s.th, s.n = s.tok + a, s.th + b, s.n + 1
  end
  local out = {}
  for split, s in pairs(sums) do
    out[split] = {new_tokens = s.tok / s.n, thoughts = s.th / s.n, tokens = (s.tok + s.th) / s.n, n = s.n}
  end
  return out
end

-- Mean and sample standard deviation (n - 1) of a list of numbers; the mean is
-- nil for an empty list, the std nil for fewer than two values.
function S.mean_std(xs)
  local n = #xs
  if n == 0 then return nil, nil end
  local s = 0
  for _, x in ipairs(xs) do s = s + x end
  local mean = s / n
  if n < 2 then return mean, nil end
  local ss = 0
  for _, x in ipairs(xs) do ss = ss + (x - mean) ^ 2 end
  return mean, math.sqrt(ss / (n - 1))
end

-- per_seed: list of {seed = N, rows = <results.csv rows>, cols = <its columns>}
-- in seed order (each rows list: one row per method, values as read from the
-- CSV). Returns cols, rows of the aggregate table: "seed" then the per-seed
-- columns (the union, first seen first); the per-seed rows (seed-major); then
-- per method (in order of first appearance) a "mean" and a "std" row. Mean/std
-- cover every column but seed and method over the seeds whose value is a
-- number; a column with no number stays empty, as does std with < 2 numbers.
function S.aggregate(per_seed)
  local cols, has = {"seed"}, {seed = true}
  for _, p in ipairs(per_seed) do
    for _, c in ipairs(p.cols) do
      if not has[c] then has[c] = true; cols[#cols + 1] = c end
    end
  end
  local rows, methods, values = {}, {}, {}
  for _, p in ipairs(per_seed) do
    for _, r in ipairs(p.rows) do
      local row = {seed = tostring(p.seed)}
      for k, v in pairs(r) do row[k] = v end
      rows[#rows + 1] = row
      local m = r.method
      if not values[m] then values[m] = {}; methods[#methods + 1] = m end
      for _, c in ipairs(cols) do
        local x = tonumber(r[c])
        if c ~= "seed" and c ~= "method" and x and x == x then
          values[m][c] = values[m][c] or {}
          table.insert(values[m][c], x)
        end
      end
    end
  end
  for _, m in ipairs(methods) do
    local mean_row, std_row = {seed = "mean", method = m}, {seed = "std", method = m}
    for _, c in ipairs(cols) do
      if c ~= "seed" and c ~= "method" then
        local mean, std = S.mean_std(values[m][c] or {})
        mean_row[c], std_row[c] = mean or "", std or ""
      end
    end
    rows[#rows + 1] = mean_row
    rows[#rows + 1] = std_row
  end
  return cols, rows, methods
end

-- Writes cols/rows to path atomically (coconut.csv.open without append writes
-- a temp file and renames it into place on close).
function S.write_csv(path, cols, rows)
  local w = coconut.check(coconut.csv.open(path, cols))
  for _, r in ipairs(rows) do w:row(r) end
  coconut.check(w:close())
end

-- "79.2 ± 11.0" (fractions in, percent out); "79.2 ± n/a" without a std.
local function pct(mean, std)
  if mean == nil then return "-" end
  return string.format("%.1f ± %s", 100 * mean, std and string.format("%.1f", 100 * std) or "n/a")
end
S.format_pct = pct

-- Splits of the aggregate: "test" (when any row has test_accuracy) then every
-- extra set, i.e. every other <name>_accuracy column but valid.
local function splits(cols)
  local out, extra = {}, {}
  for _, c in ipairs(cols) do
    local name = c:match("^(.+)_accuracy$")
    if name == "test" then table.insert(out, 1, name)
    elseif name and name ~= "valid" then extra[#extra + 1] = name end
  end
  for _, n in ipairs(extra) do out[#out + 1] = n end
  return out
end

-- The markdown table (a string) of an aggregate (cols, rows from S.aggregate).
-- title: a heading line.
function S.table_md(cols, rows, title)
  local mean, std, per, methods = {}, {}, {}, {}
  for _, r in ipairs(rows) do
    if r.seed == "mean" then mean[r.method] = r; methods[#methods + 1] = r.method
    elseif r.seed == "std" then std[r.method] = r
    else per[r.method] = per[r.method] or {}; table.insert(per[r.method], r) end
  end
  local has = {}
  for _, c in ipairs(cols) do has[c] = true end
  local L = {"# " .. title, "",
             "Accuracy of each method's best checkpoint (by validation accuracy): mean ± sample standard deviation " ..
             "over seeds (n - 1; n/a with one seed). # new tokens: tokens generated per question after the prompt " ..
             "and its continuous thoughts (eos, markers and pauses excluded), mean over the questions, then over the " ..
             "seeds; # thoughts: continuous thoughts per question; # tokens: their sum, the paper's count (a thought " ..
             "is one token, markers and pauses are none).", ""}
  for _, split in ipairs(splits(cols)) do
    local acc, ntok, nth, tot = split .. "_accuracy", split .. "_new_tokens", split .. "_thoughts", split .. "_tokens"
    L[#L + 1] = "## " .. split
    L[#L + 1] = ""
    L[#L + 1] = "| Method | Accuracy (%) mean ± std | # tokens (mean) | # new tokens (mean) | # thoughts (mean) | n seeds | Accuracy per seed (%) |"
    L[#L + 1] = "|---|---|---|---|---|---|---|"
    for _, m in ipairs(methods) do
      local seeds, n = {}, 0
      for _, r in ipairs(per[m] or {}) do
        local x = tonumber(r[acc])
        if x then n = n + 1; seeds[#seeds + 1] = string.format("%s: %.1f", r.seed, 100 * x) end
      end
      local function num(col)
        local x = has[col] and tonumber(mean[m][col])
        return x and string.format("%.1f", x) or "-"
      end
      -- # tokens: the column when the run wrote it, else the sum of its parts (older results.csv)
      local total = num(tot)
      if total == "-" and num(ntok) ~= "-" and num(nth) ~= "-" then
        total = string.format("%.1f", tonumber(mean[m][ntok]) + tonumber(mean[m][nth]))
      end
      L[#L + 1] = string.format("| %s | %s | %s | %s | %s | %d | %s |", m, pct(tonumber(mean[m][acc]), tonumber(std[m] and std[m][acc])),
        total, num(ntok), num(nth), n, #seeds > 0 and table.concat(seeds, ", ") or "-")
    end
    L[#L + 1] = ""
  end
  return table.concat(L, "\n")
end

-- The multi-seed run: opts o (parsed), root <results>/<name>/<run>, run (the
-- run's name), seeds (S.parse), run_one(o, cfg, root, on_data) the single-seed
-- path, which calls on_data() after loading its data, before it writes anything.
-- Returns the aggregate's cols, rows.
function S.run(a)
  local cfg, o, root, seeds = a.cfg, a.opts, a.root, a.seeds
  local t_all = coconut.time()
  if D.root and coconut.fs.exists(root .. "/results.csv") and not o.resume and not o.overwrite then
    coconut.user_error(string.format("%s already holds a finished run; pass --resume to continue it, --overwrite to replace it, or --run NAME",
      root))
  end
  -- root and its config.json are written once the first seed's data have
  -- loaded (run_one calls back), so bad data leave no run directory behind
  local started = false
  local function start()
    if started or not D.root then return end -- files are rank 0's (coco.dist)
    started = true
    coconut.check(coconut.fs.mkdir(root))
    RL.lock(root) -- one --seeds run per run directory (each seed's run locks its own too)
    coconut.check(coconut.json.write(root .. "/config.json", O.resolved(cfg.spec, o)))
  end
  local list = {}
  for i, s in ipairs(seeds) do list[i] = tostring(s) end
  local per = {}
  for i, seed in ipairs(seeds) do
    -- the options of `--seed N --run <run>/seed<N>` (without --seeds)
    local so = {}
    for k, v in pairs(o) do so[k] = v end
    so.seed, so.seeds, so.run = seed, "", a.run .. "/seed" .. seed
    local sroot = root .. "/seed" .. seed
    P.log("[%s] seed %d (%d of %d: %s) in %s", cfg.name, seed, i, #seeds, table.concat(list, ","), sroot)
    a.run_one(so, cfg, sroot, start)
    if D.root then -- the other ranks only train and evaluate (coco.dist)
      local rows, cols = coconut.csv.read(sroot .. "/results.csv")
      if not rows then coconut.user_error(cols) end
      per[#per + 1] = {seed = seed, rows = rows, cols = cols}
    end
  end
  if not D.root then return {}, {} end
  -- --resume: the seeds of the run that this invocation did not name (an
  -- earlier --seeds list) stay in the aggregate, read from their own
  -- results.csv (which keeps every method they finished)
  if o.resume and coconut.fs.exists(root .. "/results.csv") then
    local old = coconut.check(coconut.csv.read(root .. "/results.csv"))
    local have = {}
    for _, s in ipairs(seeds) do have[s] = true end
    for _, r in ipairs(old) do
      local s = math.tointeger(tonumber(r.seed))
      local f = s and root .. "/seed" .. s .. "/results.csv"
      if s and not have[s] and coconut.fs.exists(f) then
        have[s] = true
        local rows, cols = coconut.csv.read(f)
        if not rows then coconut.user_error(cols) end
        per[#per + 1] = {seed = s, rows = rows, cols = cols}
      end
    end
    table.sort(per, function(x, y) return x.seed < y.seed end)
    list = {}
    for i, p in ipairs(per) do list[i] = tostring(p.seed) end
  end
  local cols, rows, methods = S.aggregate(per)
  S.write_csv(root .. "/results.csv", cols, rows)
  local title = string.format("%s, run %s: %d seed%s (%s)", cfg.name, a.run, #list, #list == 1 and "" or "s",
    table.concat(list, ", "))
  local md = S.table_md(cols, rows, title)
  coconut.check(coconut.fs.write(root .. "/table.md", md .. "\n"))
  -- the figure shows test accuracy (validation accuracy when no method has a test score)
  local metric = "valid_accuracy"
  for _, r in ipairs(rows) do if r.seed == "mean" and tonumber(r.test_accuracy) then metric = "test_accuracy" end end
  local png = #methods > 0 and F.compare_seeds(root, methods, cfg.name, metric)
  print("")
  print(md)
  print("results:  " .. root .. "/results.csv (per seed, mean, std)")
  print("table:    " .. root .. "/table.md")
  for _, s in ipairs(list) do print(string.format("seed %-4s %s/seed%s/", s .. ":", root, s)) end
  if png then print("compare:  " .. png) end
  print(string.format("total %s for %d seeds", P.fmt_time(coconut.time() - t_all), #seeds))
  return cols, rows
end

return S
