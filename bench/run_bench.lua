-- bench/run_bench.lua — runs every benchmark and prints ratios against the
-- references measured in the same run: BLIS directly and the core's FMA peak
-- (bench_gemm), the tokenizer without its cache (bench_tokenizer), PyTorch with
-- the same model math (bench/torch_gpt2.py, when /usr/bin/python3 has torch),
-- and a plain GPT-2 step for the latent stepper. Medians of several runs.
--   build/coconut run bench/run_bench.lua [build dir]    (COCONUT_BENCH_QUICK=1: fewer steps)
local build = arg[1] or "build"
local quick = os.getenv("COCONUT_BENCH_QUICK") ~= nil

local function sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local ok, _, rc = f:close()
  return out, ok and 0 or rc
end

local function section(t) print("\n==== " .. t) end

section("sgemm at GPT-2 training shapes (bench_gemm)")
io.write((sh(build .. "/bench/bench_gemm")))

section("tokenizer encode throughput (bench_tokenizer)")
io.write((sh(build .. "/bench/bench_tokenizer")))

section("GPT-2 124M training step and forward, coconut vs PyTorch (same math, random weights)")
local has_torch = select(2, sh("/usr/bin/python3 -c 'import torch'")) == 0
if not has_torch then print("(python3-torch not installed: PyTorch column skipped)") end
local configs = {{"train_b4_t64", quick and 2 or 5}, {"train_b8_t256", quick and 1 or 3}, {"fwd_b1_t384", quick and 3 or 7}}
print(string.format("%-14s %3s %11s %9s %11s %9s %8s", "config", "thr", "coconut s", "RSS MB", "PyTorch s", "RSS MB", "speedup"))
for _, c in ipairs(configs) do
  for _, thr in ipairs{1, 2} do
    local out = sh(string.format("%s/bench/bench_gpt2 %s %d %d --json", build, c[1], thr, c[2]))
    local ours = coconut.json.decode(out:match("{.-}\n") or "") or {}
    local theirs = {}
    if has_torch then
      local tout = sh(string.format("/usr/bin/python3 bench/torch_gpt2.py --threads %d --configs %s --steps %d --json", thr, c[1], c[2]))
      theirs = coconut.json.decode(tout:match("{.-}\n") or "") or {}
    end
    print(string.format("%-14s %3d %11s %9s %11s %9s %8s", c[1], thr,
      ours.median_s and string.format("%.3f", ours.median_s) or "fail", ours.peak_rss_mb and string.format("%.0f", ours.peak_rss_mb) or "-",
      theirs.median_s and string.format("%.3f", theirs.median_s) or "-", theirs.peak_rss_mb and string.format("%.0f", theirs.peak_rss_mb) or "-",
      (ours.median_s and theirs.median_s) and string.format("%.2fx", theirs.median_s / ours.median_s) or "-"))
  end
end
print("per-op profile of one train_b4_t64 step, 1 thread:")
io.write((sh(build .. "/bench/bench_gpt2 train_b4_t64 1 1 --profile")))

section("Coconut latent stepper (bench_latent)")
io.write((sh(build .. "/bench/bench_latent train small 32 340 6 2 " .. (quick and 2 or 5))))
io.write((sh(build .. "/bench/bench_latent train gpt2 8 128 6 2 " .. (quick and 1 or 3))))
io.write((sh(build .. "/bench/bench_latent eval gpt2 360 6 10 1 2 " .. (quick and 2 or 5))))
io.write((sh(build .. "/bench/bench_latent eval gpt2 360 6 10 32 2 " .. (quick and 32 or 96))))
