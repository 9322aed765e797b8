-- experiments/figures/prosqa_k6.lua — re-render every figure of a prosqa_k6 run
-- from its CSV files, without retraining, and print its results table.
--   coconut run experiments/figures/prosqa_k6.lua results/prosqa_k6/small
-- A --seeds run (results.csv with a seed column) re-renders every seed's
-- figures, the error-bar comparison, and prints table.md.
local F = require "coco.figures"
local root = arg[1] or error("usage: coconut run experiments/figures/prosqa_k6.lua <run directory>", 0)
local rows, cols = coconut.csv.read(root .. "/results.csv")
if not rows then error(cols, 0) end

local function one_run(dir, list)
  local methods = {}
  print(string.format("%-10s %10s %10s %10s", "method", "valid acc", "test acc", "best epoch"))
  for _, r in ipairs(list) do
    methods[#methods + 1] = r.method
    print(string.format("%-10s %10s %10s %10s", r.method, r.valid_accuracy, r.test_accuracy, r.best_epoch))
    for _, f in ipairs(F.method(dir .. "/" .. r.method, r.method)) do print("  " .. f[1] .. "  " .. f[2]) end
  end
  if #methods > 1 then print("  " .. F.compare(dir, methods, "prosqa_k6")) end
end

if cols[1] ~= "seed" then
  one_run(root, rows)
else
  local seeds, by, methods, seen = {}, {}, {}, {}
  for _, r in ipairs(rows) do
    if r.seed ~= "mean" and r.seed ~= "std" then
      if not by[r.seed] then by[r.seed] = {}; seeds[#seeds + 1] = r.seed end
      table.insert(by[r.seed], r)
      if not seen[r.method] then seen[r.method] = true; methods[#methods + 1] = r.method end
    end
  end
  for _, s in ipairs(seeds) do
    print("seed " .. s .. ":")
    one_run(root .. "/seed" .. s, by[s])
  end
  local metric = "valid_accuracy"
  for _, r in ipairs(rows) do if r.seed == "mean" and tonumber(r.test_accuracy) then metric = "test_accuracy" end end
  print("  " .. F.compare_seeds(root, methods, "prosqa_k6", metric))
  local md = coconut.fs.read(root .. "/table.md")
  if md then print(""); print(md) end
end
