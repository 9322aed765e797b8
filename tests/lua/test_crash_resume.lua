-- Crash-resume (issue 17, part 1): a small training run is killed with SIGKILL
-- at precise points (the test-only hook COCONUT_TEST_KILL_AT, coco.killpoint),
-- then continued with --resume; every file that records the run must then be
-- bit-identical to an uninterrupted run's, except the wall-time columns:
--   metrics.csv, eval.csv, summary.csv, probes/paths.csv (each method),
--   results.csv (the run),
--   checkpoints/{last,best}/model.safetensors, last/optimizer.safetensors,
--   state.json (without its wall-time fields), pretrain/model.safetensors,
--   tokenizer.json;
-- and no temp file, half checkpoint or lock may be left in the way.
-- The run: prosqa_k6 --preset quick on 64 examples, Coconut (3 stages, with
-- stage mixing: uniform_prob draws from the rng) then CoT, dropout 0.1 (the
-- dropout streams must continue where they stopped) and a learning-rate
-- warm-up (driven by the step count); a one-epoch shared pretraining first;
-- the paths probe during evaluation (its rows are compared too: a probe's
-- state lives for one evaluation pass, coco.run / plugins/README.md).
-- About 3 s per run on 2 cores: the matrix below takes well under 2 minutes.
local T = require "tap"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local ARGS = "--preset quick --method coconut,cot --n_train 64 --dropout 0.1 --uniform_prob 0.3 --warmup_steps 3 "
  .. "--probes paths --threads 1"

-- Wall-time columns: the only ones allowed to differ.
local WALL = {
  ["metrics.csv"] = {tokens_per_s = true, seconds = true, outside_c_share = true},
  ["summary.csv"] = {epoch_seconds = true, train_tokens_per_s = true, eval_seconds = true},
  ["results.csv"] = {train_seconds = true, wall_seconds = true},
  ["eval.csv"] = {},
}
local STATE_WALL = {wall = true, score_wall = true}
local METHODS = {"coconut", "cot"}

local function run(root, data, extra, env)
  local cmd = string.format("%s%s run experiments/prosqa_k6.lua %s --results %s --data %s %s", env or "", BIN, ARGS,
    root, data, extra or "")
  return T.sh(cmd)
end

local function csv_equal(a, b, name)
  local ra, ca = assert(coconut.csv.read(a))
  local rb, cb = assert(coconut.csv.read(b))
  T.eq(table.concat(cb, ","), table.concat(ca, ","), name .. " columns")
  T.eq(#rb, #ra, name .. " rows")
  local skip = WALL[coconut.fs.basename(a)] or {}
  for i = 1, #ra do
    for _, c in ipairs(ca) do
      if not skip[c] and ra[i][c] ~= rb[i][c] then
        error(string.format("%s row %d column %s: uninterrupted %q, resumed %q", name, i, c, tostring(ra[i][c]),
          tostring(rb[i][c])), 0)
      end
    end
  end
end

local function bytes_equal(a, b, name)
  local x, y = coconut.fs.read(a), coconut.fs.read(b)
  T.ok(x, name .. " missing in the uninterrupted run"); T.ok(y, name .. " missing in the resumed run")
  if x ~= y then error(name .. " differs (" .. #x .. " vs " .. #y .. " bytes)", 0) end
end

local function state_equal(a, b, name)
  local x, y = assert(coconut.json.read(a)), assert(coconut.json.read(b))
  for _, t in ipairs{x, y} do for k in pairs(STATE_WALL) do t[k] = nil end end
  T.eq(coconut.json.encode(y), coconut.json.encode(x), name)
end

-- No leftovers anywhere under dir: temp files of atomic writes, staged or
-- retired checkpoint directories.
local function no_leftovers(dir)
  for _, e in ipairs(coconut.fs.listdir(dir) or {}) do
    local p = dir .. "/" .. e
    T.ok(not e:match("%.tmp%.%d+$") and not e:match("%.tmp$"), "leftover temp file " .. p)
    T.ok(not e:match("^last%.") and not e:match("^best%."), "leftover checkpoint directory " .. p)
    if coconut.fs.isdir(p) then no_leftovers(p) end
  end
end

local function compare(ref, got)
  csv_equal(ref .. "/results.csv", got .. "/results.csv", "results.csv")
  bytes_equal(ref .. "/tokenizer.json", got .. "/tokenizer.json", "tokenizer.json")
  bytes_equal(ref .. "/pretrain/model.safetensors", got .. "/pretrain/model.safetensors", "pretrain/model.safetensors")
  for _, m in ipairs(METHODS) do
    local a, b = ref .. "/" .. m, got .. "/" .. m
    for _, f in ipairs{"metrics.csv", "eval.csv", "summary.csv", "probes/paths.csv"} do
      csv_equal(a .. "/" .. f, b .. "/" .. f, m .. "/" .. f)
    end
    for _, f in ipairs{"last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors"} do
      bytes_equal(a .. "/checkpoints/" .. f, b .. "/checkpoints/" .. f, m .. "/checkpoints/" .. f)
    end
    state_equal(a .. "/checkpoints/last/state.json", b .. "/checkpoints/last/state.json", m .. " last/state.json")
    state_equal(a .. "/checkpoints/best/state.json", b .. "/checkpoints/best/state.json", m .. " best/state.json")
  end
  no_leftovers(got)
end

-- The kill matrix: each entry kills at the listed points in turn (one kill per
-- invocation), then resumes to the end.
local MATRIX = {
  {"mid-epoch (Coconut, epoch 2, step 2 of 4)", {"step:6"}},
  {"during the shared pretraining", {"pretrain_step:2"}},
  {"checkpoint write: model written, rest not", {"checkpoint_model:3"}},
  {"checkpoint write: complete, not swapped in", {"checkpoint_written:4"}},
  {"checkpoint write: swapped in, old not removed", {"checkpoint_swapped:2"}},
  {"during a validation evaluation", {"eval:2"}},
  {"during the final test evaluation", {"eval:4"}},
  {"between two methods", {"method:1"}},
  {"during CoT after a finished Coconut", {"step:15"}},
  {"killed again while resuming", {"step:3", "checkpoint_written:2", "eval:3"}},
}

T.test("crash-resume: SIGKILL at any point, then --resume, ends bit-identical to an uninterrupted run", function()
  local d = T.tmpdir("crash")
  local data = d .. "/data"
  local rc, out = run(d .. "/ref", data)
  if rc ~= 0 then error("the uninterrupted run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local ref = d .. "/ref/prosqa_k6/quick"
  for i, case in ipairs(MATRIX) do
    local name, kills = case[1], case[2]
    local results = string.format("%s/k%d", d, i)
    local root = results .. "/prosqa_k6/quick"
    for j, at in ipairs(kills) do
      rc, out = run(results, data, j > 1 and "--resume" or "", "COCONUT_TEST_KILL_AT=" .. at .. " ")
      if rc ~= 137 then
        error(string.format("%s: the run with COCONUT_TEST_KILL_AT=%s was not killed (exit %s):\n%s", name, at,
          tostring(rc), out), 0)
      end
    end
    rc, out = run(results, data, "--resume")
    if rc ~= 0 then error(name .. ": --resume failed (exit " .. tostring(rc) .. "):\n" .. out, 0) end
    local ok, err = pcall(compare, ref, root)
    if not ok then error(name .. " (" .. table.concat(kills, " then ") .. "): " .. tostring(err), 0) end
  end
  T.rmtree(d)
end)

T.test("crash-resume: a kill inside an atomic write leaves only a temp file, removed by the next run", function()
  -- a killed writer's "<file>.tmp.<pid>" (core/error.c) is swept under the run lock
  local d = T.tmpdir("crashtmp")
  local data = d .. "/data"
  local rc, out = run(d .. "/r", data, "--method cot", "COCONUT_TEST_KILL_AT=step:2 ")
  T.eq(rc, 137, out)
  local root = d .. "/r/prosqa_k6/quick"
  local stale = root .. "/cot/eval.csv.tmp.999999"
  assert(coconut.fs.write(stale, "split,id\nvalid,0"))
  rc, out = run(d .. "/r", data, "--method cot --resume")
  T.eq(rc, 0, out)
  T.ok(not coconut.fs.exists(stale), "the stale temp file was removed")
  T.ok(out:find("removed 1 temp file", 1, true), out)
  T.rmtree(d)
end)
