-- The gsm8k dataset plugin through the Lua API, and experiments/gsm8k.lua end
-- to end on hand-made lines:
--   - <dir>/{train,valid,test}.txt and explicit *_file options, the options the
--     driver passes (generate, seed) accepted, a missing split and a malformed
--     line refused with the file and line named;
--   - the real ../shared/data/gsm8k/{valid,test}.txt when present (500 / 1319,
--     every answer non-empty without commas);
--   - `coconut run experiments/gsm8k.lua --preset quick`: results.csv holds
--     cot, nocot, coconut with accuracies equal to their eval rows; Coconut
--     starts from the CoT run's best checkpoint and trains stages 1..4 only,
--     scoring with c = 2 thoughts per stage up to 3 stages (6 thoughts);
--   - --train_file / --test_file name files outside --data; a malformed
--     user file stops the run (exit 1, file:line named, no results.csv).
-- COCONUT_BIN selects the binary (default build/coconut).
local T = require "tap"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local function write(path, text)
  local f = assert(io.open(path, "wb")); f:write(text); f:close()
end

-- Deterministic hand-made GSM-style lines (templated word problems whose
-- chains are true): additions, products with a subtraction, empty chains,
-- answers with thousands commas, and Unicode names.
local function hand_lines(n, seed)
  local x = seed
  local function rnd(k) x = (x * 1103515245 + 12345) % 2147483648; return x % k end
  local names = {"Tom", "Ana", "Zoë", "José", "Mia", "Lee"}
  local items = {"apples", "pens", "cards", "books"}
  local t = {}
  for i = 1, n do
    local who, what = names[rnd(#names) + 1], items[rnd(#items) + 1]
    local a, b, c = rnd(8) + 2, rnd(8) + 2, rnd(9) + 1
    local kind = i % 4
    if kind == 0 then
      t[i] = string.format("%s has %d %s and gets %d more. How many %s does %s have?||<<%d+%d=%d>> #### %d",
        who, a, what, b, what, who, a, b, a + b, a + b)
    elseif kind == 1 then
      t[i] = string.format("%s buys %d boxes of %d %s and gives away %d. How many are left?||<<%d*%d=%d>> <<%d-%d=%d>> #### %d",
        who, a, b, what, c, a, b, a * b, a * b, c, a * b - c, a * b - c)
    elseif kind == 2 then
      t[i] = string.format("%s’s shop sells %d crates of 1000 %s. How many %s?||<<%d*1000=%d>> #### %d,000",
        who, a, what, what, a, a * 1000, a)
    else
      t[i] = string.format("%s has %d %s. How many %s does %s have?|| #### %d", who, a, what, what, who, a)
    end
  end
  return table.concat(t, "\n") .. "\n"
end

local function gsm_dir(d, n_train)
  assert(coconut.fs.mkdir(d))
  write(d .. "/train.txt", hand_lines(n_train or 48, 1))
  write(d .. "/valid.txt", hand_lines(8, 2))
  write(d .. "/test.txt", hand_lines(8, 3))
  return d
end

T.test("gsm8k plugin: dir and explicit files, format corners, missing splits and malformed lines", function()
  local d = T.tmpdir("gsm8k")
  gsm_dir(d .. "/data", 12)
  local ds = coconut.plugin.load("dataset", "gsm8k", {dir = d .. "/data", generate = true, seed = 5})
  local tr = ds:load("train")
  T.eq(#tr, 12)
  -- line 1 (i = 1, kind 1): a product and a subtraction
  T.eq(#tr[1].steps, 2); T.ok(tr[1].steps[1]:match("^<<%d+%*%d+=%d+>>$"), tr[1].steps[1])
  -- line 2: commas removed from "N,000", Unicode kept
  T.ok(tr[2].answer:match("^%d000$"), tr[2].answer); T.ok(tr[2].question:find("’s shop", 1, true), tr[2].question)
  -- line 3: an empty chain gives no steps
  T.eq(#tr[3].steps, 0); T.ok(tr[3].answer:match("^%d$"))
  T.eq(tr[1].meta_json, nil)
  T.eq(#ds:load("valid"), 8); T.eq(#ds:load("test"), 8)
  -- explicit files win over dir; a dir without the split names the file and the option
  write(d .. "/other.txt", "Q?||<<2*3=6>> #### 6\n")
  local ex = coconut.plugin.load("dataset", "gsm8k", {dir = d .. "/nowhere", train_file = d .. "/other.txt"})
  local one = ex:load("train")
  T.eq(#one, 1); T.eq(one[1].question, "Q?"); T.eq(one[1].steps[1], "<<2*3=6>>"); T.eq(one[1].answer, "6")
  T.raises(function() ex:load("valid") end, "no valid split: " .. d .. "/nowhere/valid.txt does not exist (set valid_file")
  T.raises(function() ex:load("dev") end, "unknown split 'dev'")
  local miss = coconut.plugin.load("dataset", "gsm8k", {test_file = d .. "/absent.txt"})
  T.raises(function() miss:load("test") end, "test_file '" .. d .. "/absent.txt' does not exist")
  -- a malformed line fails the whole load with file:line:column
  write(d .. "/bad.txt", "A?||<<1+1=2>> #### 2\n\nB?||<<2+2=4 #### 4\n")
  local bad = coconut.plugin.load("dataset", "gsm8k", {valid_file = d .. "/bad.txt"})
  T.raises(function() bad:load("valid") end, d .. "/bad.txt:3:5: '<<' is never closed by '>>'")
  T.raises(function() coconut.plugin.load("dataset", "gsm8k", {digits = 4}) end, "unknown option 'digits'")
  T.rmtree(d)
end)

T.test("gsm8k plugin: the real iCoT valid and test files (when present)", function()
  local dir = T.shared("gsm8k")
  if not dir then T.skip("../shared/data/gsm8k absent") end
  local ds = coconut.plugin.load("dataset", "gsm8k", {dir = dir})
  for split, n in pairs{valid = 500, test = 1319} do
    local xs = ds:load(split)
    T.eq(#xs, n, split)
    local empty = 0
    for i, ex in ipairs(xs) do
      T.ok(ex.answer ~= "" and not ex.answer:find(",", 1, true), split .. " " .. i .. ": answer '" .. ex.answer .. "'")
      T.ok(ex.answer:match("^%-?[%d.]+$"), split .. " " .. i .. ": numeric answer '" .. ex.answer .. "'")
      for _, s in ipairs(ex.steps) do T.ok(s:match("^<<.+>>$"), s) end
      if #ex.steps == 0 then empty = empty + 1 end
    end
    T.eq(empty, split == "valid" and 6 or 18, split .. " empty chains")
  end
  T.raises(function() ds:load("train") end, "no train split") -- train.txt is not on this machine
end)

local function read(path) return assert(coconut.csv.read(path)) end

-- accuracy in summary.csv and results.csv == the mean of `correct` over the matching eval rows
local function check_consistent(root, method)
  local ev = read(root .. "/" .. method .. "/eval.csv")
  local sm = read(root .. "/" .. method .. "/summary.csv")
  T.ok(#sm > 0 and #ev > 0, method)
  for _, s in ipairs(sm) do
    local sum, n = 0, 0
    for _, e in ipairs(ev) do
      if e.split == s.split and e.epoch == s.epoch then sum = sum + tonumber(e.correct); n = n + 1 end
    end
    T.eq(n, tonumber(s.n), method .. " rows of " .. s.split .. " epoch " .. s.epoch)
    T.near(tonumber(s.accuracy), sum / n, 1e-9, method .. " " .. s.split .. " epoch " .. s.epoch)
  end
  return ev, sm
end

T.test("gsm8k --preset quick: CoT, No-CoT, Coconut from the CoT checkpoint (c = 2, 3 stages + all-latent)", function()
  local d = T.tmpdir("e2egsm")
  local data = gsm_dir(d .. "/data")
  local rc, out = T.sh(string.format("%s run experiments/gsm8k.lua --preset quick --data %s --results %s", BIN, data,
    d .. "/results"))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/results/gsm8k/quick"
  T.ok(out:find("data: 48 train, 8 valid, 8 test examples", 1, true), out)
  T.ok(out:find("[coconut] starting from the CoT model (" .. root .. "/cot/checkpoints/best/model.safetensors)", 1, true), out)
  local res = read(root .. "/results.csv")
  T.eq(#res, 3)
  for i, m in ipairs{"cot", "nocot", "coconut"} do
    T.eq(res[i].method, m)
    local ev = check_consistent(root, m)
    -- results.csv test accuracy = the best checkpoint's test rows
    local sum, n = 0, 0
    for _, e in ipairs(ev) do
      if e.split == "test" then sum = sum + tonumber(e.correct); n = n + 1 end
      T.ok(tonumber(e.new_tokens) <= 64, "max_new_tokens 64")
    end
    T.eq(n, 8, m .. " test rows")
    T.near(tonumber(res[i].test_accuracy), sum / n, 1e-9, m .. " test accuracy")
  end
  -- Coconut trains stages 1..4 (3 latent stages, then the extra all-latent
  -- one), one epoch each, and scores with 2 thoughts per replaced step
  local ev, sm = check_consistent(root, "coconut")
  local stages = {}
  for _, s in ipairs(sm) do if s.split == "valid" then stages[#stages + 1] = s.stage end end
  T.eq(table.concat(stages, ","), "1,2,3,4")
  for _, e in ipairs(ev) do
    T.eq(tonumber(e.thoughts), 2 * math.min(3, tonumber(e.stage)), "thoughts at stage " .. e.stage)
  end
  for _, e in ipairs(read(root .. "/cot/eval.csv")) do T.eq(e.thoughts, "0") end
  T.rmtree(d)
end)

T.test("gsm8k: --train_file / --test_file outside --data; a malformed user file stops the run", function()
  local d = T.tmpdir("e2egsmf")
  local data = gsm_dir(d .. "/data")
  write(d .. "/mytrain.txt", hand_lines(20, 9))
  write(d .. "/mytest.txt", hand_lines(5, 10))
  local rc, out = T.sh(string.format("%s run experiments/gsm8k.lua --preset quick --method cot,nocot --data %s " ..
    "--train_file %s --test_file %s --results %s", BIN, data, d .. "/mytrain.txt", d .. "/mytest.txt", d .. "/results"))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  T.ok(out:find("data: 20 train, 8 valid, 5 test examples", 1, true), out)
  local ev = read(d .. "/results/gsm8k/quick/cot/eval.csv")
  local n = 0
  for _, e in ipairs(ev) do if e.split == "test" then n = n + 1 end end
  T.eq(n, 5, "the given test file is scored")
  -- malformed: exit 2 (a user error), the file and line named, no results
  write(d .. "/broken.txt", hand_lines(3, 4) .. "No separator here #### 3\n")
  rc, out = T.sh(string.format("%s run experiments/gsm8k.lua --preset quick --method cot,nocot --data %s " ..
    "--train_file %s --results %s", BIN, data, d .. "/broken.txt", d .. "/results2"))
  T.eq(rc, 2, out)
  T.ok(out:find(d .. "/broken.txt:4:1: no '||' between the question and the chain", 1, true), out)
  T.ok(not coconut.fs.exists(d .. "/results2/gsm8k/quick/results.csv"))
  T.rmtree(d)
end)
