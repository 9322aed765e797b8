-- The arith dataset plugin through the Lua API, method variants
-- (coco.experiment cfg.variants), and experiments/arith.lua end to end:
--   - every step of every example recomputed from its text (plain and
--     reversed numbers), the answer = a * b of the question, operands of
--     exactly `digits` digits;
--   - splits disjoint as unordered pairs, determinism in the seed, other seeds
--     give other data; option errors named;
--   - prepare() writes files the gsm8k plugin reads back as the same examples;
--   - variants: coconut_c2 = the coconut curriculum with c_thought 2, base
--     methods, function options;
--   - `coconut run experiments/arith.lua --preset quick`: results.csv holds
--     cot, nocot, icot, coconut_c1, coconut_c2 with accuracies equal to their
--     eval rows, both Coconut variants start from the CoT checkpoint, c = 2
--     scores with twice c = 1's thoughts, digits are single tokens.
-- COCONUT_BIN selects the binary (default build/coconut).
local T = require "tap"
local E = require "coco.experiment"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

-- A number in the rendering: plain "1234", reversed "4 3 2 1"; returns the
-- integer and its digit count (nil when the text is not in that form).
local function num(s, numbers)
  if numbers == "plain" then
    if not s:match("^%d+$") then return nil end
    return math.tointeger(tonumber(s)), #s
  end
  local d = s:gsub(" ", "")
  -- exactly one space between single digits (Lua patterns cannot repeat a group)
  if not d:match("^%d+$") or (d:gsub("(%d)", "%1 "):gsub(" $", "")) ~= s then return nil end
  if numbers == "reversed" then d = d:reverse() end
  return math.tointeger(tonumber(d)), #d
end

-- Recomputes one example; returns a, b.
local function check_example(ex, digits, numbers)
  local sp = numbers ~= "plain"
  local qa, qb = ex.question:match(sp and "^What is ([%d ]+) %* ([%d ]+) %?$" or "^What is (%d+) %* (%d+)%?$")
  T.ok(qa, "question: " .. ex.question)
  local a, na = num(qa, numbers)
  local b, nb = num(qb, numbers)
  T.eq(na, digits, ex.question); T.eq(nb, digits, ex.question)
  T.ok(a >= 10 ^ (digits - 1) and b >= 10 ^ (digits - 1), "no leading zero: " .. ex.question)
  T.eq(#ex.steps, 2 * digits - 1)
  local pat = sp and "^<< ([%d ]+) ([%*%+]) ([%d ]+) = ([%d ]+) >>$" or "^<<(%d+)([%*%+])(%d+)=(%d+)>>$"
  local k, total, rest, shift = 1, 0, b, 1
  for i = 0, digits - 1 do
    local x, op, y, z = ex.steps[k]:match(pat)
    T.ok(x, "step " .. ex.steps[k]); k = k + 1
    x, y, z = num(x, numbers), num(y, numbers), num(z, numbers)
    T.eq(op, "*"); T.eq(x, a); T.eq(y, rest % 10 * shift); T.eq(z, x * y)
    local prod = z
    if i == 0 then total = z else
      x, op, y, z = ex.steps[k]:match(pat)
      T.ok(x, "step " .. ex.steps[k]); k = k + 1
      x, y, z = num(x, numbers), num(y, numbers), num(z, numbers)
      T.eq(op, "+"); T.eq(x, total); T.eq(y, prod); T.eq(z, x + y)
      total = z
    end
    rest, shift = rest // 10, shift * 10
  end
  T.eq(num(ex.answer, numbers), total)
  T.eq(total, a * b)
  T.eq(ex.meta_json, string.format('{"a":%d,"b":%d,"digits":%d}', a, b, digits))
  return a, b
end

local function load_all(opts)
  local ds = coconut.plugin.load("dataset", "arith", opts)
  return {train = ds:load("train"), valid = ds:load("valid"), test = ds:load("test")}
end

T.test("arith plugin: every step recomputed, digits and number formats", function()
  for _, numbers in ipairs{"plain", "spaced", "reversed"} do
    for _, digits in ipairs{1, 2, 3, 4, 5} do
      local n = digits == 1 and 20 or 60
      local s = load_all{digits = digits, numbers = numbers, n_train = n, n_valid = 10, n_test = 10, seed = digits}
      T.eq(#s.train, n); T.eq(#s.valid, 10); T.eq(#s.test, 10)
      for _, split in ipairs{"train", "valid", "test"} do
        for _, ex in ipairs(s[split]) do check_example(ex, digits, numbers) end
      end
    end
  end
  -- the defaults: 4x4, plain numbers, 10000 / 500 / 1000
  local ds = coconut.plugin.load("dataset", "arith", {})
  local v = ds:load("valid")
  T.eq(#v, 500)
  check_example(v[1], 4, "plain")
end)

T.test("arith plugin: disjoint splits, determinism in the seed, option errors", function()
  local function key(ex)
    local a, b = ex.meta_json:match('"a":(%d+),"b":(%d+)')
    a, b = tonumber(a), tonumber(b)
    return a < b and (a .. "*" .. b) or (b .. "*" .. a)
  end
  local s = load_all{digits = 2, n_train = 3000, n_valid = 500, n_test = 500, seed = 3}
  local seen = {}
  for _, split in ipairs{"train", "valid", "test"} do
    for i, ex in ipairs(s[split]) do
      local k = key(ex)
      T.ok(not seen[k], string.format("%s %d: pair %s already in %s", split, i, k, tostring(seen[k])))
      seen[k] = split
    end
  end
  -- same seed: same text; another seed: other problems
  local again = load_all{digits = 2, n_train = 3000, n_valid = 500, n_test = 500, seed = 3}
  local other = load_all{digits = 2, n_train = 3000, n_valid = 500, n_test = 500, seed = 4}
  local same_other = 0
  for _, split in ipairs{"train", "valid", "test"} do
    for i, ex in ipairs(s[split]) do
      T.eq(again[split][i].question, ex.question); T.eq(table.concat(again[split][i].steps, " "), table.concat(ex.steps, " "))
      if other[split][i].question == ex.question then same_other = same_other + 1 end
    end
  end
  T.ok(same_other < 10, "seed 4 draws other problems (" .. same_other .. " equal)")
  -- the test split does not move with the train size
  local small = load_all{digits = 2, n_train = 10, n_valid = 500, n_test = 500, seed = 3}
  for i, ex in ipairs(s.test) do T.eq(small.test[i].question, ex.question) end
  -- errors name the option
  T.raises(function() coconut.plugin.load("dataset", "arith", {digits = 0}) end, "option 'digits' = 0 is outside 1..9")
  T.raises(function() coconut.plugin.load("dataset", "arith", {digits = 10}) end, "option 'digits' = 10 is outside 1..9")
  T.raises(function() coconut.plugin.load("dataset", "arith", {numbers = "roman"}) end,
    "option 'numbers' = 'roman' is not one of plain, spaced, reversed")
  T.raises(function() coconut.plugin.load("dataset", "arith", {n_valid = -1}) end, "option 'n_valid' = -1 is outside")
  T.raises(function() coconut.plugin.load("dataset", "arith", {train_file = "x.txt"}) end,
    "option 'train_file' = 'x.txt': arith generates its data")
  T.raises(function() coconut.plugin.load("dataset", "arith", {digits = 1, n_train = 40, n_valid = 3, n_test = 3}) end,
    "n_train + n_valid + n_test = 46 exceeds the 45 distinct pairs of 1-digit operands")
  T.raises(function() coconut.plugin.load("dataset", "arith", {}):load("dev") end, "unknown split 'dev'")
end)

T.test("arith prepare(): files in the gsm8k format, read back by the gsm8k plugin as the same examples", function()
  local d = T.tmpdir("arithprep")
  local opts = {digits = 3, numbers = "reversed", n_train = 30, n_valid = 5, n_test = 7, seed = 9, dir = d .. "/data"}
  local ds = coconut.plugin.load("dataset", "arith", opts)
  ds:prepare()
  local g = coconut.plugin.load("dataset", "gsm8k", {dir = d .. "/data"})
  for _, split in ipairs{"train", "valid", "test"} do
    local want, got = ds:load(split), g:load(split)
    T.eq(#got, #want, split)
    for i, ex in ipairs(want) do
      T.eq(got[i].question, ex.question); T.eq(got[i].answer, ex.answer)
      T.eq(table.concat(got[i].steps, "|"), table.concat(ex.steps, "|"))
    end
  end
  T.rmtree(d)
end)

T.test("method variants: a base method with curriculum options changed", function()
  local o = {c_thought = 1, max_latent_stage = 3, epochs_per_stage = 2, epochs = 10, baseline_epochs = 4,
             pad_latent_to_max = true, uniform_prob = 0.0, reset_optimizer = false, coconut_loss = "official",
             coconut_markers = true, pause_count = 0}
  local variants = {coconut_c2 = {method = "coconut", options = {c_thought = 2}},
                    coconut_x = {method = "coconut", options = function(opts) return {c_thought = opts.max_latent_stage} end},
                    pause9 = {method = "pause", options = {n_pause = 9}}}
  local c2 = E.curriculum(o, "coconut_c2", variants)
  T.eq(c2.name, "coconut"); T.eq(c2.options.c_thought, 2)
  T.eq(c2.options.max_latent_stage, 3); T.eq(c2.options.reset_optimizer, false) -- the rest from the run
  T.eq(c2:eval_plan(3, 5).n_latent, 6)
  T.eq(E.curriculum(o, "coconut", variants).options.c_thought, 1) -- the base method is unchanged
  T.eq(E.curriculum(o, "coconut_x", variants).options.c_thought, 3)
  T.eq(E.curriculum(o, "pause9", variants).options.n_pause, 9)
  T.eq(E.base_method("coconut_c2", variants), "coconut"); T.eq(E.base_method("cot", variants), "cot")
  T.eq(E.base_method("coconut_c2", nil), "coconut_c2")
  T.eq(E.needs_pause{E.base_method("pause9", variants)}, true)
  T.raises(function() E.curriculum(o, "bad", {bad = {method = "coconut_c2", options = {}}, coconut_c2 = variants.coconut_c2}) end,
    "needs a base method name")
end)

local function read(path) return assert(coconut.csv.read(path)) end

T.test("arith --preset quick: cot, nocot, icot, coconut_c1, coconut_c2 from one run", function()
  local d = T.tmpdir("e2earith")
  local rc, out = T.sh(string.format("%s run experiments/arith.lua --preset quick --results %s", BIN, d .. "/results"))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/results/arith/quick"
  T.ok(out:find("data: 96 train, 16 valid, 16 test examples", 1, true), out)
  -- reversed digits: the vocabulary is digits, operators, markers and the
  -- question's words, not one token per number
  local ntok = tonumber(out:match("tokenizer: words, (%d+) tokens"))
  T.ok(ntok and ntok <= 30, "digit-level vocabulary: " .. tostring(ntok))
  for _, m in ipairs{"coconut_c1", "coconut_c2"} do
    T.ok(out:find("[" .. m .. "] starting from the CoT model (" .. root .. "/cot/checkpoints/best/model.safetensors)", 1, true), m)
  end
  local res = read(root .. "/results.csv")
  local methods = {"cot", "nocot", "icot", "coconut_c1", "coconut_c2"}
  T.eq(#res, #methods)
  for i, m in ipairs(methods) do
    T.eq(res[i].method, m)
    local ev = read(root .. "/" .. m .. "/eval.csv")
    for _, s in ipairs(read(root .. "/" .. m .. "/summary.csv")) do
      local sum, n = 0, 0
      for _, e in ipairs(ev) do
        if e.split == s.split and e.epoch == s.epoch then sum = sum + tonumber(e.correct); n = n + 1 end
      end
      T.eq(n, tonumber(s.n), m .. " rows")
      T.near(tonumber(s.accuracy), sum / n, 1e-9, m .. " " .. s.split .. " epoch " .. s.epoch)
    end
    local sum, n = 0, 0
    for _, e in ipairs(ev) do
      if e.split == "test" then
        sum = sum + tonumber(e.correct); n = n + 1
        -- a gold answer is the product in reversed digits
        local g, nd = num(e.gold, "reversed")
        T.ok(g and nd >= 3 and not e.gold:match("0$"), "gold in reversed digits: " .. e.gold)
        local c = m == "coconut_c1" and 1 or m == "coconut_c2" and 2 or 0
        T.eq(tonumber(e.thoughts), c * math.min(3, tonumber(e.stage)), m .. " thoughts at stage " .. e.stage)
      end
    end
    T.eq(n, 16, m .. " test rows")
    T.near(tonumber(res[i].test_accuracy), sum / n, 1e-9, m .. " test accuracy")
    -- the quick preset's iCoT never removes the whole chain (remove_all_beyond 0):
    -- only its last epoch may be selected
    if m == "icot" then T.eq(tonumber(res[i].best_epoch), 3, "icot best epoch") end
  end
  -- a variant's config.json names its base method and option
  local conf = coconut.json.decode(assert(coconut.fs.read(root .. "/coconut_c2/config.json")))
  T.eq(conf.method, "coconut_c2"); T.eq(conf.variant.method, "coconut"); T.eq(conf.variant.options.c_thought, 2)
  T.rmtree(d)
end)
