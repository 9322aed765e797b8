-- End to end (issue 16): quick Coconut models trained by experiments/prosqa_k6.lua
-- (the words rendering with <|start-latent|>/<|end-latent|>, and the symbolic
-- marker-less one) and experiments/prontoqa.lua, then
-- experiments/eot_classifier.lua --preset quick on each: the fixed sweep, the
-- labels, the classifier file, the learned policy at three thresholds on
-- test, the CSVs (checked against each other and the sweep) and the figure
-- files; the source directory is left as it was; bad input fails before
-- anything is written. COCONUT_BIN selects the binary (default build/coconut).
local T = require "tap"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local function read(path) return assert(coconut.csv.read(path)) end

local function nonempty_figure(dir, name)
  local png = coconut.fs.read(dir .. "/figures/" .. name .. ".png")
  T.ok(png and #png > 2000 and png:sub(2, 4) == "PNG", name .. ".png is a non-empty PNG")
  local svg = coconut.fs.read(dir .. "/figures/" .. name .. ".svg")
  T.ok(svg and #svg > 1000 and svg:find("<svg", 1, true), name .. ".svg is a non-empty SVG")
  local gp = coconut.fs.read(dir .. "/figures/" .. name .. ".gp")
  T.ok(gp and gp:find("eot_policies.csv", 1, true), name .. ".gp reads eot_policies.csv")
end

local function run(cmd)
  local rc, out = T.sh(cmd)
  if rc ~= 0 then error("command failed (exit " .. tostring(rc) .. "): " .. cmd .. "\n" .. out, 2) end
  return out
end

-- Checks one classifier directory of eot_classifier.lua; K thoughts, n test examples.
local function check_outputs(root, name, K, n, thresholds)
  local dir = root .. "/" .. name
  for _, f in ipairs{"classifier.safetensors", "train.csv", "labels.csv", "classifier.json", "eot_policies.csv",
                     "eot_thoughts.csv", "eot_by_hops.csv"} do
    T.ok(coconut.fs.exists(dir .. "/" .. f), f .. " written")
  end
  nonempty_figure(dir, "eot_tradeoff")
  local _, meta = assert(coconut.safetensors.load(dir .. "/classifier.safetensors"))
  T.eq(meta.format, "coconut-eot-classifier"); T.eq(meta.max_thoughts, tostring(K))
  local info = assert(coconut.json.read(dir .. "/classifier.json"))
  T.ok(info.holdout_accuracy >= 0 and info.holdout_accuracy <= 1, "held-out accuracy reported")
  T.ok(info.rows_train > 0 and info.rows_holdout > 0)
  -- the fixed rows are the sweep's, k = 0..K, k thoughts each
  local ak = read(root .. "/analysis_k.csv")
  T.eq(#ak, K + 1)
  local pol, cols = read(dir .. "/eot_policies.csv")
  T.eq(table.concat(cols, ","), "policy,k,threshold,n,accuracy,thoughts,new_tokens,hops_corr,fixed_acc_at_thoughts,fixed_thoughts_at_acc")
  local fixed, learned, plan = {}, {}, 0
  for _, r in ipairs(pol) do
    if r.policy == "fixed" then fixed[#fixed + 1] = r
    elseif r.policy == "learned" then learned[#learned + 1] = r
    elseif r.policy == "plan" then plan = plan + 1 end
  end
  T.eq(#fixed, K + 1); T.eq(plan, 1); T.eq(#learned, #thresholds)
  for i, r in ipairs(fixed) do
    T.eq(r.k, tostring(i - 1)); T.near(tonumber(r.thoughts), i - 1, 1e-9)
    T.near(tonumber(r.accuracy), tonumber(ak[i].accuracy), 1e-9, "fixed k=" .. r.k .. " is the sweep's accuracy")
  end
  -- learned: one row per threshold; its means are those of its per-example rows
  local per = read(dir .. "/eot_thoughts.csv")
  T.eq(#per, n * (1 + #thresholds), "one row per test example for plan and each threshold")
  for i, r in ipairs(learned) do
    T.near(tonumber(r.threshold), thresholds[i], 1e-12)
    T.eq(r.n, tostring(n))
    local th, ok, cnt = 0, 0, 0
    for _, e in ipairs(per) do
      if e.policy == "learned" and tonumber(e.threshold) == thresholds[i] then
        local t = tonumber(e.thoughts)
        T.ok(t >= 0 and t <= K and math.type(math.tointeger(t)) == "integer", "thoughts within 0..K")
        T.ok(tonumber(e.hops) >= 1, "hop count of the example")
        th, ok, cnt = th + t, ok + tonumber(e.correct), cnt + 1
      end
    end
    T.eq(cnt, n)
    T.near(tonumber(r.thoughts), th / n, 1e-6, "mean thoughts at threshold " .. r.threshold)
    T.near(tonumber(r.accuracy), ok / n, 1e-6, "accuracy at threshold " .. r.threshold)
  end
  -- a higher threshold never stops earlier (P(stop) > t is monotone in t)
  for i = 2, #learned do T.ok(tonumber(learned[i].thoughts) >= tonumber(learned[i - 1].thoughts) - 1e-9, "monotone in the threshold") end
  local lab, lcols = read(dir .. "/labels.csv")
  T.eq(table.concat(lcols, ","), "split,id,hops,n,label,p_stop")
  T.eq(#lab, (info.rows_train + info.rows_holdout))
  local bh = read(dir .. "/eot_by_hops.csv")
  T.ok(#bh >= K + 2 + #thresholds, "per-hop rows for every policy")
  return info
end

T.test("eot_classifier on quick ProsQA models (words with markers, symbolic marker-less): files, CSVs, figure; bad input", function()
  local d = T.tmpdir("eot_e2e")
  local res, data = d .. "/results", d .. "/data"
  -- words rendering, <|start-latent|> ... <|end-latent|>, K = max_latent_stage 2 + 2 = 4
  run(string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --results %s --data %s", BIN, res, data))
  local src = res .. "/prosqa_k6/quick/coconut"
  local before = coconut.fs.read(src .. "/checkpoints/best/model.safetensors")
  local out = run(string.format("%s run experiments/eot_classifier.lua --preset quick --from %s --results %s", BIN,
    res .. "/prosqa_k6/quick", res)) -- a run directory: its coconut method
  local root = res .. "/eot_classifier/prosqa_k6/quick/coconut"
  T.ok(out:find("figure:     " .. root .. "/steps_mlp/figures/eot_tradeoff.png", 1, true), out)
  check_outputs(root, "steps_mlp", 4, 24, {0.3, 0.5, 0.7})
  local conf = assert(coconut.json.read(root .. "/config.json"))
  T.eq(conf.experiment, "prosqa_k6"); T.eq(conf.K, 4)
  T.eq(coconut.fs.read(src .. "/checkpoints/best/model.safetensors"), before, "the source checkpoint is unchanged")
  T.ok(not coconut.fs.exists(src .. "/analysis_k.csv"), "nothing written into the source")
  -- the learned policy inside an experiment (--eot learned --eot_options): the
  -- same model (same preset, seed, data) thinks as long as the classifier says
  local wfile = root .. "/steps_mlp/classifier.safetensors"
  run(string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --results %s --data %s --run learned "
    .. "--eot learned --eot_options weights=%s,threshold=0.5", BIN, res, data, wfile))
  local lev = read(res .. "/prosqa_k6/learned/coconut/eval.csv")
  local want = {}
  for _, r in ipairs(read(root .. "/steps_mlp/eot_thoughts.csv")) do
    if r.policy == "learned" and tonumber(r.threshold) == 0.5 then want[r.id] = r end
  end
  local nt = 0
  for _, r in ipairs(lev) do
    if r.split == "test" then
      nt = nt + 1
      local t = tonumber(r.thoughts)
      T.ok(t >= 0 and t <= 4, "learned thoughts within the classifier's cap")
      -- eot_classifier.lua's own evaluation of this policy on the same model
      T.ok(want[r.id], "example " .. r.id .. " in eot_thoughts.csv")
      if want[r.id] then
        T.eq(t, tonumber(want[r.id].thoughts), "example " .. r.id .. ": thoughts as eot_classifier counted them")
        T.eq(r.correct, want[r.id].correct, "example " .. r.id .. ": correctness")
      end
    end
  end
  T.eq(nt, 24)
  -- bad --eot_options: named, exit 2, before anything is written
  local brc, bmsg = T.sh(string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --results %s/bad1 "
    .. "--data %s --eot learned", BIN, d, data))
  T.eq(brc, 2, bmsg); T.ok(bmsg:find("--eot / --eot_options", 1, true) and bmsg:find("weights", 1, true), bmsg)
  brc, bmsg = T.sh(string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --results %s/bad1 "
    .. "--data %s --eot learned --eot_options threshold", BIN, d, data))
  T.eq(brc, 2, bmsg); T.ok(bmsg:find("--eot_options: 'threshold' is not name=value", 1, true), bmsg)
  brc, bmsg = T.sh(string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --results %s/bad1 "
    .. "--data %s --eot learned --eot_options weights=%s,treshold=0.4", BIN, d, data, wfile))
  T.eq(brc, 2, bmsg); T.ok(bmsg:find("treshold", 1, true) and bmsg:find("threshold", 1, true), bmsg)
  T.ok(not coconut.fs.exists(d .. "/bad1"), "no run directory after bad --eot_options")

  -- a second classifier on the same source reuses the sweep
  out = run(string.format("%s run experiments/eot_classifier.lua --preset quick --from %s --results %s --kind logistic "
    .. "--no-step_feature --thresholds 0.5", BIN, src, res))
  T.ok(out:find("reusing", 1, true), "the fixed sweep is reused")
  check_outputs(root, "steps_logistic_nostep", 4, 24, {0.5})
  local _, meta = assert(coconut.safetensors.load(root .. "/steps_logistic_nostep/classifier.safetensors"))
  T.eq(meta.kind, "logistic"); T.eq(meta.step_feature, "false")

  -- symbolic, marker-less thoughts (the cpu preset's layout), frontier loss
  run(string.format("%s run experiments/prosqa_k6.lua --preset quick --method coconut --results %s --data %s --run sym "
    .. "--format symbolic --coconut_markers false --coconut_loss frontier --uniform_prob 0.3 --pad_latent_to_max false "
    .. "--n_train 400 --epochs_per_stage 3 --epochs 10", BIN, res, data))
  out = run(string.format("%s run experiments/eot_classifier.lua --preset quick --from %s --results %s --n_label 200 "
    .. "--label outcome --never_right continue", BIN, res .. "/prosqa_k6/sym/coconut", res))
  local sroot = res .. "/eot_classifier/prosqa_k6/sym/coconut"
  local info = check_outputs(sroot, "outcome_mlp_continue", 4, 24, {0.3, 0.5, 0.7})
  T.eq(info.label, "outcome"); T.eq(info.excluded_examples, 0, "never-right examples kept (labelled continue)")
  -- outcome labels follow the forced-<eot> answers: a label row of an example is 1 from its first right k on
  local lab = read(sroot .. "/outcome_mlp_continue/labels.csv")
  local by = {}
  for _, r in ipairs(lab) do
    by[r.id] = by[r.id] or {}
    by[r.id][tonumber(r.n) + 1] = tonumber(r.label)
  end
  for id, y in pairs(by) do
    T.eq(#y, 4, "example " .. id .. ": K decisions")
    for n = 2, 4 do T.ok(y[n] >= y[n - 1], "example " .. id .. ": once stop, stop") end
  end

  -- bad input: nothing written
  local rc, msg = T.sh(string.format("%s run experiments/eot_classifier.lua --from %s/nope --results %s/bad", BIN, d, d))
  T.ok(rc ~= 0 and msg:find("nope: no such directory", 1, true), msg)
  rc, msg = T.sh(string.format("%s run experiments/eot_classifier.lua --from %s --results %s/bad --label oracle", BIN, src, d))
  T.ok(rc ~= 0 and msg:find("--label 'oracle' is not steps or outcome", 1, true), msg)
  rc, msg = T.sh(string.format("%s run experiments/eot_classifier.lua --from %s --results %s/bad --thresholds 0.5,2", BIN, src, d))
  T.ok(rc ~= 0 and msg:find("'2' is not a probability", 1, true), msg)
  rc, msg = T.sh(string.format("%s run experiments/eot_classifier.lua --from %s --results %s/bad", BIN, data, d))
  T.ok(rc ~= 0 and msg:find("checkpoints/best/model.safetensors", 1, true), msg)
  T.ok(not coconut.fs.exists(d .. "/bad"), "no output directory after bad input")
  rc, msg = T.sh(string.format("%s run experiments/eot_classifier.lua --from %s --results %s", BIN, src, src))
  T.ok(rc ~= 0 and msg:find("overlap", 1, true), msg)
  T.ok(not coconut.fs.exists(src .. "/eot_classifier"), "nothing written into the source")
  -- labels with one class only: a clear message, no classifier directory
  rc, msg = T.sh(string.format("%s run experiments/eot_classifier.lua --preset quick --from %s --results %s --max_k 1 --name one",
    BIN, src, res))
  T.ok(rc ~= 0 and msg:find("nothing to separate", 1, true), msg)
  T.ok(not coconut.fs.exists(root .. "/one"), "no half-written classifier directory")
  T.rmtree(d)
end)

T.test("eot_classifier on a quick ProntoQA model", function()
  local pq = T.shared("prontoqa")
  if not pq then T.skip("../shared/data/prontoqa is absent") end
  local d = T.tmpdir("eot_pronto")
  local res = d .. "/results"
  run(string.format("%s run experiments/prontoqa.lua --preset quick --method coconut --data %s --results %s", BIN, pq, res))
  -- every ProntoQA chain has 6 steps: K = 7 so that the steps labels hold both classes
  run(string.format("%s run experiments/eot_classifier.lua --preset quick --from %s --results %s --max_k 7", BIN,
    res .. "/prontoqa/quick/coconut", res))
  local root = res .. "/eot_classifier/prontoqa/quick/coconut"
  check_outputs(root, "steps_mlp", 7, 16, {0.3, 0.5, 0.7})
  local per = read(root .. "/steps_mlp/eot_thoughts.csv")
  for _, r in ipairs(per) do T.eq(r.hops, "6", "ProntoQA chains have 6 steps") end
  T.rmtree(d)
end)
