-- bench/run_bench.lua — runs every benchmark and prints ratios against the
-- references measured in the same run: BLIS directly and the core's FMA peak
-- (bench_gemm), the tokenizer without its cache (bench_tokenizer), PyTorch with
-- the same model math (bench/torch_gpt2.py, when /usr/bin/python3 has torch),
-- and a plain GPT-2 step for the latent stepper. Medians of several runs.
--   build/coconut run bench/run_bench.lua [build dir]    (COCONUT_BENCH_QUICK=1: fewer steps)
local build = arg[1] or "build"
local quick = os.getenv("COCONUT_BENCH_QUICK") ~= nil
-- COCONUT_BENCH_ONLY=small (or gemm, tokenizer, gpt2, latent, mpi; comma-separated) runs only those sections.
local only = os.getenv("COCONUT_BENCH_ONLY")
local function want(name) return not only or only == "" or (("," .. only .. ","):find("," .. name .. ",", 1, true) ~= nil) end

local function sh(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local out = f:read("a")
  local ok, _, rc = f:close()
  return out, ok and 0 or rc
end

local function section(t) print("\n==== " .. t) end

local function cpu_flags()
  local f = io.open("/proc/cpuinfo")
  local txt = f and f:read("a") or ""
  if f then f:close() end
  local flags = {}
  for w in (txt:match("\nflags%s*:%s*([^\n]*)") or ""):gmatch("%S+") do flags[w] = true end
  return flags, txt:match("model name%s*:%s*([^\n]*)") or "?"
end

local flags, cpu_model = cpu_flags()
print("CPU: " .. cpu_model .. (flags.avx512f and " (AVX-512)" or flags.avx2 and " (AVX2)" or ""))
io.write((sh(build .. "/coconut version 2>&1 | grep -E 'BLIS|threads'")))

if want("gemm") then
  section("sgemm at GPT-2 training shapes (bench_gemm)")
  io.write((sh(build .. "/bench/bench_gemm")))
end

if want("tokenizer") then
  section("tokenizer encode throughput (bench_tokenizer)")
  io.write((sh(build .. "/bench/bench_tokenizer")))
end

local has_torch = select(2, sh("/usr/bin/python3 -c 'import torch'")) == 0
-- PyTorch's BLAS is OpenBLAS; on a CPU its DYNAMIC_ARCH does not know it falls back
-- to SSE3 "Prescott" kernels, so unless OPENBLAS_CORETYPE is already set the kernels
-- are chosen from the CPU flags (the fair comparison). Both tables print what torch used.
local coretype = os.getenv("OPENBLAS_CORETYPE")
if not coretype or coretype == "" then
  coretype = flags.avx512_bf16 and "Cooperlake" or (flags.avx512f and flags.avx512bw and flags.avx512vl) and "SkylakeX"
    or flags.avx2 and "Haswell" or nil
end
local torch_env = coretype and ("OPENBLAS_CORETYPE=" .. coretype .. " ") or ""

if want("gpt2") then
section("GPT-2 124M training step and forward, coconut vs PyTorch (same math, random weights)")
if not has_torch then print("(python3-torch not installed: PyTorch column skipped)") end
local configs = {{"train_b4_t64", quick and 2 or 5}, {"train_b8_t256", quick and 1 or 3}, {"fwd_b1_t384", quick and 3 or 7}}
print(string.format("%-14s %3s %11s %9s %11s %9s %8s", "config", "thr", "coconut s", "RSS MB", "PyTorch s", "RSS MB", "speedup"))
for _, c in ipairs(configs) do
  for _, thr in ipairs{1, 2} do
    local out = sh(string.format("%s/bench/bench_gpt2 %s %d %d --json", build, c[1], thr, c[2]))
    local ours = coconut.json.decode(out:match("{.-}\n") or "") or {}
    local theirs = {}
    if has_torch then
      local tout = sh(string.format(torch_env .. "/usr/bin/python3 bench/torch_gpt2.py --threads %d --configs %s --steps %d --json", thr, c[1], c[2]))
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

end

if want("latent") then
section("Coconut latent stepper (bench_latent)")
io.write((sh(build .. "/bench/bench_latent train small 32 340 6 2 " .. (quick and 2 or 5))))
io.write((sh(build .. "/bench/bench_latent train gpt2 8 128 6 2 " .. (quick and 1 or 3))))
io.write((sh(build .. "/bench/bench_latent eval gpt2 360 6 10 1 2 " .. (quick and 2 or 5))))
io.write((sh(build .. "/bench/bench_latent eval gpt2 360 6 10 32 2 " .. (quick and 32 or 96))))

end

-- ---------------------------------------------------------------- small models
-- The sizes CPU research trains from scratch (issue 11): a Coconut step (N latents,
-- N+1 passes, backward, AdamW), the plain step on the same tokens, and greedy
-- evaluation, against PyTorch running the same model in the official structure
-- (bench/torch_small.py), OpenBLAS kernels as chosen above.
if want("small") then
section("Small models: coconut vs PyTorch (bench_small, bench/torch_small.py)")
local small = {
  {name = "d128", L = 2, d = 128, H = 4, V = 40, B = 128, T = 80, N = 4},
  {name = "d256", L = 2, d = 256, H = 8, V = 40, B = 128, T = 80, N = 4},
  {name = "d768", L = 2, d = 768, H = 8, V = 40, B = 64, T = 120, N = 4},
  {name = "L4d64", L = 4, d = 64, H = 4, V = 40, B = 128, T = 120, N = 4},
  -- the prosqa_k6 "small" preset's step (4x4x128, words vocabulary, batch 16, 6 thoughts)
  {name = "preset", L = 4, d = 128, H = 4, V = 64, B = 16, T = 160, N = 6},
  {name = "tiny", L = 2, d = 64, H = 4, V = 40, B = 8, T = 40, N = 4},
}
local function steps_for(c)
  local work = c.L * c.d * c.d * c.B * c.T
  local n = work > 2e10 and 3 or work > 2e9 and 5 or 15
  return quick and math.max(2, n // 3) or n
end
local function jline(out, pat)
  for l in out:gmatch("[^\n]+") do
    if l:match("^{") and (not pat or l:find(pat, 1, true)) then return coconut.json.decode(l) end
  end
  return {}
end
local function ours_train(c, thr)
  local out = sh(string.format("%s/bench/bench_small train %d %d %d %d %d %d %d %d %d", build, c.L, c.d, c.H, c.V, c.B,
    c.T, c.N, thr, steps_for(c)))
  return jline(out)
end
local function torch_run(c, thr, mode, extra)
  if not has_torch then return {} end
  local out = sh(string.format("%s/usr/bin/python3 bench/torch_small.py --L %d --d %d --H %d --V %d --B %d --T %d --N %d " ..
    "--threads %d --mode %s --json %s", torch_env, c.L, c.d, c.H, c.V, c.B, c.T, c.N, thr, mode, extra or ""))
  return jline(out)
end
local function f3(x) return x and string.format("%.4f", x) or "-" end
local function ratio(a, b) return (a and b) and string.format("%.2fx", a / b) or "-" end

print("training step, seconds (median); speedup = PyTorch / coconut; latent/plain = coconut step with N latents over its plain step")
print(string.format("%-7s %3s %10s %10s %8s %10s %10s %8s %8s", "config", "thr", "coconut", "plain", "lat/pl",
  "torch", "torch pl", "speedup", "pl spdup"))
local blas_line
local one_thread = {}
for _, c in ipairs(small) do
  for _, thr in ipairs{1, 2} do
    local o = ours_train(c, thr)
    local st = string.format("--steps %d", steps_for(c))
    local t = torch_run(c, thr, "train", st)
    local tp = torch_run(c, thr, "plain", st)
    blas_line = blas_line or t.blas
    if thr == 1 then one_thread[c.name] = o.coconut_s end
    print(string.format("%-7s %3d %10s %10s %8s %10s %10s %8s %8s", c.name, thr, f3(o.coconut_s), f3(o.plain_s),
      ratio(o.coconut_s, o.plain_s), f3(t.median_s), f3(tp.median_s), ratio(t.median_s, o.coconut_s),
      ratio(tp.median_s, o.plain_s)))
  end
end
print("PyTorch BLAS: " .. (blas_line or "(python3-torch not installed)"))

print("\ngreedy evaluation, seconds per question: prompt of s = T-N-30 tokens, N thoughts, 10 answer tokens;")
print("coconut batched (64 prompts per call, KV cache); PyTorch official = batch 1, no KV cache while decoding (first")
print("40 questions); PyTorch batched = 64 prompts, KV cache (500 questions)")
print(string.format("%-7s %3s %11s %11s %11s %9s %9s", "config", "thr", "coconut", "torch off.", "torch batch", "vs off.", "vs batch"))
for _, c in ipairs(small) do
  if c.name ~= "tiny" then
    for _, thr in ipairs{1, 2} do
      local P = math.max(2, c.T - c.N - 30)
      local o = jline(sh(string.format("%s/bench/bench_small eval %d %d %d %d %d %d 10 %d %d 64", build, c.L, c.d, c.H, c.V,
        P, c.N, thr, quick and 128 or 500)))
      local off = torch_run(c, thr, "eval_official", "--eval-questions " .. (quick and 10 or 40))
      local bat = torch_run(c, thr, "eval_batched", "--eval-questions " .. (quick and 128 or 500) .. " --eval-batch 64")
      print(string.format("%-7s %3d %11s %11s %11s %9s %9s", c.name, thr, f3(o.per_question_s), f3(off.median_s),
        f3(bat.median_s), ratio(off.median_s, o.per_question_s), ratio(bat.median_s, o.per_question_s)))
    end
  end
end

-- Contention: the same steps with a busy loop pinned to core 0 (another user's job).
-- The goal is that 2 threads never cost more than 1.5x the 1-thread time, quiet or loaded.
print("\ncontention: coconut step, seconds (median), quiet and with a busy loop pinned to CPU 0; 2t/1t = 2-thread time / 1-thread time")
local busy_cmd = "taskset -c 0 sh -c 'while :; do :; done' >/dev/null 2>&1 & echo $!"
print(string.format("%-7s %10s %10s %7s %10s %10s %7s", "config", "quiet 1t", "quiet 2t", "2t/1t", "loaded 1t", "loaded 2t", "2t/1t"))
for _, c in ipairs(small) do
  local q1, q2 = ours_train(c, 1).coconut_s, ours_train(c, 2).coconut_s
  local pid = io.popen(busy_cmd):read("l")
  local l1, l2 = ours_train(c, 1).coconut_s, ours_train(c, 2).coconut_s
  os.execute("kill " .. pid .. " 2>/dev/null")
  print(string.format("%-7s %10s %10s %7s %10s %10s %7s", c.name, f3(q1), f3(q2), ratio(q2, q1), f3(l1), f3(l2), ratio(l2, l1)))
end
print("per-op profile, d128 Coconut step, 1 thread:")
io.write((sh(build .. "/bench/bench_small train 2 128 4 40 128 80 4 1 2 --profile")))
end

-- Data parallel on MPI (issue 18): one training step of bench/mpi_step.lua as
-- 1 rank x 1 thread, 1 rank x 2 threads and 2 ranks x 1 thread, the time
-- inside the gradient allreduce, and the scaling model
--   t(N) = t_compute / N + 2 (N - 1) / N * grad_bytes / bandwidth
-- (ring allreduce: each rank sends and receives 2 (N-1)/N of the gradient),
-- checked against the 2-rank measurement with the loopback bandwidth measured
-- here, then evaluated for N machines at network bandwidths.
if want("mpi") then
  section("data parallel on MPI: step time, allreduce share, scaling model (bench/mpi_step.lua)")
  local has_mpirun = select(2, sh("command -v mpirun")) == 0
  local compiled = coconut.mpi.compiled() -- this script runs on the build's coconut
  if not (has_mpirun and compiled) then
    print("(skipped: " .. (has_mpirun and "this build has no MPI" or "mpirun not found") .. ")")
  else
    local args = quick and "steps=4" or "steps=10"
    local function run(np, thr)
      local cmd = np == 1 and string.format("COCONUT_THREADS=%d %s/coconut run bench/mpi_step.lua %s", thr, build, args)
        or string.format("COCONUT_THREADS=%d sh tests/mpi/mpirun.sh -np %d %s/coconut run bench/mpi_step.lua %s", thr, np, build, args)
      local out = sh(cmd)
      local r = {}
      for k, v in (out:match("mpi_step ([^\n]*)") or ""):gmatch("([%w_]+)=(%S+)") do r[k] = tonumber(v) or v end
      if not r.step_s then print("failed: " .. cmd .. "\n" .. out) end
      return r
    end
    local a, b, c = run(1, 1), run(1, 2), run(2, 1)
    if a.step_s and b.step_s and c.step_s then
      print(string.format("model: GPT-2 preset %s, vocab %d, %d params (%.1f MB of gradients), batch %d = %d micro-batches of %d, %d tokens each",
        a.preset, a.vocab, a.params, a.grad_bytes / 1e6, a.batch, a.batch // a.micro, a.micro, a.seq))
      print(string.format("%-22s %10s %12s %8s %10s", "layout", "step s", "allreduce s", "share", "vs 1x1"))
      for _, x in ipairs{{"1 rank x 1 thread", a}, {"1 rank x 2 threads", b}, {"2 ranks x 1 thread", c}} do
        local r = x[2]
        print(string.format("%-22s %10.4f %12.4f %7.1f%% %9.2fx", x[1], r.step_s, r.allreduce_s, 100 * r.share, a.step_s / r.step_s))
      end
      -- bandwidth the 2-rank allreduce reached (it also holds the wait for the slower rank: a lower bound)
      local bytes = c.grad_bytes
      local bw = c.allreduce_s > 0 and (bytes / c.allreduce_s) or math.huge -- 2 (N-1)/N = 1 for N = 2
      local pred2 = a.step_s / 2 + bytes / bw
      print(string.format("model check, N = 2: t_compute(1x1) / 2 + bytes / bandwidth = %.4f + %.4f = %.4f s predicted, %.4f s measured " ..
        "(loopback allreduce at %.2f GB/s effective)", a.step_s / 2, bytes / bw, pred2, c.step_s, bw / 1e9))
      local function model(n, gbps, grad_bytes, tc)
        return tc / n + (n > 1 and 2 * (n - 1) / n * grad_bytes / (gbps * 1e9 / 8) or 0)
      end
      print("model for N machines (t_compute from the 1 x 1 row; bandwidth per machine, Gb/s):")
      print(string.format("%-10s %12s %12s %12s", "N", "1 Gb/s", "10 Gb/s", "100 Gb/s"))
      for _, n in ipairs{1, 2, 4, 8, 16} do
        print(string.format("%-10d %12.4f %12.4f %12.4f", n, model(n, 1, bytes, a.step_s), model(n, 10, bytes, a.step_s), model(n, 100, bytes, a.step_s)))
      end
      print(string.format("GPT-2 124M (497.8 MB of gradients): the allreduce alone takes 2 (N-1)/N x %.2f s at 10 Gb/s, %.3f s at 100 Gb/s",
        497.8e6 / (10e9 / 8), 497.8e6 / (100e9 / 8)))
    end
  end
end
