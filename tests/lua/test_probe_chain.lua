-- The chain probe (plugins/probe/chain.lua) on hand-made events whose rows are
-- known, then end to end on an arith run where every event carries its steps.
local T = require "tap"

local Q = "Tumpuses are gorpuses. Gorpuses are wumpuses. Every lorpus is hot. Alex is a tumpus. True or false: Alex is a wumpus."
local GOLD = {"Alex is a tumpus. Tumpuses are gorpuses.", "Alex is a gorpus. Gorpuses are wumpuses.", "Alex is a wumpus."}

local function row(p, output, extra)
  local ev = {split = "test", index = 0, question = Q, steps = GOLD, output_text = output, correct = true, tokens = {}}
  for k, v in pairs(extra or {}) do ev[k] = v end
  local rows = p:on_example(ev)
  T.eq(#rows, 1)
  return rows[1]
end

-- columns after k, index, correct: gold_steps, written, in_gold, first_ok, run, completes, sentences, in_question
local function expect(r, want, name)
  for i, v in ipairs(want) do
    if tostring(r[i + 3]) ~= tostring(v) then
      error(string.format("%s: column %d is %s, want %s", name, i + 3, tostring(r[i + 3]), tostring(v)), 0)
    end
  end
end

T.test("chain probe: written steps against gold steps and the question, hand-made outputs", function()
  local p = coconut.plugin.load("probe", "chain", {})
  T.eq(table.concat(p:columns(), ","),
    "k,index,correct,gold_steps,written,in_gold,first_ok,run,completes,sentences,in_question")
  -- the whole gold chain (CoT): 5 sentences, 3 of them rules or facts of the question
  expect(row(p, table.concat(GOLD, "\n") .. "\n### True"), {3, 3, 3, 1, 3, 1, 5, 3}, "cot")
  -- Coconut after one thought: the last two steps
  expect(row(p, GOLD[2] .. "\n" .. GOLD[3] .. "\n### True", {k = 1}), {3, 2, 2, 1, 2, 1, 3, 1}, "coconut k=1")
  T.eq(row(p, "### True", {k = 1})[1], 1)
  -- right form, wrong content: nothing in the gold chain or the question
  expect(row(p, "Alex is a lorpus. Each lorpus is a lorpus.\n### False"), {3, 1, 0, 0, 0, 0, 2, 0}, "invented")
  -- a slip: steps 1 and 3 (run stops at the gap, the chain does not complete)
  expect(row(p, GOLD[1] .. "\n" .. GOLD[3] .. "\n### True"), {3, 2, 2, 1, 1, 0, 3, 2}, "slip")
  -- no chain at all; blank lines are not steps; the chain ends at the answer line
  expect(row(p, "\n### True\nAlex is a tumpus."), {3, 0, 0, "", 0, 0, 0, 0}, "no chain")
  -- white space does not matter (a tokenizer's spacing), a repeated step counts twice
  local g = {"<<4*5=20>>", "<<20+1=21>>"}
  local r = p:on_example{split = "test", index = 1, question = "4*5+1", steps = g, tokens = {},
                         output_text = "<< 4 * 5 = 20 >>\n<< 4 * 5 = 20 >>\n### 21", correct = false}
  expect(r[1], {2, 2, 2, 1, 1, 0, 2, 0}, "arith spacing")
  -- the pass summary over its 7 examples (cot, k=1, k=1 empty, invented, slip,
  -- no chain, arith): means, and ratios pooled over the pass
  local m = p:on_end("test", 1, 0)
  T.eq(#m, 1)
  local s = m[1]
  T.eq(s[2], "mean")
  T.near(s[3], 6 / 7, 1e-12, "correct")
  T.near(s[5], (3 + 2 + 0 + 1 + 2 + 0 + 2) / 7, 1e-12, "written")
  T.near(s[6], (3 + 2 + 0 + 0 + 2 + 0 + 2) / 10, 1e-12, "in_gold")
  T.near(s[7], (1 + 1 + 0 + 1 + 1) / 5, 1e-12, "first_ok over the examples that wrote a step")
  T.near(s[8], (3 + 2 + 0 + 0 + 1 + 0 + 1) / 7, 1e-12, "run")
  T.near(s[9], 2 / 7, 1e-12, "completes")
  T.near(s[11], (3 + 1 + 0 + 2 + 0) / (5 + 3 + 2 + 3 + 2), 1e-12, "in_question")
  -- a new pass starts from zero
  row(p, "### True")
  T.near(p:on_end("test", 2, 0)[1][5], 0, 1e-12)
  T.raises(function() coconut.plugin.load("probe", "chain", {answer_prefix = ""}) end, "answer_prefix must not be empty")
end)

T.test("chain probe: every event of an arith run carries the example's steps (arith --preset quick --probes chain)", function()
  local d = T.tmpdir("chainprobe")
  local rc, out = T.sh((os.getenv("COCONUT_BIN") or "build/coconut") .. " run experiments/arith.lua --preset quick "
    .. "--method cot,coconut_c1 --probes chain --results " .. d .. " --data " .. d .. "/data")
  T.eq(rc, 0, out)
  for _, m in ipairs{"cot", "coconut_c1"} do
    local rows = assert(coconut.csv.read(d .. "/arith/quick/" .. m .. "/probes/chain.csv"))
    local n = 0
    for _, r in ipairs(rows) do
      if r.index ~= "mean" then
        n = n + 1
        T.eq(tonumber(r.gold_steps), 3, m .. ": 2x2 products have 3 steps") -- 2d - 1
        T.ok(tonumber(r.in_gold) <= tonumber(r.written))
      end
    end
    T.ok(n > 0, m .. " rows")
  end
  T.rmtree(d)
end)
