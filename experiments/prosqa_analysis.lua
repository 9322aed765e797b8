-- experiments/prosqa_analysis.lua — the paper's ProsQA analysis (paper.md §5;
-- v2 Fig 5, 7, 8, 9): a Coconut model trained with stage mixing (uniform_prob
-- 0.3, the paper's analysis model) and the CoT and No-CoT references, then the
-- test split once per k = 0..6 thoughts before a forced <|end-latent|>
-- (--analysis_k, coco.run R.analysis_sweep) with the five probes (paths,
-- frontier, parallelism, height, decode), then the figures
-- (coco.paper_figures; experiments/figures/paper.lua re-draws them).
--
--   coconut run experiments/prosqa_analysis.lua --preset cpu       -- train the three models, then analyse
--   coconut run experiments/prosqa_analysis.lua --preset cpu \
--       --from results/prosqa_k6/v4 --from_methods cot,nocot       -- adopt finished CoT / No-CoT, train Coconut
--   coconut run experiments/prosqa_analysis.lua --preset quick     -- a couple of minutes (tests)
--
-- Options and presets are prosqa_k6's (experiments/prosqa_k6.lua is read for
-- its spec, presets and dataset hooks, so the data and models match it), plus
-- --from / --from_methods. Presets:
--   cpu    prosqa_k6's cpu preset (symbolic ProsQA, marker-less thoughts,
--          frontier loss) with uniform_prob 0.3, k = 0..6, the five probes.
--   quick  the same layout on prosqa_k6's quick data and schedule, k = 0..3.
--
-- --from DIR adopts finished methods of another run instead of training them:
-- DIR is a run (with <method>/checkpoints/{best,last}) or a --seeds run (then
-- DIR/seed<N> for --seed N). The options that decide the data, tokenizer,
-- model shape and pretraining must equal DIR's config.json (an error names the
-- first that differs). Each adopted method's directory is copied into this run
-- (checkpoint files hard-linked when possible, never modified: every write is
-- a rename), without DIR's analysis, figures and training-time probe files;
-- <method>/adopted_from.json records DIR and the config it was trained with
-- (its config.json is this run's). The shared pretraining is adopted too, so
-- methods trained here start from the same weights. The run then continues
-- as --resume: adopted methods train nothing and are swept; the others train.
-- Results: <results>/prosqa_analysis/<run>/ (see coco.run R.analysis_sweep).
local E = require "coco.experiment"
local O = require "coco.options"
local S = require "coco.seeds"
local P = require "coco.progress"
local PF = require "coco.paper_figures"
local R = require "coco.run"

-- prosqa_k6's configuration: its file calls E.main{...}; capture the table.
local k6
do
  local src = debug.getinfo(1, "S").source:match("^@(.*)$") or "experiments/prosqa_analysis.lua"
  local here = src:match("^(.*)/[^/]*$") or "."
  local main = E.main
  E.main = function(cfg) k6 = cfg end
  local ok, err = pcall(dofile, here .. "/prosqa_k6.lua")
  E.main = main
  if not ok then error(err, 0) end
  assert(k6 and k6.spec and k6.presets, "experiments/prosqa_k6.lua did not call E.main with a spec and presets")
end

-- The spec: prosqa_k6's entries, this experiment's preset list, then --from.
local entries = {}
for _, name in ipairs(k6.spec.order) do
  if name ~= "seeds" then entries[#entries + 1] = O.entry(k6.spec, name) end -- with its valid range
  if name == "preset" then entries[#entries][3], entries[#entries][4] = "cpu", "cpu | quick" end
end
entries[#entries + 1] = {"from", "string", "", "adopt finished methods from this run directory (or --seeds run) instead of training them"}
entries[#entries + 1] = {"from_methods", "string", "", "methods adopted with --from (default: every method of this run that DIR has finished)"}
local spec = O.spec(entries)

local PROBES = "paths,frontier,parallelism,height,decode"
local function derive(base, changes)
  local p = k6.presets[base] or error("experiments/prosqa_k6.lua has no preset '" .. base .. "'", 0)
  local t = {}
  for k, v in pairs(p) do t[k] = v end
  for k, v in pairs(changes) do t[k] = v end
  return t
end
local presets = {
  default_preset = "cpu",
  -- the paper's analysis model: Coconut with stage mixing, uniform_prob 0.3 (paper.md §2.2, §5)
  cpu = derive("cpu", {uniform_prob = 0.3, analysis_k = "0,1,2,3,4,5,6", analysis_probes = PROBES,
                       method = "coconut,cot,nocot"}),
  quick = derive("quick", {format = "symbolic", coconut_markers = false, coconut_loss = "frontier", uniform_prob = 0.3,
                           pad_latent_to_max = false, analysis_k = "0,1,2,3", analysis_probes = PROBES, probes = "paths",
                           method = "coconut,cot,nocot"}),
}

-- Options an adopted model must share with this run: they decide the data,
-- the tokenizer, the model's shape and the pretraining it started from
-- (--n_valid / --n_test may differ: a sweep over fewer test questions is fine).
local SAME = {"format", "node_ids", "edge_order", "data", "data_seed", "graph_nodes", "graph_min_hops", "graph_max_hops",
              "graph_min_nodes", "graph_max_nodes", "n_train", "train_file", "valid_file", "test_file", "tokenizer", "gpt2_vocab", "gpt2_merges", "model", "n_layer", "n_embd", "n_head",
              "n_positions", "model_path", "init_token", "position_init", "pause_tokens", "pretrain_epochs",
              "pretrain_task", "pretrain_lr", "pretrain_until_loss", "seed"}

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Training options worth a note when an adopted method was trained otherwise
-- than this run would train it (the analysis model's uniform_prob 0.3, say).
local TRAINING = {"uniform_prob", "coconut_loss", "coconut_markers", "c_thought", "max_latent_stage", "epochs_per_stage",
                  "epochs", "baseline_epochs", "lr", "batch_size", "pad_latent_to_max"}

-- Copies a file; checkpoint tensors are hard-linked when the file system allows.
local function copy_file(src, dst)
  if src:match("%.safetensors$") then
    coconut.fs.remove(dst)
    if os.execute("ln " .. sh(src) .. " " .. sh(dst) .. " 2>/dev/null") then return end
  end
  local data, err = coconut.fs.read(src)
  if not data then coconut.user_error(err) end
  coconut.check(coconut.fs.write(dst, data))
end

-- Copies the tree src -> dst, leaving out the top-level entries in `skip`.
local function copy_tree(src, dst, skip)
  coconut.check(coconut.fs.mkdir(dst))
  for _, e in ipairs(coconut.fs.listdir(src) or {}) do
    if not (skip and skip[e]) then
      local s, d = src .. "/" .. e, dst .. "/" .. e
      if coconut.fs.isdir(s) then copy_tree(s, d) else copy_file(s, d) end
    end
  end
end

-- Adopts the finished methods of o.from into root (see the header).
local function adopt(o, root, methods)
  local from = o.from:gsub("/+$", "")
  if coconut.fs.isdir(from .. "/seed" .. o.seed) then from = from .. "/seed" .. o.seed end
  local conf_path = from .. "/config.json"
  if not coconut.fs.exists(conf_path) then
    coconut.user_error(string.format("--from %s: no config.json there; expected a run directory of prosqa_k6 or prosqa_analysis", o.from))
  end
  local src = coconut.check(coconut.json.read(conf_path))
  for _, name in ipairs(SAME) do
    local a, b = src[name], o[name]
    if a ~= nil and b ~= nil and a ~= b then
      coconut.user_error(string.format("--from %s: option '%s' is %s there but %s here; an adopted model must see the same data, "
        .. "tokenizer, model shape and pretraining (pass --%s %s, or pick the matching preset)", from, name,
        tostring(a), tostring(b), name, tostring(a)))
    end
  end
  local list = o.from_methods ~= "" and E.split_list(o.from_methods) or nil
  local in_run = {}
  for _, m in ipairs(methods) do in_run[m] = true end
  if list then
    for _, m in ipairs(list) do
      if not in_run[m] then
        coconut.user_error(string.format("--from_methods: '%s' is not a method of this run (--method %s)", m, table.concat(methods, ",")))
      end
    end
  else
    list = {}
    for _, m in ipairs(methods) do
      if coconut.fs.exists(from .. "/" .. m .. "/checkpoints/best/state.json") then list[#list + 1] = m end
    end
    if #list == 0 then coconut.user_error("--from " .. from .. ": none of this run's methods (" .. table.concat(methods, ",") .. ") has checkpoints there") end
  end
  coconut.check(coconut.fs.mkdir(root))
  E.lock(root) -- the adopted files go in under the run's lock too
  if coconut.fs.exists(from .. "/pretrain/state.json") and not coconut.fs.exists(root .. "/pretrain/state.json") then
    copy_tree(from .. "/pretrain", root .. "/pretrain")
  end
  for _, m in ipairs(list) do
    local s, d = from .. "/" .. m, root .. "/" .. m
    local st = coconut.fs.exists(s .. "/checkpoints/last/state.json") and coconut.json.read(s .. "/checkpoints/last/state.json")
    if not (st and st.finished and coconut.fs.exists(s .. "/checkpoints/best/model.safetensors")) then
      coconut.user_error(string.format("--from: %s has no finished run (checkpoints/best and a finished checkpoints/last/state.json); "
        .. "finish it first (--resume)", s))
    end
    if coconut.fs.exists(d .. "/checkpoints/last/state.json") then
      P.log("[prosqa_analysis] %s: already in %s (adopted or trained before); kept", m, d)
    else
      copy_tree(s, d, {analysis = true, ["analysis_k.csv"] = true, figures = true, probes = true})
      local mc = coconut.fs.exists(s .. "/config.json") and coconut.json.read(s .. "/config.json") or coconut.json.object()
      coconut.check(coconut.json.write(d .. "/adopted_from.json", {from = s, config = mc}))
      P.log("[prosqa_analysis] %s: adopted from %s (best epoch %s)", m, s, tostring(st.best_epoch))
      for _, name in ipairs(TRAINING) do
        if mc[name] ~= nil and o[name] ~= nil and mc[name] ~= o[name] then
          P.log("[prosqa_analysis] note: %s was trained with --%s %s (this run's options say %s)", m, name,
            tostring(mc[name]), tostring(o[name]))
        end
      end
    end
  end
  o.resume = true
  return from
end

-- Each run (one per seed with --seeds): adopt, run, check the tokenizer, draw.
local run_one = E.run_one
E.run_one = function(o, cfg, root, on_data)
  if o.analysis_k ~= "" then R.parse_k_list(o.analysis_k) end -- a bad list fails before anything is written
  local from
  -- under mpirun rank 0 alone adopts (copies files) and draws; the others train
  -- and evaluate with it (coco.dist)
  local root_rank = coconut.mpi.rank() == 0
  if o.from ~= "" and root_rank then
    local methods = o.method == "all" and E.split_list(cfg.all_methods) or E.split_list(o.method)
    from = adopt(o, root, methods)
  end
  local r = run_one(o, cfg, root, on_data)
  if not root_rank then return r end
  if from and coconut.fs.exists(from .. "/tokenizer.json") then
    -- the adopted models' token ids must mean what they mean here: this run's
    -- tokens are the source's first tokens, in order (the source may have more
    -- at the end: a run with pause methods appends <|pause|>)
    local a = coconut.check(coconut.json.read(from .. "/tokenizer.json"))
    local b = coconut.check(coconut.json.read(root .. "/tokenizer.json"))
    local ta, tb = a.tokens or {}, b.tokens or {}
    local bad = a.kind ~= b.kind or #ta < #tb
    for i = 1, #tb do if ta[i] ~= tb[i] then bad = true; break end end
    if bad then
      coconut.user_error(string.format("--from %s: its tokenizer.json is not this run's (%s/tokenizer.json) followed by extra tokens: "
        .. "the adopted models' token ids do not match this data; the analysis is void", from, root))
    end
  end
  local run = o.run ~= "" and o.run or o.preset
  for _, png in ipairs(PF.analysis(root, {title = cfg.name .. "/" .. (root:match("seed%d+$") and (run .. "/" .. root:match("seed%d+$")) or run)})) do
    print("analysis: " .. png)
  end
  return r
end

local notes = {
  cpu = "Figures: <run>/figures/fig5_analysis, fig7_search_tree, fig8_parallelism, fig9_height (.png/.svg/.gp);\n"
     .. "re-draw them, with Table 1, by `make figures RUN=<run dir>`.",
}

E.main{name = "prosqa_analysis", spec = spec, presets = presets, notes = notes, argv = arg, dataset = "prosqa",
       all_methods = "coconut,cot,nocot", render_options = k6.render_options, dataset_options = k6.dataset_options}
