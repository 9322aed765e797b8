-- End to end: `coconut run experiments/prosqa_k6.lua --preset quick` trains and
-- evaluates the eight methods of the paper's Table 1 (CoT, No-CoT, iCoT, Pause,
-- Coconut and its three ablations) on generated ProsQA, writing CSVs and figures.
-- COCONUT_BIN selects the binary (default build/coconut).
local T = require "tap"
local E = require "coco.experiment"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local function read(path) return assert(coconut.csv.read(path)) end

T.test("prosqa_k6 --preset quick: CSV columns, figures, accuracies consistent", function()
  local d = T.tmpdir("e2e")
  local data = d .. "/data"
  local rc, out = T.sh(string.format(BIN .. " run experiments/prosqa_k6.lua --preset quick --results %s --data %s",
    d .. "/results", data))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/results/prosqa_k6/quick"
  -- the printed table
  T.ok(out:find("method%s+valid acc%s+test acc%s+# tokens"), out)
  for _, m in ipairs(E.PAPER_ORDER) do T.ok(out:find("\n" .. m .. " ", 1, true), "table row for " .. m) end
  -- results.csv: the paper's rows in the paper's order
  local res, cols = read(root .. "/results.csv")
  T.eq(#res, 8); T.eq(cols[1], "method"); T.eq(cols[3], "valid_accuracy"); T.eq(cols[4], "test_accuracy")
  for i, m in ipairs(E.PAPER_ORDER) do
    T.eq(res[i].method, m)
    T.near(tonumber(res[i].test_tokens), tonumber(res[i].test_new_tokens) + tonumber(res[i].test_thoughts), 1e-6, m .. " # tokens")
  end
  for _, m in ipairs(E.PAPER_ORDER) do
    local dir = root .. "/" .. m
    local metrics, mc = read(dir .. "/metrics.csv")
    T.eq(table.concat(mc, ","), "step,epoch,stage,epoch_progress,loss,lr,grad_norm,tokens_per_s,seconds,outside_c_share")
    T.ok(#metrics > 0)
    for _, r in ipairs(metrics) do
      T.ok(tonumber(r.loss) and tonumber(r.loss) > 0, "finite loss")
      T.ok(tonumber(r.tokens_per_s) and tonumber(r.tokens_per_s) > 0, "tokens/s")
      local share = tonumber(r.outside_c_share)
      T.ok(share and share >= 0 and share < 1, "outside_c_share in [0, 1): " .. tostring(r.outside_c_share))
    end
    local ev, ec = read(dir .. "/eval.csv")
    T.eq(table.concat(ec, ","), "split,id,epoch,stage,k,prediction,gold,correct,new_tokens,thoughts,output")
    local sm, sc = read(dir .. "/summary.csv")
    T.eq(table.concat(sc, ","), "split,epoch,stage,train_loss,accuracy,n,epoch_seconds,train_tokens_per_s,eval_seconds,lr,stage_accuracy")
    -- accuracy in summary.csv == mean of `correct` over the matching eval rows
    local n_valid_rows = 0
    for _, s in ipairs(sm) do
      local sum, n = 0, 0
      for _, e in ipairs(ev) do
        if e.split == s.split and e.epoch == s.epoch then sum = sum + tonumber(e.correct); n = n + 1 end
      end
      T.eq(n, tonumber(s.n), m .. " rows of " .. s.split .. " epoch " .. s.epoch)
      T.near(tonumber(s.accuracy), sum / n, 1e-6, m .. " accuracy " .. s.split .. " epoch " .. s.epoch)
      if s.split == "valid" then n_valid_rows = n_valid_rows + 1 end
    end
    T.ok(n_valid_rows >= 2, "one summary row per epoch")
    -- Coconut evaluates with thoughts once its stage > 0, w/o curriculum from the
    -- start; pause slots (pause, pause as thought) are prompt tokens, not thoughts
    if m == "coconut" or m == "coconut_nocur" then
      local with = 0
      for _, e in ipairs(ev) do if tonumber(e.thoughts) > 0 then with = with + 1 end end
      T.ok(with > 0, "coconut used continuous thoughts at evaluation")
    else
      for _, e in ipairs(ev) do T.eq(e.thoughts, "0") end
    end
    for _, f in ipairs{"loss", "accuracy"} do
      local png = assert(coconut.fs.read(dir .. "/figures/" .. f .. ".png"))
      T.ok(#png > 1000, f .. ".png is non-empty"); T.eq(png:sub(2, 4), "PNG")
      T.ok(coconut.fs.exists(dir .. "/figures/" .. f .. ".gp"), f .. ".gp kept")
      T.ok(#assert(coconut.fs.read(dir .. "/figures/" .. f .. ".svg")) > 500)
    end
    T.ok(coconut.fs.exists(dir .. "/checkpoints/best/model.safetensors"))
    T.ok(coconut.fs.exists(dir .. "/checkpoints/last/optimizer.safetensors"))
  end
  T.ok(#assert(coconut.fs.read(root .. "/figures/compare_accuracy.png")) > 1000)
  -- a figure re-renders from the CSVs alone
  local dir = root .. "/coconut"
  os.remove(dir .. "/figures/accuracy.png")
  T.ok(coconut.plot(dir .. "/figures/accuracy.gp", {"figures/accuracy.png", "figures/accuracy.svg"}, dir))
  T.ok(#assert(coconut.fs.read(dir .. "/figures/accuracy.png")) > 1000)
  -- a second run of the same name is refused unless --resume/--overwrite
  rc, out = T.sh(string.format(BIN .. " run experiments/prosqa_k6.lua --preset quick --results %s --data %s",
    d .. "/results", data))
  T.eq(rc, 2); T.ok(out:find("already holds a finished run", 1, true), out)
  T.ok(not out:find("stack traceback", 1, true), "a user error has no traceback")
  -- --resume of a finished run trains nothing more and reports the same numbers
  rc, out = T.sh(string.format(BIN .. " run experiments/prosqa_k6.lua --preset quick --method cot --resume --results %s --data %s",
    d .. "/results", data))
  T.eq(rc, 0, out)
  T.ok(not out:find("stage 0 epoch 1/", 1, true), "resume skips finished epochs")
  -- ... and keeps the rows of the methods it did not run, in the paper's order
  local again = read(root .. "/results.csv")
  T.eq(#again, 8)
  for i, m in ipairs(E.PAPER_ORDER) do
    T.eq(again[i].method, m); T.eq(again[i].test_accuracy, res[i].test_accuracy, m)
    T.eq(again[i].test_tokens, res[i].test_tokens, m)
  end
  -- a method whose directory is gone is dropped from the table
  T.rmtree(root .. "/pause")
  rc, out = T.sh(string.format(BIN .. " run experiments/prosqa_k6.lua --preset quick --method cot --resume --results %s --data %s",
    d .. "/results", data))
  T.eq(rc, 0, out)
  again = read(root .. "/results.csv")
  T.eq(#again, 7)
  for _, r in ipairs(again) do T.ok(r.method ~= "pause", "no row for a deleted method") end
  T.rmtree(d)
end)

T.test("prosqa_k6 --format symbolic: one token per node end to end, filters reach the generator", function()
  local d = T.tmpdir("e2esym")
  local rc, out = T.sh(string.format(BIN .. " run experiments/prosqa_k6.lua --preset quick --method nocot " ..
    "--format symbolic --node_ids shuffle --graph_min_hops 3 --graph_max_hops 3 --results %s --data %s",
    d .. "/results", d .. "/data"))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  -- 9-node graphs: ids 0..8, the markers Q R A |, "###", newline, eos/unk and 3 specials
  local ntok = tonumber(out:match("tokenizer: words, (%d+) tokens"))
  T.ok(ntok and ntok <= 24, "symbolic vocabulary is small: " .. tostring(ntok))
  local ev = read(d .. "/results/prosqa_k6/quick/nocot/eval.csv")
  T.ok(#ev > 0)
  for _, r in ipairs(ev) do T.ok(r.gold:match("^A %d+$"), "symbolic gold answer: " .. r.gold) end
  -- every generated graph has a 3-hop answer: the test split's steps are 3 nodes long
  local f = assert(io.open(d .. "/data/test.json")); local txt = f:read("a"); f:close()
  local ds = coconut.json.decode(txt)
  for _, ex in ipairs(ds) do T.eq(#ex.steps, 3, "hops") end
  T.rmtree(d)
end)

T.test("prosqa_k6: unknown options and presets are refused with a hint, exit 2, no traceback", function()
  local rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --preset quick --epochs_per_stag 1")
  T.eq(rc, 2); T.ok(out:find("unknown option --epochs_per_stag (did you mean --epochs_per_stage?)", 1, true), out)
  T.ok(not out:find("traceback", 1, true), out)
  rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --preset huge")
  T.eq(rc, 2); T.ok(out:find("unknown preset 'huge'; presets: cpu, paper, quick, small", 1, true), out)
  rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --preset smal")
  T.eq(rc, 2); T.ok(out:find("unknown preset 'smal' (did you mean 'small'?)", 1, true), out)
  rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --preset quick --lr fast")
  T.eq(rc, 2); T.ok(out:find("option --lr: 'fast' is not a number", 1, true), out)
  rc, out = T.sh(BIN .. " run experiments/prosqa_k6.lua --help")
  T.eq(rc, 0); T.ok(out:find("--epochs_per_stage", 1, true)); T.ok(out:find("presets: cpu, paper, quick, small", 1, true))
end)

T.test("prosqa_k6: --resume of a finished run leaves a probe table of other columns alone until it must add rows", function()
  local d = T.tmpdir("e2eprobe")
  local base = string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --probes paths --results %s --data %s",
    BIN, d .. "/results", d .. "/data")
  local rc, out = T.sh(base)
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/results/prosqa_k6/quick"
  local path = root .. "/coconut/probes/paths.csv"
  local rows = read(path)
  T.ok(#rows > 0, "probe rows")
  -- a table written by an older version of the probe (other columns)
  local txt = assert(coconut.fs.read(path))
  local old = "split,epoch,stage,old_col\n" .. txt:gsub("^[^\n]*\n", "")
  assert(coconut.fs.write(path, old))
  local res1 = read(root .. "/results.csv")
  rc, out = T.sh(base .. " --resume")
  T.eq(rc, 0, out); T.ok(out:find("already finished", 1, true), out)
  T.eq(assert(coconut.fs.read(path)), old, "untouched")
  local res2 = read(root .. "/results.csv")
  T.eq(res2[1].test_accuracy, res1[1].test_accuracy)
  -- new rows to add (an extra set): the mismatch is a user error naming the file
  rc, out = T.sh(base .. " --resume --extra_eval again=" .. d .. "/data/test.json")
  T.eq(rc, 2, out); T.ok(out:find(path .. ": header mismatch", 1, true), out)
  T.ok(not out:find("traceback", 1, true), out)
  T.rmtree(d)
end)
