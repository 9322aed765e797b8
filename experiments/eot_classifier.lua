-- experiments/eot_classifier.lua — the learned <eot> policy (issue 16): train a
-- binary classifier on a trained Coconut model's continuous thoughts that
-- decides when to stop thinking (the paper's option (a), ../shared/research/
-- paper.md §3), then compare it on the test split with the fixed policies.
--
--   coconut run experiments/eot_classifier.lua --from results/prosqa_k6/v4/seed0/coconut
--   coconut run experiments/eot_classifier.lua --from results/prosqa_k6/v4/seed0/coconut --label outcome --kind logistic
--   coconut run experiments/eot_classifier.lua --from <run dir of experiments/prontoqa.lua>/coconut
--   coconut run experiments/eot_classifier.lua --from <dir> --preset quick      -- a few seconds, for tests
--
-- --from is a finished method directory (checkpoints/best, config.json; its
-- run directory holds tokenizer.json for word tokenizers) or a run directory
-- holding --method. It is only read. The data, tokenizer, layout and
-- curriculum are rebuilt from its config.json with the experiment script that
-- trained it (--experiment, default: the experiments/<name>.lua named by a
-- component of the path, e.g. results/prosqa_k6/...): ProsQA in either
-- rendering (words with <|start-latent|>/<|end-latent|>, symbolic marker-less)
-- and ProntoQA.
--
-- Steps (K = --max_k, default the model's max_latent_stage x c_thought + 2):
--  1. Fixed policies: the test split once per k = 0..K with a forced <eot>
--     (coco.run R.analysis_sweep: analysis_k.csv, analysis/eval.csv), and once
--     with the curriculum's planned count (the run's own evaluation; for the
--     ProsQA cpu preset the example's hop count).
--  2. Labels: the first --n_label training examples think exactly K thoughts
--     (final-stage layout, as the sweep); the K thoughts are the hidden states
--     of decisions n = 0..K-1. --label steps: stop (1) from n = #steps (the
--     hop count) on; --label outcome: the same examples are also answered with a
--     forced <eot> after k = 0..K-1 thoughts, and stop from the first k that
--     answers right; an example no k in 0..K answers right is left out
--     (--never_right exclude, the default) or labelled continue throughout
--     (--never_right continue). See coco.eot.
--  3. Classifier: features = the hidden state (+ n with --step_feature),
--     standardised; logistic regression or a one-hidden-layer GELU MLP
--     (--kind), trained full-batch with class-weighted BCE (each class half the
--     loss) and AdamW on the autograd core (coconut.classifier). A share
--     --holdout of the labelled examples (split by example) is held out: its
--     per-decision accuracy and balanced accuracy, and how often the stop count
--     the classifier implies equals the label's, are reported.
--  4. Learned policy: the test split with plugins/eot/learned.c at every
--     --thresholds value (cap K).
-- Results: <results>/eot_classifier/<run>/ (run: --run, default --from's path
-- from its experiment's name on, e.g. prosqa_k6/v4/seed0/coconut):
--   checkpoints/best/            the source's best checkpoint (hard links or copies; never written through)
--   analysis_k.csv, analysis/    the fixed sweep (kept and reused while K and the test split are unchanged)
--   config.json                  the source (--from, its experiment and config), K
--   <name>/ (--name, default <label>_<kind>[_nostep][_continue]):
--     classifier.safetensors     the weights, config in the metadata (plugins/eot/learned.c reads it)
--     train.csv                  step, train_loss, holdout_loss, holdout_accuracy
--     labels.csv                 per labelled decision: split (train/holdout), id, hops, n, label, p_stop
--     classifier.json            the options, sizes, class weights, held-out accuracy
--     eot_policies.csv           per policy (fixed k, plan, learned threshold): n, accuracy, mean thoughts and
--                                new tokens, correlation of thoughts with hops, the fixed curve's accuracy at
--                                the same mean thoughts and the thoughts it needs for the same accuracy
--     eot_thoughts.csv           per test example and policy (plan, learned): hops, thoughts, correct
--     eot_by_hops.csv            per policy (fixed, plan, learned) and hop count: n, accuracy, mean thoughts
--     figures/eot_tradeoff.{gp,png,svg}   accuracy vs mean thoughts (coco.figures F.eot_tradeoff)
-- Every file is written whole (temp + rename); bad options or a bad --from stop
-- before anything is written.
-- not data-parallel (issue 18 covers the training runs of coco.experiment)
if coconut.mpi.size() > 1 then
  coconut.user_error("experiments/eot_classifier.lua runs as one process; start it without mpirun")
end

local E = require "coco.experiment"
local O = require "coco.options"
local R = require "coco.run"
local Layout = require "coco.layout"
local F = require "coco.figures"
local P = require "coco.progress"
local EOT = require "coco.eot"

local spec = O.spec{
  {"preset", "string", "default", "default | quick (a few seconds, for tests)"},
  {"from", "string", "", "the trained Coconut: a method directory (checkpoints/best, config.json) or a run directory holding --method"},
  {"method", "string", "coconut", "method directory inside a run directory --from"},
  {"experiment", "string", "", "experiment script that trained it (experiments/<name>.lua; default: named by a component of --from)"},
  {"results", "string", "results", "results root"},
  {"run", "string", "", "results go to <results>/eot_classifier/<run>/ (default: --from's path from the experiment's name on)"},
  {"name", "string", "", "subdirectory of this classifier (default <label>_<kind>[_nostep][_continue])"},
  {"label", "string", "steps", "labels: steps (stop once n reaches the example's reasoning steps) | outcome (stop from the first k whose forced <eot> answers right)"},
  {"never_right", "string", "exclude", "--label outcome, examples no k in 0..K answers right: exclude | continue (all decisions continue)"},
  {"kind", "string", "mlp", "classifier: logistic | mlp (one hidden GELU layer)"},
  {"hidden", "int", 32, "MLP hidden width"},
  {"step_feature", "bool", true, "the thought count n is a feature besides the hidden state"},
  {"normalize", "bool", true, "standardise the features (mean/std of the training rows, stored in the file)"},
  {"max_k", "int", 0, "K: thoughts per labelled example, cap of the learned policy, fixed sweep k = 0..K (0: max_latent_stage x c_thought + 2)"},
  {"n_label", "int", 2000, "training examples labelled: the first n of the model's training split (0: all of it)"},
  {"holdout", "number", 0.2, "share of the labelled examples held out (split by example)"},
  {"steps", "int", 400, "full-batch AdamW steps"},
  {"lr", "number", 0.01, "AdamW learning rate"},
  {"weight_decay", "number", 0.0, "AdamW weight decay"},
  {"class_weight", "string", "balanced", "balanced (each class half of the loss: w_c = N / (2 N_c)) | none"},
  {"seed", "int", 0, "seed of the initialisation and of the holdout split"},
  {"thresholds", "string", "0.1,0.3,0.5,0.7,0.9", "thresholds of the learned policy on test (stop when P(stop) > t)"},
  {"min_thoughts", "int", 0, "thoughts before the learned policy may stop"},
  {"n_test", "int", 0, "score the first n test examples (0: the model's test split)"},
  {"eval_batch", "int", 0, "prompts generated together (0: the model's)"},
  {"threads", "int", 0, "BLIS/OpenMP threads (0: COCONUT_THREADS or all CPUs)"},
}

local presets = {
  default_preset = "default",
  default = {},
  quick = {n_label = 48, steps = 60, hidden = 8, thresholds = "0.3,0.5,0.7"},
}

local o = O.parse(spec, presets, arg)
if o.threads > 0 then coconut.set_threads(o.threads) end

local function fail(fmt, ...) error(string.format("eot_classifier: " .. fmt, ...), 0) end
local function join(a, b) return a .. "/" .. b end

-- ------------------------------------------------------------------ options and source

if not EOT.LABELS[o.label] then fail("--label '%s' is not steps or outcome", o.label) end
if not EOT.NEVER[o.never_right] then fail("--never_right '%s' is not exclude or continue", o.never_right) end
if o.kind ~= "logistic" and o.kind ~= "mlp" then fail("--kind '%s' is not logistic or mlp", o.kind) end
if o.class_weight ~= "balanced" and o.class_weight ~= "none" then fail("--class_weight '%s' is not balanced or none", o.class_weight) end
if o.kind == "mlp" and o.hidden < 1 then fail("--hidden %d must be >= 1", o.hidden) end
if not (o.holdout >= 0 and o.holdout < 1) then fail("--holdout %g must be in [0, 1)", o.holdout) end
if o.steps < 1 then fail("--steps %d must be >= 1", o.steps) end
if o.max_k < 0 then fail("--max_k %d must be >= 0 (0: from the model's curriculum)", o.max_k) end
if o.n_label < 0 or o.n_test < 0 or o.eval_batch < 0 then fail("--n_label, --n_test and --eval_batch must be >= 0") end
local thresholds = {}
for x in o.thresholds:gmatch("[^,%s]+") do
  local t = tonumber(x)
  if not t or t < 0 or t > 1 then fail("--thresholds: '%s' is not a probability in [0, 1]", x) end
  thresholds[#thresholds + 1] = t
end
if #thresholds == 0 then fail("--thresholds: no values in '%s'", o.thresholds) end
table.sort(thresholds)

if o.from == "" then fail("--from is required: a trained Coconut method directory, e.g. results/prosqa_k6/v4/seed0/coconut") end
local from = o.from:gsub("/+$", "")
if not coconut.fs.isdir(from) then fail("--from %s: no such directory", from) end
if not coconut.fs.exists(join(from, "checkpoints/best/model.safetensors")) then
  if coconut.fs.exists(join(from, o.method .. "/checkpoints/best/model.safetensors")) then
    from = join(from, o.method)
  else
    fail("--from %s: neither it nor %s/%s has checkpoints/best/model.safetensors (a finished method of an experiment run)",
      from, from, o.method)
  end
end
for _, f in ipairs{"checkpoints/best/state.json", "config.json"} do
  if not coconut.fs.exists(join(from, f)) then fail("--from %s: %s is missing", from, f) end
end
local conf = assert(coconut.json.read(join(from, "config.json")))
local best_state = assert(coconut.json.read(join(from, "checkpoints/best/state.json")))
local src_root = coconut.fs.dirname(from) -- the run directory (tokenizer.json)

-- The experiment script: --experiment, or the first path component naming one.
local here = (debug.getinfo(1, "S").source:match("^@(.*)$") or "experiments/eot_classifier.lua"):match("^(.*)/[^/]*$") or "."
local parts = {}
for c in from:gmatch("[^/]+") do parts[#parts + 1] = c end
local exp_name, exp_at = o.experiment, nil
if exp_name == "" then
  for i, c in ipairs(parts) do
    if c ~= "eot_classifier" and c:match("^[%w_]+$") and coconut.fs.exists(join(here, c .. ".lua")) then exp_name, exp_at = c, i; break end
  end
  if exp_name == "" then
    fail("--from %s: no component of the path names an experiment script in %s/; pass --experiment (prosqa_k6, prosqa_analysis, prontoqa, ...)", from, here)
  end
elseif not coconut.fs.exists(join(here, exp_name .. ".lua")) then
  fail("--experiment %s: %s/%s.lua does not exist", exp_name, here, exp_name)
end

-- Its configuration: the script calls E.main{...}; capture the table instead
-- of running it (as experiments/prosqa_analysis.lua reads prosqa_k6). A script
-- that checks its options at load (prontoqa) sees the source's data options.
local cfg
do
  local main, run_one, saved_arg = E.main, E.run_one, arg
  E.main = function(c) cfg = c end
  local a = {}
  for _, k in ipairs{"preset", "data", "train_file", "valid_file", "test_file", "model_path", "gpt2_vocab", "gpt2_merges"} do
    if type(conf[k]) == "string" and conf[k] ~= "" then a[#a + 1] = "--" .. k; a[#a + 1] = conf[k] end
  end
  arg = a
  local ok, err = pcall(dofile, join(here, exp_name .. ".lua"))
  E.main, E.run_one, arg = main, run_one, saved_arg
  if not ok then fail("reading experiments/%s.lua for the source's data: %s", exp_name, tostring(err)) end
  if not (cfg and cfg.dataset) then fail("experiments/%s.lua did not call E.main with a dataset", exp_name) end
end

local run = o.run
if run == "" then
  local t = {}
  for i = exp_at or 1, #parts do t[#t + 1] = parts[i] end
  run = exp_at and table.concat(t, "/") or (parts[#parts - 1] or "run") .. "/" .. parts[#parts]
end
local root = string.format("%s/eot_classifier/%s", o.results, run)
local name = o.name ~= "" and o.name
  or (o.label .. "_" .. o.kind .. (o.step_feature and "" or "_nostep") .. ((o.label == "outcome" and o.never_right == "continue") and "_continue" or ""))
if not name:match("^[%w_%.%-]+$") then fail("--name '%s': use letters, digits, _ . -", name) end
local dir = join(root, name)

-- ------------------------------------------------------------------ data, tokenizer, model (nothing written yet)

local function take(list, n)
  if not n or n <= 0 or n >= #list then return list end
  local t = {}
  for i = 1, n do t[i] = list[i] end
  return t
end

-- the dataset exactly as coco.experiment E.run_one builds it for this config
local dopts = {dir = conf.data, train_file = conf.train_file, valid_file = conf.valid_file, test_file = conf.test_file,
               generate = true, seed = conf.data_seed}
for k, v in pairs(cfg.dataset_options and cfg.dataset_options(conf) or {}) do dopts[k] = v end
for k, v in pairs(cfg.render_options and cfg.render_options(conf) or {}) do dopts[k] = v end
local ds = coconut.plugin.load("dataset", cfg.dataset, dopts)
local function load(split)
  local ok, list = pcall(ds.load, ds, split)
  if not ok then fail("the %s split of %s cannot be loaded: %s", split, from, tostring(list)) end
  return list
end
local train = take(load("train"), conf.n_train)
local test = take(take(load("test"), conf.n_test), o.n_test)
local label_set = take(train, o.n_label)
if #test == 0 then fail("the test split is empty") end

local tok
if conf.tokenizer == "words" then
  local path = join(src_root, "tokenizer.json")
  local err
  tok, err = coconut.tokenizer.load(path)
  if not tok then fail("%s: %s (a words tokenizer is saved in the run directory)", path, tostring(err)) end
else
  tok = E.tokenizer(conf, train, {conf.method})
end
local special = {start = tok:id(E.SPECIALS[1]), end_ = tok:id(E.SPECIALS[2]), latent = tok:id(E.SPECIALS[3]), eos = tok:eos(),
                 pause = tok:id("<|pause|>")}
local cur = E.curriculum(conf, conf.method, cfg.variants)
local last = cur:eval_plan(cur:num_stages() - 1, 4)
if last.n_latent == 0 or last.pause_as_thought then
  fail("--from %s: method '%s' has no continuous thoughts at evaluation; the learned <eot> policy needs a Coconut model",
    from, tostring(conf.method))
end
local K = o.max_k > 0 and o.max_k or (conf.max_latent_stage or 6) * (conf.c_thought or 1) + 2
local style = E.style(conf)

-- The evaluation context of coco.run (R.evaluate / R.analysis_sweep), with the
-- flags R.run derives from the curriculum's last stage.
local eval_opts = {eval_batch = o.eval_batch > 0 and o.eval_batch or conf.eval_batch, max_new_tokens = conf.max_new_tokens}
local ctx = {opts = eval_opts, tok = tok, special = special, curriculum = cur, probes = {}, method = conf.method or "coconut",
             data = {test = test}, layout = Layout.new(tok, special, style), thinks = true,
             markerless = not last.markers, slot = special.latent, slot_markers = last.markers,
             eot = coconut.plugin.load("eot", "fixed", {max = K})}

-- ------------------------------------------------------------------ output directory, source checkpoint

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function realpath(p)
  local f = io.popen("realpath -m " .. sh(p) .. " 2>/dev/null")
  local r = f and f:read("l")
  if f then f:close() end
  return r or p
end
do -- the output must not be the source or inside it (its checkpoint files are only read)
  local a, b = realpath(root), realpath(from)
  if a == b or a:sub(1, #b + 1) == b .. "/" or b:sub(1, #a + 1) == a .. "/" then
    fail("the output directory %s and --from %s overlap; choose another --run or --results", root, from)
  end
end
-- the source's best checkpoint, linked (ln -f replaces the link of an earlier
-- run; the source file is never opened for writing), else copied (atomic)
assert(coconut.fs.mkdir(join(root, "checkpoints/best"), {parents = true}))
for _, f in ipairs{"model.safetensors", "state.json", "config.json"} do
  local src, dst = join(from, "checkpoints/best/" .. f), join(root, "checkpoints/best/" .. f)
  if coconut.fs.exists(src) and not os.execute("ln -f " .. sh(src) .. " " .. sh(dst) .. " 2>/dev/null") then
    assert(coconut.fs.write(dst, assert(coconut.fs.read(src))))
  end
end
assert(coconut.json.write(join(root, "config.json"),
  {from = from, experiment = exp_name, K = K, best_epoch = best_state.epoch, source_config = conf}))
local model = assert(coconut.gpt2.load(join(root, "checkpoints/best/model.safetensors")))
model:train(false)
ctx.model = model
local d = model:config().n_embd
P.log("[eot_classifier] %s (%s, %s, best epoch %s): K = %d, %d labelled training examples, %d test examples; results in %s",
  from, exp_name, style, tostring(best_state.epoch), K, #label_set, #test, dir)

-- ------------------------------------------------------------------ 1. fixed policies

local ks = {}
for k = 0, K do ks[#ks + 1] = k end
local sweep_state_path = join(root, "sweep_state.json")
local sweep_state = coconut.fs.exists(sweep_state_path) and coconut.json.read(sweep_state_path) or {}
local sweep_key = string.format("%s epoch %s K=%d n_test=%d", from, tostring(best_state.epoch), K, #test)
if sweep_state.key ~= sweep_key then sweep_state.analysis = nil end
if R.analysis_sweep(ctx, root, sweep_state, ks) then
  sweep_state.key = sweep_key
  assert(coconut.json.write(sweep_state_path, sweep_state))
else
  P.log("[eot_classifier] fixed sweep k = 0..%d: reusing %s", K, join(root, "analysis_k.csv"))
end

-- Runs R.evaluate over `examples` and returns per-example rows
-- {id, hops, correct, thoughts, new_tokens, thought_tensor}. fixed_k: exactly
-- that many thoughts (final-stage layout, as the sweep); with policy set the
-- policy decides (capped at K); neither: the curriculum's planned count at the
-- best checkpoint's stage.
local function evaluate(split, examples, how)
  local rows = {}
  local sink = {row = function(_, r)
    rows[#rows + 1] = {id = r.id, correct = r.correct == 1, thoughts = r.thoughts, new_tokens = r.new_tokens}
  end}
  local capture -- the thoughts of each example, through the probe interface of R.evaluate
  if how.thoughts then
    capture = {plugin = {wants = function() return {thoughts = true} end,
                         on_example = function(_, ev) rows[ev.index + 1].tensor = ev.thoughts; return {} end,
                         on_end = function() return {} end}}
  end
  ctx.probes = capture and {capture} or {}
  local saved_eot = ctx.eot
  if how.policy then ctx.eot = how.policy end
  if how.fixed_k or how.policy then ctx.fixed_thoughts, ctx.fixed_final_stage = how.fixed_k or K, true end
  local ok, err = pcall(R.evaluate, ctx, split, examples, best_state.epoch, best_state.stage, sink)
  ctx.fixed_thoughts, ctx.fixed_final_stage, ctx.eot, ctx.probes = nil, nil, saved_eot, {}
  if not ok then error(err, 0) end
  for i, r in ipairs(rows) do r.hops = #examples[i].steps end
  return rows
end

local function mean(rows, f)
  local s = 0
  for _, r in ipairs(rows) do s = s + f(r) end
  return #rows > 0 and s / #rows or 0
end

-- ------------------------------------------------------------------ 2. labels

local t_label = coconut.time()
local at_K = evaluate("train", label_set, {fixed_k = K, thoughts = true})
local correct_by_k = {}
if o.label == "outcome" then
  for k = 0, K - 1 do
    local rows = evaluate("train", label_set, {fixed_k = k})
    for i, r in ipairs(rows) do
      correct_by_k[i] = correct_by_k[i] or {}
      correct_by_k[i][k + 1] = r.correct
    end
  end
  for i, r in ipairs(at_K) do correct_by_k[i][K + 1] = r.correct end
end
local examples, n_excluded = {}, 0 -- labelled examples: {i, id, hops, labels, tensor}
for i, r in ipairs(at_K) do
  local y = EOT.labels(o.label, {hops = r.hops, correct = correct_by_k[i]}, K, o.never_right)
  if not y then
    n_excluded = n_excluded + 1
  else
    if not r.tensor or #r.tensor ~= K then fail("example %d produced %s thoughts, expected %d", i, r.tensor and #r.tensor or "no", K) end
    examples[#examples + 1] = {i = i, id = r.id, hops = r.hops, labels = y, tensor = r.tensor}
  end
end
P.log("[eot_classifier] labels (%s): %d examples x %d decisions%s, %s", o.label, #examples, K,
  o.label == "outcome" and string.format(", %d never right in k = 0..%d (%s)", n_excluded, K,
    o.never_right == "exclude" and "excluded" or "labelled continue") or "", P.fmt_time(coconut.time() - t_label))
if #examples < 2 then
  fail("only %d labelled example(s)%s: too few to train and hold out", #examples,
    n_excluded > 0 and string.format(" (%d never answered right with k = 0..%d; --never_right continue keeps them)", n_excluded, K) or "")
end

-- ------------------------------------------------------------------ 3. classifier

local tr_idx, ho_idx = EOT.split(#examples, o.holdout, o.seed)
local function assemble(idx)
  local ts, y, meta = {}, {}, {}
  for _, j in ipairs(idx) do
    local ex = examples[j]
    ts[#ts + 1] = ex.tensor
    for n = 0, K - 1 do
      y[#y + 1] = ex.labels[n + 1]
      meta[#meta + 1] = {id = ex.id, hops = ex.hops, n = n}
    end
  end
  if #ts == 0 then return nil, {}, {} end
  local X = EOT.features(ts, o.step_feature)
  return X, y, meta
end
local Xtr, ytr, mtr = assemble(tr_idx)
do -- one class only: say why, per labelling mode
  local npos = 0
  for _, v in ipairs(ytr) do npos = npos + v end
  if npos == 0 or npos == #ytr then
    local why = o.label == "steps"
      and (npos == 0 and string.format("every example has at least K = %d reasoning steps; raise --max_k", K)
                     or "every example has 0 reasoning steps")
      or (npos == 0 and "no example is ever answered right (see --never_right)"
                     or "every example answered right at some k is already right at k = 0 (the thoughts do not change its answer)")
    fail("all %d training decisions are labelled '%s': nothing to separate (%s)", #ytr, npos == 0 and "continue" or "stop", why)
  end
end
local Xho, yho, mho = assemble(ho_idx)
local held = Xho and {X = Xho, y = yho} or nil
local t_train = coconut.time()
assert(coconut.fs.mkdir(dir, {parents = true})) -- the classifier's directory: created once its labels are good
local trainlog = assert(coconut.csv.open(join(dir, "train.csv"), {"step", "train_loss", "holdout_loss", "holdout_accuracy"}))
local clf, log, w = EOT.train(Xtr, ytr, {kind = o.kind, hidden = o.hidden, steps = o.steps, lr = o.lr, weight_decay = o.weight_decay,
                                        seed = o.seed, normalize = o.normalize, class_weight = o.class_weight, held = held,
                                        on_log = function(r) trainlog:row(r) end})
assert(trainlog:close())
local lg_tr = clf:logits(Xtr):totable()
local acc_tr, bal_tr = EOT.accuracy(lg_tr, ytr)
local lg_ho = Xho and clf:logits(Xho):totable() or {}
local acc_ho, bal_ho = EOT.accuracy(lg_ho, yho)
-- stop counts the classifier implies at threshold 0.5 vs the labels', per held-out example
local exact, n_ho = 0, #ho_idx
for q, j in ipairs(ho_idx) do
  local p = {}
  for n = 0, K - 1 do p[n + 1] = EOT.sigmoid(lg_ho[(q - 1) * K + n + 1]) end
  local want = K
  for n = 0, K - 1 do if examples[j].labels[n + 1] == 1 then want = n; break end end
  if EOT.stop_count(p, 0.5, K, o.min_thoughts) == want then exact = exact + 1 end
end
local npos = 0
for _, v in ipairs(ytr) do npos = npos + v end
local info = {rows_train = #ytr, rows_holdout = #yho, examples_train = #tr_idx, examples_holdout = n_ho, stop_share_train = npos / #ytr,
              pos_weight = w.pos_weight, neg_weight = w.neg_weight, train_accuracy = acc_tr, train_balanced_accuracy = bal_tr,
              holdout_accuracy = n_ho > 0 and acc_ho or nil, holdout_balanced_accuracy = n_ho > 0 and bal_ho or nil,
              holdout_stop_count_exact = n_ho > 0 and exact / n_ho or nil, excluded_examples = n_excluded,
              label = o.label, never_right = o.never_right, kind = o.kind, K = K, seconds = coconut.time() - t_train}
local weights = join(dir, "classifier.safetensors")
EOT.save(weights, clf, {d = d, step_feature = o.step_feature, normalize = o.normalize, max_thoughts = K,
                        extra = {label = o.label, never_right = o.never_right, source = from,
                                 holdout_accuracy = info.holdout_accuracy or "", holdout_balanced_accuracy = info.holdout_balanced_accuracy or ""}})
info.options = O.resolved(spec, o)
assert(coconut.json.write(join(dir, "classifier.json"), info))
do
  local lab = assert(coconut.csv.open(join(dir, "labels.csv"), {"split", "id", "hops", "n", "label", "p_stop"}))
  for split, part in pairs{train = {mtr, ytr, lg_tr}, holdout = {mho, yho, lg_ho}} do
    for q, m in ipairs(part[1]) do
      lab:row{split = split, id = m.id, hops = m.hops, n = m.n, label = part[2][q], p_stop = EOT.sigmoid(part[3][q])}
    end
  end
  assert(lab:close())
end
if n_ho > 0 then
  P.log("[eot_classifier] %s on %d decisions (%.0f%% stop): held-out accuracy %.3f (balanced %.3f) on %d decisions of %d examples; "
    .. "stop count = label's on %.1f%% of them; train accuracy %.3f", o.kind, #ytr, 100 * npos / #ytr, acc_ho, bal_ho, #yho, n_ho,
    100 * exact / n_ho, acc_tr)
else
  P.log("[eot_classifier] %s on %d decisions: train accuracy %.3f (no holdout)", o.kind, #ytr, acc_tr)
end

-- ------------------------------------------------------------------ 4. policies on test

local curve, policies, per_example, by_hops = {}, {}, {}, {}
local hops_of = {}
for i, ex in ipairs(test) do hops_of[tostring(ex.id or (i - 1))] = #ex.steps end
for _, r in ipairs(assert(coconut.csv.read(join(root, "analysis_k.csv")))) do
  if r.mode == "sweep" then
    local row = {policy = "fixed", k = tonumber(r.k), n = tonumber(r.n), accuracy = tonumber(r.accuracy),
                 thoughts = tonumber(r.thoughts), new_tokens = tonumber(r.new_tokens)}
    curve[#curve + 1] = row
    policies[#policies + 1] = row
  end
end
table.sort(curve, function(a, b) return a.k < b.k end)
do -- the fixed policies per hop count, from the sweep's eval rows
  local per_k = {}
  for _, r in ipairs(assert(coconut.csv.read(join(root, "analysis/eval.csv")))) do
    local k = tonumber(r.k)
    per_k[k] = per_k[k] or {}
    per_k[k][#per_k[k] + 1] = {hops = hops_of[r.id] or -1, thoughts = tonumber(r.thoughts), correct = r.correct == "1"}
  end
  for _, c in ipairs(curve) do
    for _, h in ipairs(EOT.by_hops(per_k[c.k] or {})) do
      h.policy, h.k = "fixed", c.k
      by_hops[#by_hops + 1] = h
    end
  end
end

local function add_policy(label, threshold, rows)
  local hops, th = {}, {}
  for i, r in ipairs(rows) do
    hops[i], th[i] = r.hops, r.thoughts
    per_example[#per_example + 1] = {policy = label, threshold = threshold, id = r.id, hops = r.hops, thoughts = r.thoughts,
                                      correct = r.correct and 1 or 0}
  end
  local acc = mean(rows, function(r) return r.correct and 1 or 0 end)
  local mth = mean(rows, function(r) return r.thoughts end)
  local row = {policy = label, threshold = threshold, n = #rows, accuracy = acc, thoughts = mth,
               new_tokens = mean(rows, function(r) return r.new_tokens end), hops_corr = EOT.correlation(th, hops),
               fixed_acc_at_thoughts = EOT.fixed_accuracy_at(curve, mth), fixed_thoughts_at_acc = EOT.fixed_thoughts_for(curve, acc)}
  policies[#policies + 1] = row
  for _, h in ipairs(EOT.by_hops(rows)) do
    h.policy, h.threshold = label, threshold
    by_hops[#by_hops + 1] = h
  end
  return row
end

local plan_row = add_policy("plan", nil, evaluate("test", test, {}))
P.log("[eot_classifier] test, the curriculum's planned count: accuracy %.3f, %.2f thoughts", plan_row.accuracy, plan_row.thoughts)
for _, t in ipairs(thresholds) do
  local pol = coconut.plugin.load("eot", "learned", {weights = weights, threshold = t, max_thoughts = K, min_thoughts = o.min_thoughts})
  local row = add_policy("learned", t, evaluate("test", test, {policy = pol}))
  pol:close()
  P.log("[eot_classifier] test, learned threshold %.2f: accuracy %.3f, %.2f thoughts (fixed curve at these thoughts: %s; "
    .. "thoughts the fixed curve needs for this accuracy: %s); corr(thoughts, hops) %s", t, row.accuracy, row.thoughts,
    row.fixed_acc_at_thoughts and string.format("%.3f", row.fixed_acc_at_thoughts) or "-",
    row.fixed_thoughts_at_acc and string.format("%.2f", row.fixed_thoughts_at_acc) or "never",
    row.hops_corr and string.format("%.2f", row.hops_corr) or "-")
end

local POL_COLS = {"policy", "k", "threshold", "n", "accuracy", "thoughts", "new_tokens", "hops_corr", "fixed_acc_at_thoughts",
                  "fixed_thoughts_at_acc"}
local w1 = assert(coconut.csv.open(join(dir, "eot_policies.csv"), POL_COLS))
for _, r in ipairs(policies) do w1:row(r) end
assert(w1:close())
local w2 = assert(coconut.csv.open(join(dir, "eot_thoughts.csv"), {"policy", "threshold", "id", "hops", "thoughts", "correct"}))
for _, r in ipairs(per_example) do w2:row(r) end
assert(w2:close())
local w3 = assert(coconut.csv.open(join(dir, "eot_by_hops.csv"), {"policy", "k", "threshold", "hops", "n", "accuracy", "thoughts"}))
for _, r in ipairs(by_hops) do w3:row(r) end
assert(w3:close())
local png = F.eot_tradeoff(dir, string.format("%s (%s labels, %s)", run, o.label, o.kind))
model:close()

-- the table
print("")
print(string.format("%-10s %5s %9s %9s %9s %8s", "policy", "k", "threshold", "accuracy", "thoughts", "corr(h)"))
for _, r in ipairs(policies) do
  print(string.format("%-10s %5s %9s %9.3f %9.2f %8s", r.policy, r.k and tostring(r.k) or "", r.threshold and string.format("%.2f", r.threshold) or "",
    r.accuracy, r.thoughts, r.hops_corr and string.format("%.2f", r.hops_corr) or ""))
end
print("")
print("classifier: " .. weights)
print("policies:   " .. join(dir, "eot_policies.csv"))
print("figure:     " .. png)
