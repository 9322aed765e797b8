-- --seeds: parsing, the option every experiment gets, new tokens per question
-- from eval.csv, the aggregation over seeds (mean, sample std, row order,
-- table.md, the error-bar figure), and an end-to-end `--preset quick --seeds 0,1`.
local T = require "tap"
local S = require "coco.seeds"
local O = require "coco.options"
local F = require "coco.figures"

-- the binary under test (tests run from the repository root)
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local EVAL = {"split", "id", "epoch", "stage", "k", "prediction", "gold", "correct", "new_tokens", "thoughts", "output"}

local function read(path) return assert(coconut.csv.read(path)) end

T.test("seeds: --seeds parses a comma-separated list and names the option on bad items", function()
  local s = S.parse("0,1,2")
  T.eq(#s, 3); T.eq(s[1], 0); T.eq(s[2], 1); T.eq(s[3], 2)
  T.eq(math.type(s[1]), "integer")
  s = S.parse(" 7 , 3")
  T.eq(#s, 2); T.eq(s[1], 7); T.eq(s[2], 3) -- the order given is kept
  T.eq(#S.parse("42"), 1)
  T.eq(S.parse(""), nil); T.eq(S.parse("  "), nil); T.eq(S.parse(nil), nil)
  local err = T.raises(function() S.parse("0,x") end, "option 'seeds'")
  T.ok(err:find("'x' is not an integer seed", 1, true), err)
  T.raises(function() S.parse("0,1.5") end, "'1.5' is not an integer seed")
  T.raises(function() S.parse("0,,1") end, "'' is not an integer seed")
  T.raises(function() S.parse("1,2,1") end, "seed 1 is listed twice")
end)

T.test("seeds: add_option appends 'seeds' to a spec once and keeps a spec's own", function()
  local spec = O.spec{{"seed", "int", 0, "seed"}, {"lr", "number", 1e-3, "lr"}}
  S.add_option(spec)
  T.eq(#spec.order, 3); T.eq(spec.order[3], "seeds")
  T.eq(spec.by.seeds.type, "string"); T.eq(spec.by.seeds.default, "")
  S.add_option(spec)
  T.eq(#spec.order, 3, "not added twice")
  local o = O.parse(spec, nil, {"--seeds", "0,1"})
  T.eq(o.seeds, "0,1"); T.eq(o.seed, 0)
  T.eq(O.parse(spec, nil, {}).seeds, "")
  local own = O.spec{{"seeds", "string", "5,6", "my seeds"}, {"seed", "int", 0, "seed"}}
  S.add_option(own)
  T.eq(#own.order, 2); T.eq(own.order[1], "seeds"); T.eq(own.by.seeds.default, "5,6"); T.eq(own.by.seeds.doc, "my seeds")
end)

T.test("seeds: mean new tokens and thoughts per split from a hand-made eval.csv", function()
  local d = T.tmpdir("seeds_eval")
  local w = assert(coconut.csv.open(d .. "/eval.csv", EVAL))
  local function row(split, id, nt, th)
    w:row{split = split, id = id, epoch = 1, stage = 0, k = th, prediction = "A", gold = "A", correct = 1, new_tokens = nt,
          thoughts = th, output = "### A"}
  end
  row("valid", 0, 100, 9); row("valid", 1, 200, 9)            -- other splits do not count
  row("test", 0, 3, 2); row("test", 1, 5, 2); row("test", 2, 10, 0)
  row("official", 0, 7, 6)
  assert(w:close())
  local m = S.eval_means(d .. "/eval.csv")
  T.eq(m.test.n, 3)
  T.near(m.test.new_tokens, 6, 1e-12)          -- (3 + 5 + 10) / 3
  T.near(m.test.thoughts, 4 / 3, 1e-12)        -- (2 + 2 + 0) / 3
  T.near(m.valid.new_tokens, 150, 1e-12)
  T.near(m.official.new_tokens, 7, 1e-12); T.near(m.official.thoughts, 6, 1e-12)
  T.eq(m.nothere, nil)
  -- a bad number is an error naming the file
  local w2 = assert(coconut.csv.open(d .. "/bad.csv", EVAL))
  w2:row{split = "test", id = 0, new_tokens = "many", thoughts = 0}
  assert(w2:close())
  T.raises(function() S.eval_means(d .. "/bad.csv") end, "bad.csv: data row 1")
  T.raises(function() S.eval_means(d .. "/missing.csv") end, "missing.csv")
  T.rmtree(d)
end)

-- per-seed results.csv rows as coconut.csv.read returns them (strings)
local PER_COLS = {"method", "best_epoch", "valid_accuracy", "test_accuracy", "test_new_tokens", "test_thoughts",
                  "train_seconds", "wall_seconds", "official_accuracy", "official_new_tokens", "official_thoughts"}
local function per_seed()
  local function r(m, be, va, ta, nt, th, off) return {method = m, best_epoch = be, valid_accuracy = va, test_accuracy = ta,
    test_new_tokens = nt, test_thoughts = th, train_seconds = "10", wall_seconds = "12", official_accuracy = off,
    official_new_tokens = "5", official_thoughts = "6"} end
  return {
    {seed = 0, cols = PER_COLS, rows = {r("coconut", "3", "0.8", "0.70", "3", "6", "0.1"), r("cot", "2", "0.6", "0.50", "10", "0", "0.2")}},
    {seed = 1, cols = PER_COLS, rows = {r("coconut", "4", "0.9", "0.85", "4", "6", "0.3"), r("cot", "2", "0.6", "0.60", "12", "0", "")}},
    {seed = 2, cols = PER_COLS, rows = {r("coconut", "5", "0.7", "0.90", "5", "6", "0.2"), r("cot", "1", "0.6", "0.70", "14", "0", "")}},
  }
end

T.test("seeds: aggregate rows, order, mean and sample std (n - 1)", function()
  local cols, rows, methods = S.aggregate(per_seed())
  T.eq(table.concat(cols, ","), "seed," .. table.concat(PER_COLS, ","))
  T.eq(table.concat(methods, ","), "coconut,cot")
  local order = {}
  for _, r in ipairs(rows) do order[#order + 1] = r.seed .. ":" .. r.method end
  T.eq(table.concat(order, " "), "0:coconut 0:cot 1:coconut 1:cot 2:coconut 2:cot mean:coconut std:coconut mean:cot std:cot")
  -- per-seed rows keep the per-seed values as they were read
  T.eq(rows[3].test_accuracy, "0.85"); T.eq(rows[3].best_epoch, "4")
  local mc, sc, mt, st = rows[7], rows[8], rows[9], rows[10]
  -- coconut test accuracy 0.70, 0.85, 0.90: mean 0.81667, sample std 0.10408 (population std would be 0.08498)
  T.near(mc.test_accuracy, 0.8166666667, 1e-9); T.near(sc.test_accuracy, 0.1040833, 1e-6)
  -- cot 0.5, 0.6, 0.7: mean 0.6, std 0.1; new tokens 10, 12, 14: mean 12, std 2
  T.near(mt.test_accuracy, 0.6, 1e-12); T.near(st.test_accuracy, 0.1, 1e-12)
  T.near(mt.test_new_tokens, 12, 1e-12); T.near(st.test_new_tokens, 2, 1e-12)
  T.near(mc.test_new_tokens, 4, 1e-12); T.near(sc.test_new_tokens, 1, 1e-12)
  T.near(mc.test_thoughts, 6, 1e-12); T.near(sc.test_thoughts, 0, 1e-12)
  T.near(mc.valid_accuracy, 0.8, 1e-12); T.near(sc.valid_accuracy, 0.1, 1e-12)
  T.near(mc.best_epoch, 4, 1e-12); T.near(mc.wall_seconds, 12, 1e-12); T.near(sc.train_seconds, 0, 1e-12)
  -- extra set: coconut 0.1, 0.3, 0.2 -> 0.2 ± 0.1; cot has one number (0.2) -> mean 0.2, std empty
  T.near(mc.official_accuracy, 0.2, 1e-12); T.near(sc.official_accuracy, 0.1, 1e-12)
  T.near(mt.official_accuracy, 0.2, 1e-12); T.eq(st.official_accuracy, "")
  -- one seed: every std is empty (undefined), means are that seed's values
  local _, one = S.aggregate({per_seed()[2]})
  T.eq(#one, 6); T.eq(one[3].seed, "mean"); T.near(one[3].test_accuracy, 0.85, 1e-12)
  T.eq(one[4].seed, "std"); T.eq(one[4].test_accuracy, ""); T.eq(one[4].test_new_tokens, "")
  -- plain helpers
  local m, s = S.mean_std({2, 4, 4, 4, 5, 5, 7, 9})
  T.near(m, 5, 1e-12); T.near(s, math.sqrt(32 / 7), 1e-12)
  T.eq(select(2, S.mean_std({1})), nil); T.eq(S.mean_std({}), nil)
end)

T.test("seeds: results.csv written atomically and read back, table.md with mean ± std", function()
  local d = T.tmpdir("seeds_agg")
  local cols, rows, methods = S.aggregate(per_seed())
  S.write_csv(d .. "/results.csv", cols, rows)
  local back, bc = read(d .. "/results.csv")
  T.eq(table.concat(bc, ","), table.concat(cols, ","))
  T.eq(#back, 10); T.eq(back[7].seed, "mean"); T.eq(back[8].seed, "std")
  T.near(tonumber(back[8].test_accuracy), 0.1040833, 1e-6)
  T.eq(back[10].official_accuracy, "") -- the undefined std stays empty in the file
  for _, f in ipairs(coconut.fs.listdir(d)) do T.ok(not f:find("tmp", 1, true), "no temp file left: " .. f) end
  local md = S.table_md(cols, rows, "prosqa_k6, run x: 3 seeds (0, 1, 2)")
  T.ok(md:find("# prosqa_k6, run x: 3 seeds (0, 1, 2)\n", 1, true), md)
  -- # tokens (the paper's count) = new tokens + thoughts, summed here since these rows lack test_tokens
  T.ok(md:find("\n## test\n\n| Method | Accuracy (%) mean ± std | # tokens (mean) | # new tokens (mean) | # thoughts (mean) | n seeds | Accuracy per seed (%) |\n|---|---|---|---|---|---|---|\n", 1, true), md)
  T.ok(md:find("\n| coconut | 81.7 ± 10.4 | 10.0 | 4.0 | 6.0 | 3 | 0: 70.0, 1: 85.0, 2: 90.0 |\n", 1, true), md)
  T.ok(md:find("\n| cot | 60.0 ± 10.0 | 12.0 | 12.0 | 0.0 | 3 | 0: 50.0, 1: 60.0, 2: 70.0 |\n", 1, true), md)
  -- the extra set gets the same table; cot has a single number there
  local i = md:find("\n## official\n", 1, true)
  T.ok(i and i > md:find("\n## test\n", 1, true), "extra set after test")
  T.ok(md:find("\n| coconut | 20.0 ± 10.0 | 11.0 | 5.0 | 6.0 | 3 | 0: 10.0, 1: 30.0, 2: 20.0 |\n", i, true), md)
  T.ok(md:find("\n| cot | 20.0 ± n/a | 11.0 | 5.0 | 6.0 | 1 | 0: 20.0 |\n", i, true), md)
  T.ok(not md:find("## valid", 1, true), "no valid section")
  T.eq(S.format_pct(0.5, nil), "50.0 ± n/a"); T.eq(S.format_pct(0.123, 0.0456), "12.3 ± 4.6")
  -- the error-bar figure renders from results.csv alone
  local png, svg = F.compare_seeds(d, methods, "test")
  T.ok(#assert(coconut.fs.read(png)) > 1000); T.eq(assert(coconut.fs.read(png)):sub(2, 4), "PNG")
  local svgt = assert(coconut.fs.read(svg))
  T.ok(#svgt > 500 and svgt:find("</svg>", 1, true))
  local gp = assert(coconut.fs.read(d .. "/figures/compare_seeds.gp"))
  T.ok(gp:find("with vectors heads", 1, true) and gp:find('M = "coconut cot"', 1, true))
  -- a single seed (empty std rows) still renders
  local d1 = d .. "/one"
  local c1, r1, m1 = S.aggregate({per_seed()[1]})
  assert(coconut.fs.mkdir(d1)); S.write_csv(d1 .. "/results.csv", c1, r1)
  T.ok(#assert(coconut.fs.read((F.compare_seeds(d1, m1, "one seed")))) > 1000)
  T.rmtree(d)
end)

T.test("seeds: --seeds 0,x is refused naming the option; --help lists --seeds", function()
  local rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --preset quick --seeds 0,x --results /nonexistent/x")
  T.eq(rc, 2, out)
  T.ok(out:find("option 'seeds': 'x' is not an integer seed", 1, true), out)
  rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --help")
  T.eq(rc, 0); T.ok(out:find("--seeds", 1, true), out)
end)

T.test("prosqa_k6 --preset quick --method coconut,nocot --seeds 0,1: per-seed runs, aggregate, table, figure, resume", function()
  local d = T.tmpdir("e2eseeds")
  -- two methods (Coconut with its thoughts, and No-CoT) keep it to a few seconds; one thread: reproducible
  local base = string.format("%s run experiments/prosqa_k6.lua --preset quick --threads 1 --data %s", BIN, d .. "/data")
  local rc, out = T.sh(base .. " --method coconut,nocot --seeds 0,1 --results " .. d .. "/results")
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/results/prosqa_k6/quick"
  local methods = {"coconut", "nocot"}
  -- per seed: a complete single-seed run directory
  for _, s in ipairs{0, 1} do
    local sd = root .. "/seed" .. s
    local res, cols = read(sd .. "/results.csv")
    T.eq(table.concat(cols, ","),
      "method,best_epoch,valid_accuracy,test_accuracy,test_new_tokens,test_thoughts,train_seconds,wall_seconds,test_tokens")
    T.eq(#res, 2)
    local cfg = assert(coconut.json.read(sd .. "/config.json"))
    T.eq(cfg.seed, s); T.eq(cfg.run, "quick/seed" .. s); T.eq(cfg.seeds, "")
    for i, m in ipairs(methods) do
      T.eq(res[i].method, m)
      -- test_new_tokens / test_thoughts are the means over the test rows of eval.csv
      local sum, th, n = 0, 0, 0
      for _, e in ipairs(read(sd .. "/" .. m .. "/eval.csv")) do
        if e.split == "test" then sum, th, n = sum + tonumber(e.new_tokens), th + tonumber(e.thoughts), n + 1 end
      end
      T.eq(n, 24, "test rows")
      T.near(tonumber(res[i].test_new_tokens), sum / n, 1e-6, m .. " test_new_tokens")
      T.near(tonumber(res[i].test_thoughts), th / n, 1e-6, m .. " test_thoughts")
      T.near(tonumber(res[i].test_tokens), (sum + th) / n, 1e-6, m .. " test_tokens (the paper's # tokens)")
      T.ok(coconut.fs.exists(sd .. "/" .. m .. "/checkpoints/best/model.safetensors"))
    end
  end
  -- the aggregate
  local agg, ac = read(root .. "/results.csv")
  T.eq(ac[1], "seed"); T.eq(ac[2], "method")
  T.eq(#agg, 8)
  local order = {}
  for _, r in ipairs(agg) do order[#order + 1] = r.seed .. ":" .. r.method end
  T.eq(table.concat(order, " "), "0:coconut 0:nocot 1:coconut 1:nocot mean:coconut std:coconut mean:nocot std:nocot")
  for k, m in ipairs(methods) do
    local a0, a1 = tonumber(agg[k].test_accuracy), tonumber(agg[2 + k].test_accuracy)
    local mean, std = tonumber(agg[4 + 2 * k - 1].test_accuracy), tonumber(agg[4 + 2 * k].test_accuracy)
    T.near(mean, (a0 + a1) / 2, 1e-6, m .. " mean")
    T.near(std, math.abs(a0 - a1) / math.sqrt(2), 1e-6, m .. " std") -- sample std of two values
  end
  local md = assert(coconut.fs.read(root .. "/table.md"))
  T.ok(md:find("| Method | Accuracy (%) mean ± std | # tokens (mean) | # new tokens (mean)", 1, true), md)
  for _, m in ipairs(methods) do T.ok(md:find("\n| " .. m .. " | ", 1, true), "table row " .. m) end
  T.ok(out:find("| Method | Accuracy (%) mean ± std", 1, true), "the table is printed")
  T.ok(#assert(coconut.fs.read(root .. "/figures/compare_seeds.png")) > 1000)
  T.ok(#assert(coconut.fs.read(root .. "/figures/compare_seeds.svg")) > 500)
  T.eq(assert(coconut.json.read(root .. "/config.json")).seeds, "0,1")
  -- a seed directory is what `--seed 1 --run quick/seed1` produces
  rc, out = T.sh(base .. " --seed 1 --run quick/seed1 --method nocot --results " .. d .. "/single")
  T.eq(rc, 0, out)
  local single = d .. "/single/prosqa_k6/quick/seed1/nocot"
  -- the same options but --results (this check needs another results root)
  local c1 = assert(coconut.fs.read(single .. "/config.json")):gsub('"results": "[^"]*"', "")
  local c2 = assert(coconut.fs.read(root .. "/seed1/nocot/config.json")):gsub('"results": "[^"]*"', "")
  T.eq(c1, c2)
  local e1, e2 = read(single .. "/eval.csv"), read(root .. "/seed1/nocot/eval.csv")
  T.eq(#e1, #e2)
  for i = 1, #e1 do T.eq(e1[i].output, e2[i].output, "row " .. i) end
  -- again without --resume: refused; with --resume: nothing retrained, same numbers
  rc, out = T.sh(base .. " --method coconut,nocot --seeds 0,1 --results " .. d .. "/results")
  T.eq(rc, 2); T.ok(out:find("already holds a finished run", 1, true), out)
  rc, out = T.sh(base .. " --method coconut,nocot --seeds 0,1 --resume --results " .. d .. "/results")
  T.eq(rc, 0, out)
  T.ok(not out:find("epoch 1/", 1, true), "resume trains nothing")
  T.ok(out:find("already finished", 1, true), out)
  local again = read(root .. "/results.csv")
  T.eq(#again, 8)
  for i = 1, 8 do T.eq(again[i].test_accuracy, agg[i].test_accuracy); T.eq(again[i].test_new_tokens, agg[i].test_new_tokens) end
  -- a run grows: another method on seed 1 only keeps seed 0 and seed 1's
  -- other methods; its mean covers the one seed that has it
  rc, out = T.sh(base .. " --method cot --seeds 1 --resume --results " .. d .. "/results")
  T.eq(rc, 0, out)
  local grown = read(root .. "/results.csv")
  local by = {}
  for _, r in ipairs(grown) do by[r.seed .. "/" .. r.method] = r end
  for _, k in ipairs{"0/coconut", "0/nocot", "1/coconut", "1/nocot", "1/cot", "mean/coconut", "mean/nocot", "mean/cot"} do
    T.ok(by[k], "row " .. k)
  end
  T.eq(by["0/cot"], nil, "seed 0 has no cot")
  T.eq(by["mean/cot"].test_accuracy, by["1/cot"].test_accuracy, "cot's mean is seed 1's")
  T.eq(by["std/cot"].test_accuracy, "", "one seed: no std")
  for _, r in ipairs(agg) do
    local g = by[r.seed .. "/" .. r.method]
    T.ok(g and g.test_accuracy == r.test_accuracy, "kept " .. r.seed .. "/" .. r.method)
  end
  local md = assert(coconut.fs.read(root .. "/table.md"))
  T.ok(md:find("2 seeds (0, 1)", 1, true), md)
  T.rmtree(d)
end)
