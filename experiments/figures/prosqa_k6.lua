-- experiments/figures/prosqa_k6.lua — re-render every figure of a prosqa_k6 run
-- from its CSV files, without retraining, and print its results table.
--   coconut run experiments/figures/prosqa_k6.lua results/prosqa_k6/small
local F = require "coco.figures"
local root = arg[1] or error("usage: coconut run experiments/figures/prosqa_k6.lua <run directory>", 0)
local rows = assert(coconut.csv.read(root .. "/results.csv"))
local methods = {}
print(string.format("%-10s %10s %10s %10s", "method", "valid acc", "test acc", "best epoch"))
for _, r in ipairs(rows) do
  methods[#methods + 1] = r.method
  print(string.format("%-10s %10s %10s %10s", r.method, r.valid_accuracy, r.test_accuracy, r.best_epoch))
  for _, f in ipairs(F.method(root .. "/" .. r.method, r.method)) do print("  " .. f[1] .. "  " .. f[2]) end
end
if #methods > 1 then print("  " .. F.compare(root, methods, "prosqa_k6")) end
