-- coco.experiment — the shared driver of experiment scripts: data, tokenizer,
-- models, plugins, one run per method, the comparison table and figures.
--
--   local E = require "coco.experiment"
--   E.main{name = "prosqa_k6", spec = spec, presets = presets, argv = arg, dataset = "prosqa"}
--
-- Methods map to curriculum plugins (E.METHODS, in the paper's Table 1 order):
-- cot, nocot, icot, pause, coconut, and Coconut's three ablations, which are
-- the coconut plugin with one option changed (coconut_nocur: curriculum=false,
-- coconut_nothought: thoughts=none, coconut_pausethought: thoughts=pause).
-- Any other name loads the curriculum plugin of that name with its defaults.
-- An experiment may add variants, its own method names for a base method with
-- curriculum options changed (cfg.variants, e.g. coconut_c2; E.curriculum).
-- All methods of one invocation share the
-- data, the tokenizer and the model initialisation (same seed), so their
-- numbers are comparable. Results go to <results>/<name>/<run>/<method>/ and a
-- results.csv with one row per method at <results>/<name>/<run>/ (with the
-- mean new tokens and thoughts per test question, from each eval.csv).
-- Every experiment gets a `--seeds 0,1,2` option (coco.seeds): the whole run
-- once per seed into <run>/seed<N>/, then mean ± std across seeds.
local O = require "coco.options"
local R = require "coco.run"
local PT = require "coco.pretrain"
local Layout = require "coco.layout"
local F = require "coco.figures"
local P = require "coco.progress"
local S = require "coco.seeds"
local RL = require "coco.runlock"
local K = require "coco.killpoint"
local D = require "coco.dist"

local E = {}

local function split_list(s)
  local t = {}
  for x in tostring(s):gmatch("[^,%s]+") do t[#t + 1] = x end
  return t
end
E.split_list = split_list

local function take(list, n)
  if not n or n <= 0 or n >= #list then return list end
  local t = {}
  for i = 1, n do t[i] = list[i] end
  return t
end

-- Texts the word-level vocabulary is built from: exactly the strings the
-- layout tokenizes (coco.layout's texts for the style).
local function layout_texts(examples, style)
  local t = {}
  for _, ex in ipairs(examples) do
    for _, x in ipairs(Layout.texts(ex, style)) do t[#t + 1] = x end
  end
  return t
end

-- The layout style of the run's options: symbolic ProsQA has no "\n" / "### ".
function E.style(o) return o.format == "symbolic" and "symbolic" or "words" end

local SPECIALS = {"<|start-latent|>", "<|end-latent|>", "<|latent|>"}
E.layout_texts, E.SPECIALS = layout_texts, SPECIALS -- for tests that build the same vocabulary

-- Methods in the paper's Table 1 order, with what each needs from the run.
E.PAPER_ORDER = {"cot", "nocot", "icot", "pause", "coconut", "coconut_nocur", "coconut_nothought", "coconut_pausethought"}
E.USES_PAUSE = {pause = true, coconut_pausethought = true} -- methods that need the <|pause|> token

-- Does any of these methods need the <|pause|> token?
function E.needs_pause(methods)
  for _, m in ipairs(methods or {}) do if E.USES_PAUSE[m] then return true end end
  return false
end

-- methods (optional): the run's method list; the <|pause|> token is added when
-- --pause_tokens > 0 or a method needs it (so every method of the run shares
-- one tokenizer, and runs without such a method keep their old vocabulary).
function E.tokenizer(o, train, methods)
  local tok
  if o.tokenizer == "words" then
    tok = coconut.check(coconut.tokenizer.words(layout_texts(train, E.style(o)), {specials = SPECIALS, unk = true}))
  elseif o.tokenizer == "gpt2" then
    if o.gpt2_vocab == "" then coconut.user_error("--tokenizer gpt2 needs --gpt2_vocab (vocab.json or encoder.json) and --gpt2_merges") end
    local err
    tok, err = coconut.tokenizer.gpt2(o.gpt2_vocab, o.gpt2_merges ~= "" and o.gpt2_merges or nil)
    if not tok then coconut.user_error("--gpt2_vocab / --gpt2_merges: " .. tostring(err)) end
    for _, s in ipairs(SPECIALS) do tok:add_special(s) end
  else
    coconut.user_error("--tokenizer must be 'words' or 'gpt2', got '" .. o.tokenizer .. "'")
  end
  local special = {start = tok:id(SPECIALS[1]), end_ = tok:id(SPECIALS[2]), latent = tok:id(SPECIALS[3]), eos = tok:eos()}
  if (o.pause_tokens and o.pause_tokens > 0) or E.needs_pause(methods) then special.pause = tok:add_special("<|pause|>") end
  return tok, special
end

-- The vocabulary every method's model starts from: the tokenizer's without a
-- trailing <|pause|>. That token is added last (E.tokenizer), and only the
-- methods that use it grow their model by its row (E.with_pause), so a method's
-- initialisation and numbers do not depend on which other methods share the run:
-- `--method coconut` trains the same model as the coconut row of `--method all`.
function E.base_vocab(tok, special)
  if special.pause and special.pause == tok:size() - 1 then return special.pause end
  return tok:size()
end

-- A model for one method: from HF weights (then the vocabulary grows by the
-- added tokens, new rows copied from init_token) or fresh with the seed.
-- vocab: the vocabulary size wanted (default: the tokenizer's).
function E.model(o, tok, init_path, vocab)
  vocab = vocab or tok:size()
  local m
  if init_path then
    m = coconut.check(D.load_model(init_path)) -- under MPI: rank 0 reads, the others receive
  elseif o.model_path ~= "" then
    local err
    m, err = coconut.gpt2.load(o.model_path)
    if not m then coconut.user_error("--model_path: " .. tostring(err)) end
    local base = m:config().vocab_size
    if vocab > base then
      local from = tok:id(o.init_token)
      if not from then coconut.user_error("--init_token '" .. o.init_token .. "' is not a token of the tokenizer") end
      m:add_tokens(vocab - base, from)
    end
  else
    local shape = {preset = o.model, vocab_size = vocab, n_positions = o.n_positions, dropout = o.dropout,
                   seed = o.seed + 1}
    -- optional overrides of the preset's shape (options absent from a spec are nil)
    for _, k in ipairs{"n_layer", "n_embd", "n_head"} do
      if o[k] and o[k] > 0 then shape[k] = o[k] end
    end
    m = coconut.gpt2.new(shape)
    if o.position_init == "sinusoid" then m:init_positions("sinusoid", 0.02) end
  end
  local c = m:config()
  if c.vocab_size < vocab then
    coconut.user_error(string.format("%s: the model's vocabulary (%d) is smaller than the tokenizer's (%d)",
      init_path or (o.model_path ~= "" and o.model_path) or "--model", c.vocab_size, vocab))
  end
  return m
end

-- Grows a base-vocabulary model by the <|pause|> row for a method that uses it;
-- the row starts as a copy of --init_token's row when the tokenizer has that
-- token, else of <|latent|>'s (the slot a pause replaces in pause as thought).
function E.with_pause(o, m, tok, special)
  local have = m:config().vocab_size
  if special.pause and have <= special.pause then
    m:add_tokens(special.pause + 1 - have, tok:id(o.init_token) or special.latent)
  end
  return m
end

-- The options of the coconut plugin from the run's options (Coconut and its ablations).
local function coconut_options(o, extra)
  local t = {c_thought = o.c_thought, max_latent_stage = o.max_latent_stage, epochs_per_stage = o.epochs_per_stage,
             epochs = o.epochs, pad_latent_to_max = o.pad_latent_to_max, uniform_prob = o.uniform_prob,
             reset_optimizer = o.reset_optimizer, loss = o.coconut_loss,
             markers = o.coconut_markers == nil and true or o.coconut_markers}
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- An option of the run, or nil when the experiment's spec lacks it or it is
-- "unset" (0 for counts): the plugin's default applies then.
local function opt(o, name, unset)
  local v = o[name]
  if v == nil or v == unset then return nil end
  return v
end

local function baseline_epochs(o) return o.baseline_epochs > 0 and o.baseline_epochs or o.epochs end

-- method -> function(o) returning the curriculum plugin's name and options.
E.METHODS = {
  cot = function(o) return "cot", {epochs = baseline_epochs(o)} end,
  nocot = function(o) return "nocot", {epochs = baseline_epochs(o)} end,
  coconut = function(o) return "coconut", coconut_options(o) end,
  coconut_nocur = function(o) return "coconut", coconut_options(o, {curriculum = false}) end,
  coconut_nothought = function(o) return "coconut", coconut_options(o, {thoughts = "none"}) end,
  coconut_pausethought = function(o) return "coconut", coconut_options(o, {thoughts = "pause"}) end,
  -- Pause token: as many pauses as Coconut's final stage has thoughts
  -- (max_latent_stage x c_thought) unless --pause_count says otherwise; the
  -- baselines' epochs (no curriculum)
  pause = function(o)
    return "pause", {epochs = baseline_epochs(o), n_pause = opt(o, "pause_count", 0) or o.max_latent_stage * o.c_thought}
  end,
  -- iCoT: a curriculum, so Coconut's --epochs unless --icot_epochs
  icot = function(o)
    return "icot", {epochs = opt(o, "icot_epochs", 0) or o.epochs, remove_per_epoch = opt(o, "icot_remove_per_epoch"),
                    removal_smoothing_lambda = opt(o, "icot_smoothing_lambda"),
                    remove_all_when_remove_beyond = opt(o, "icot_remove_all_beyond"),
                    pretrain_epochs = opt(o, "icot_pretrain_epochs"), reset_optimizer = opt(o, "icot_reset_optimizer")}
  end,
}

-- Method variants: an experiment may add methods of its own, each a base
-- method with some curriculum options changed, e.g. Coconut at c = 1 and c = 2
-- in one run:
--   E.main{..., variants = {coconut_c2 = {method = "coconut", options = {c_thought = 2}}}}
-- `options` is a table or function(o) returning one; it is applied over the
-- base method's options. Everything else the driver decides by method name
-- (the <|pause|> token, --coconut_from_cot) follows the base method.
function E.base_method(method, variants)
  local v = variants and variants[method]
  return v and v.method or method
end

local function variant_options(v, o)
  if type(v.options) == "function" then return v.options(o) or {} end
  return v.options or {}
end

-- variants (optional): the experiment's cfg.variants.
function E.curriculum(o, method, variants)
  local v = variants and variants[method]
  if v then
    assert(type(v.method) == "string" and not (variants[v.method]), "variant '" .. method .. "' needs a base method name")
    local build = E.METHODS[v.method]
    local name, options = v.method, {}
    if build then name, options = build(o) end
    for k, x in pairs(variant_options(v, o)) do options[k] = x end
    return coconut.plugin.load("curriculum", name, options)
  end
  local build = E.METHODS[method]
  if build then
    local name, options = build(o)
    return coconut.plugin.load("curriculum", name, options)
  end
  -- any other curriculum plugin by name, with its defaults
  return coconut.plugin.load("curriculum", method, {})
end

local function check_dataset(examples, split)
  for i, ex in ipairs(examples) do
    if type(ex.question) ~= "string" or type(ex.answer) ~= "string" or type(ex.steps) ~= "table" then
      coconut.user_error(string.format("dataset split '%s': example %d lacks question/steps/answer", split, i))
    end
  end
end

-- One run per run directory (coco.runlock): taken before the first write.
E.lock = RL.lock

-- "name=value,name=value" (--eot_options) -> {name = "value", ...}; the plugin
-- checks names and types. An item without '=' or with an empty name is a user
-- error naming the option.
function E.plugin_options(text, opt)
  local out = {}
  for _, item in ipairs(split_list(text or "")) do
    local k, v = item:match("^%s*([%w_]+)%s*=(.*)$")
    if not k then
      coconut.user_error(string.format("--%s: '%s' is not name=value (e.g. --%s threshold=0.6,max_thoughts=6)", opt, item, opt))
    end
    if out[k] ~= nil then coconut.user_error(string.format("--%s: '%s' is given twice", opt, k)) end
    out[k] = v:match("^%s*(.-)%s*$")
  end
  return out
end

-- The names the user gave, checked before the data are loaded so that a typo
-- stops the run at once, with a hint: the methods (E.METHODS, the
-- experiment's variants, or any curriculum plugin), --eot, --probes and
-- --analysis_probes (plugins of those kinds).
function E.check_names(o, cfg, methods)
  if #methods == 0 then coconut.user_error("--method: no method given (e.g. --method coconut,cot)") end
  local known = {}
  for k in pairs(E.METHODS) do known[#known + 1] = k end
  for k in pairs(cfg.variants or {}) do known[#known + 1] = k end
  table.sort(known)
  for _, m in ipairs(methods) do
    if not E.METHODS[m] and not (cfg.variants and cfg.variants[m]) and not coconut.plugin.find("curriculum", m) then
      coconut.user_error(string.format("--method: unknown method '%s'%s; methods: %s, all, or the name of a curriculum plugin",
        m, O.hint(m, known), table.concat(known, ", ")))
    end
  end
  -- a trial load: a plugin file of the wrong ABI, without coco_plugin_init or
  -- whose init/create fails is reported now, before a run directory exists
  local function plugin(kind, name, opt, popts, popt_name)
    if name == "" then coconut.user_error(string.format("--%s: empty %s plugin name", opt, kind)) end
    local path, err = coconut.plugin.find(kind, name)
    if not path then coconut.user_error("--" .. opt .. ": " .. tostring(err)) end
    local ok, p = pcall(coconut.plugin.load, kind, name, popts or {})
    if not ok and coconut.is_user_error(p) then
      coconut.user_error(string.format("--%s%s: %s", opt, popt_name and (" / --" .. popt_name) or "", tostring(p)))
    end
    if not ok then error(p, 0) end -- a bug in a Lua plugin: its traceback
    p:close()
  end
  plugin("eot", o.eot, "eot", E.plugin_options(o.eot_options, "eot_options"), "eot_options")
  for _, p in ipairs(split_list(o.probes)) do plugin("probe", p, "probes") end
  for _, p in ipairs(split_list(o.analysis_probes or "")) do plugin("probe", p, "analysis_probes") end
  -- each method's curriculum with the run's options (their plugin checks them)
  for _, m in ipairs(methods) do
    local ok, c = pcall(E.curriculum, o, m, cfg.variants)
    if not ok then
      if coconut.is_user_error(c) then coconut.user_error("--method " .. m .. ": " .. tostring(c)) end
      error(c, 0)
    end
    c:close()
  end
end

-- Parses the options (the spec gains `seeds`, coco.seeds, unless it has one)
-- and runs: once with --seed, or once per seed of --seeds then the aggregate.
function E.main(cfg)
  S.add_option(cfg.spec)
  local o = O.parse(cfg.spec, cfg.presets, cfg.argv)
  if o.threads > 0 then coconut.set_threads(o.threads) end
  -- under MPI: every rank must run the same code and options (coco.dist)
  D.start(cfg.name, coconut.json.encode(O.resolved(cfg.spec, o)), cfg.argv and cfg.argv[0])
  local run = o.run ~= "" and o.run or o.preset
  local root = string.format("%s/%s/%s", o.results, cfg.name, run)
  local seeds = S.parse(o.seeds)
  local r
  if seeds then
    r = S.run{cfg = cfg, opts = o, root = root, run = run, seeds = seeds, run_one = E.run_one}
  else
    r = E.run_one(o, cfg, root)
  end
  -- a preset may say what its numbers are (and are not) worth, after the table
  local note = cfg.notes and cfg.notes[o.preset]
  if note and D.root then print("\n" .. note) end
  return r
end

-- The options every experiment shares (coco.options entries, in display
-- order): run control, data files, tokenizer and model, optimisation, the
-- Coconut curriculum, evaluation and the Table 1 baselines.
-- Every numeric option declares its valid range and every option with a
-- closed set of words lists them (the fifth field, coco.options): a value
-- outside is refused before anything runs, naming the option and the range.
E.COMMON_OPTIONS = {
  -- what to run
  {"preset", "string", "", "a preset of the experiment (its --help lists them)"},
  {"method", "string", "all", "cot | nocot | icot | pause | coconut | coconut_nocur | coconut_nothought | coconut_pausethought | all (the experiment's methods, in the paper's Table 1 order) | comma-separated list"},
  {"run", "string", "", "run name (default: the preset); results go to <results>/<experiment>/<run>/"},
  {"results", "string", "results", "results root"},
  {"resume", "bool", false, "continue an interrupted run from its last checkpoints"},
  {"overwrite", "bool", false, "replace a finished run of the same name"},
  {"seed", "int", 0, "seed of model initialisation, data order and dropout", "[0, inf)"},
  {"threads", "int", 0, "BLIS/OpenMP threads (0: COCONUT_THREADS or all CPUs)", "[0, 1024]"},
  -- data
  {"data", "string", "datasets", "data directory of the dataset plugin"},
  {"data_seed", "int", 20241209, "seed of a generated dataset", "[0, inf)"},
  {"train_file", "string", "", "explicit training file (e.g. the official prosqa_train.json)"},
  {"valid_file", "string", "", "explicit validation file"},
  {"test_file", "string", "", "explicit test file"},
  {"n_train", "int", 0, "use the first n training examples (0: all)", "[0, inf)"},
  {"n_valid", "int", 0, "use the first n validation examples (0: all)", "[0, inf)"},
  {"n_test", "int", 0, "use the first n test examples (0: all)", "[0, inf)"},
  {"extra_eval", "string", "", "extra files scored with the best checkpoint: name=path,... (e.g. official=../shared/data/prosqa/valid.json)"},
  -- tokenizer and model
  {"tokenizer", "string", "words", "words (built from the training text) | gpt2", {"words", "gpt2"}},
  {"gpt2_vocab", "string", "", "GPT-2 vocab.json / encoder.json (tokenizer gpt2)"},
  {"gpt2_merges", "string", "", "GPT-2 merges.txt / vocab.bpe (tokenizer gpt2)"},
  {"model", "string", "small", "GPT-2 preset trained from scratch: tiny | small | mini | gpt2", {"tiny", "small", "mini", "gpt2", "gpt2-medium"}},
  {"n_layer", "int", 0, "layers of a from-scratch model (0: the --model preset's)", "[0, inf)"},
  {"n_embd", "int", 0, "width of a from-scratch model (0: the --model preset's)", "[0, inf)"},
  {"n_head", "int", 0, "attention heads of a from-scratch model (0: the --model preset's)", "[0, inf)"},
  {"model_path", "string", "", "HF GPT-2 model.safetensors (config.json beside it); overrides --model"},
  {"init_token", "string", "<<", "existing token whose embedding initialises the new special tokens"},
  {"n_positions", "int", 512, "context length of a model trained from scratch", "[1, inf)"},
  {"dropout", "number", 0.1, "dropout (HF GPT-2 default 0.1) during training", "[0, 1)"},
  {"position_init", "string", "gpt2", "position embeddings of a from-scratch model: gpt2 (N(0, 0.02)) | sinusoid", {"gpt2", "sinusoid"}},
  {"pretrain_epochs", "int", 0, "epochs of language-model pretraining on the questions' text before all methods (from-scratch models)", "[0, inf)"},
  {"pretrain_lr", "number", 0, "learning rate of the pretraining (0: --lr)", "[0, inf)"},
  {"pretrain_task", "string", "repeat", "pretraining objective on question text: repeat (copy the question) | recall (its edges or sentences again in a random order: content lookup) | lookup (each graph node's token, scored against the set of its children) | lm", {"repeat", "recall", "lookup", "lm"}},
  {"pretrain_lookup_units", "string", "0", "lookup pretraining: how many of the question's units (sentences or edges) each item keeps, per epoch, comma-separated, the last repeating; 0 = the whole question (e.g. 4,4,8,16,0: short contexts first)"},
  {"pretrain_until_loss", "number", 0, "stop the pretraining after the first epoch whose mean loss is <= this (0: off; --pretrain_epochs is then the cap)", "[0, inf)"},
  -- optimisation
  {"lr", "number", 1e-4, "AdamW learning rate (constant)", "(0, inf)"},
  {"weight_decay", "number", 0.01, "AdamW decoupled weight decay, on all parameters", "[0, inf)"},
  {"beta1", "number", 0.9, "AdamW beta1", "[0, 1)"},
  {"beta2", "number", 0.999, "AdamW beta2", "[0, 1)"},
  {"clip", "number", 0, "gradient-norm clipping (0: off, as the official code)", "[0, inf)"},
  {"warmup_steps", "int", 0, "linear learning-rate warm-up over this many optimizer steps (0: constant, as the official code)", "[0, inf)"},
  {"batch_size", "int", 128, "global batch: examples per optimizer step", "[1, inf)"},
  {"micro_batch", "int", 32, "examples per forward/backward (gradients accumulate up to batch_size)", "[1, inf)"},
  -- curriculum (Coconut)
  {"c_thought", "int", 1, "continuous thoughts per replaced step (c)", "[1, inf)"},
  {"max_latent_stage", "int", 6, "stages that replace steps (k)", "[0, inf)"},
  {"epochs_per_stage", "int", 5, "epochs per stage", "[1, inf)"},
  {"epochs", "int", 50, "total epochs of the Coconut run (the last stage gets what remains)", "[1, inf)"},
  {"baseline_epochs", "int", 0, "epochs of the CoT and No-CoT runs (0: same as --epochs)", "[0, inf)"},
  {"pad_latent_to_max", "bool", true, "use max_latent_stage thoughts for short chains too (ProsQA config)"},
  {"uniform_prob", "number", 0.0, "probability of training an example at a random stage", "[0, 1]"},
  {"reset_optimizer", "bool", true, "reset AdamW at each stage switch"},
  {"coconut_markers", "bool", true, "Coconut thoughts between <|start-latent|> and <|end-latent|> (official); false: right after the question (Reasoning-by-Superposition layout)"},
  {"coconut_loss", "string", "official", "Coconut loss: official (kept steps + answer) | frontier (one random shortest-path frontier node after s thoughts) | bfs (-log P(BFS frontier set)) | bfs_all (bfs after every thought, each against its own depth's set)", {"official", "frontier", "bfs", "bfs_all"}},
  {"reset_every_epoch", "bool", false, "reset AdamW at every epoch instead (what the official run.py does with reset_optimizer)"},
  {"max_epochs", "int", 0, "stop after this many epochs (0: the full schedule)", "[0, inf)"},
  {"coconut_from_cot", "bool", false, "start Coconut from the CoT model and train stages 1.. (the official GSM8k recipe)"},
  -- evaluation
  {"eot", "string", "fixed", "<eot> policy plugin"},
  {"eot_options", "string", "", "options of the <eot> plugin, name=value,... (e.g. --eot learned --eot_options weights=eot.safetensors,threshold=0.6)"},
  {"eval_batch", "int", 64, "prompts generated together", "[1, inf)"},
  {"max_new_tokens", "int", 128, "greedy tokens after the thoughts", "[1, inf)"},
  {"eval_fixed_thoughts", "int", 0, "also score test (and extra sets) with this many thoughts for every example (0: off); the main numbers use the curriculum's plan", "[0, inf)"},
  {"stage_probe", "bool", false, "log stage-matched accuracy: is the token after s thoughts in the shortest-path frontier at depth s+1 (Coconut, frontier data)"},
  {"probes", "string", "", "probe plugins run during evaluation, comma-separated"},
  {"analysis_k", "string", "", "after training, score test with the best checkpoint once per thought count in this list (e.g. 0,1,2,3,4,5,6), <|end-latent|> forced after k thoughts: <method>/analysis_k.csv and analysis/ (methods without thoughts: one reference pass)"},
  {"analysis_probes", "string", "", "probe plugins run only in the --analysis_k sweep (besides --probes), comma-separated (e.g. paths,frontier,parallelism,height,decode)"},
  {"pause_tokens", "int", 0, "add a <|pause|> token to the tokenizer (pause curricula)", "[0, inf)"},
  -- baselines of the paper's Table 1 (issue 13)
  {"pause_count", "int", 0, "<pause> tokens of the pause method (0: Coconut's final-stage thoughts, max_latent_stage x c_thought)", "[0, inf)"},
  {"icot_epochs", "int", 0, "epochs of the icot method (0: --epochs)", "[0, inf)"},
  {"icot_remove_per_epoch", "int", 8, "icot: chain tokens removed per epoch (iCoT reference: 8)", "[0, inf)"},
  {"icot_smoothing_lambda", "number", 4, "icot: removal smoothing lambda, P(extra offset o) ~ exp(-lambda o) (reference: 4; 0: off)", "[0, inf)"},
  {"icot_remove_all_beyond", "int", 39, "icot: remove the whole chain once this many tokens are scheduled (reference: 39; 0: never)", "[0, inf)"},
  {"icot_pretrain_epochs", "int", 0, "icot: epochs on the full chain before removal starts", "[0, inf)"},
  {"icot_reset_optimizer", "bool", true, "icot: reset AdamW whenever the removed token count changes"},
}

-- An experiment's option spec: E.COMMON_OPTIONS plus its own entries. An own
-- entry named like a common one replaces it where it stands (e.g. its preset
-- list, its data directory); the others follow the common data options (after
-- extra_eval), in the order given.
function E.spec(own)
  local own_by, new = {}, {}
  for _, e in ipairs(own or {}) do
    assert(not own_by[e[1]], "option " .. tostring(e[1]) .. " declared twice")
    own_by[e[1]] = e
  end
  local common = {}
  for _, e in ipairs(E.COMMON_OPTIONS) do common[e[1]] = true end
  for _, e in ipairs(own or {}) do if not common[e[1]] then new[#new + 1] = e end end
  local entries = {}
  for _, e in ipairs(E.COMMON_OPTIONS) do
    entries[#entries + 1] = own_by[e[1]] or e
    if e[1] == "extra_eval" then
      for _, x in ipairs(new) do entries[#entries + 1] = x end
    end
  end
  return O.spec(entries)
end

-- --resume continues checkpoints trained with the run's vocabulary: the
-- word-level tokenizer built from this invocation's data must hold the tokens
-- of <root>/tokenizer.json, in order (else the data changed, and every token id
-- with it). A run some of whose methods used <|pause|> (the last token) keeps
-- it when other methods resume alone, so the shared file stays as it was.
-- Checked before anything in root is rewritten.
function E.check_resume_tokenizer(root, tok, special)
  local path = root .. "/tokenizer.json"
  if not coconut.fs.exists(path) then return end
  local old = coconut.check(coconut.json.read(path))
  if type(old) ~= "table" or type(old.tokens) ~= "table" then
    coconut.user_error(path .. ": not a word-level tokenizer file (no \"tokens\" list)")
  end
  local n = #old.tokens
  if not special.pause and n == tok:size() + 1 and old.tokens[n] == "<|pause|>" then
    special.pause = tok:add_special("<|pause|>")
  end
  local probe = root .. "/.tokenizer.json.resume"
  coconut.check(tok:save(probe))
  local new = coconut.json.read(probe)
  coconut.fs.remove(probe)
  local same = new and type(new.tokens) == "table" and #new.tokens == n
  for i = 1, n do same = same and new.tokens[i] == old.tokens[i] end
  if not same then
    coconut.user_error(string.format("%s: the run's vocabulary (%d tokens) differs from the one built from this data "
      .. "(%d tokens now): --resume needs the run's original data and options (--data, --n_train, --format, ...), or "
      .. "pass --overwrite / --run NAME for a new run", path, n, tok:size()))
  end
end

-- The single-seed path: every method with o.seed, results in root. The data
-- are loaded first; then on_data() (optional; coco.seeds creates its root
-- there), then root is created: bad data leave nothing written.
function E.run_one(o, cfg, root, on_data)
  local t_all = coconut.time()
  if D.root and coconut.fs.exists(root .. "/results.csv") and not o.resume and not o.overwrite then
    coconut.user_error(string.format("%s already holds a finished run; pass --resume to continue it, --overwrite to replace it, or --run NAME", root))
  end
  local methods = o.method == "all" and split_list(cfg.all_methods or "coconut,cot,nocot") or split_list(o.method)
  E.check_names(o, cfg, methods)
  if o.analysis_k and o.analysis_k ~= "" then R.parse_k_list(o.analysis_k) end -- a bad list fails before any write
  local base = {} -- method -> its base method (itself unless a variant)
  for _, m in ipairs(methods) do base[m] = E.base_method(m, cfg.variants) end
  if o.coconut_from_cot then
    -- the official GSM8k recipe: Coconut starts from the CoT model (its stage 0)
    -- and trains stages 1.. only, so CoT runs first
    local has_cot, ordered = false, {}
    for _, m in ipairs(methods) do has_cot = has_cot or m == "cot" end
    if not has_cot then coconut.user_error("--coconut_from_cot needs the cot method in the same run (--method all or cot,coconut)") end
    ordered[1] = "cot"
    for _, m in ipairs(methods) do if m ~= "cot" then ordered[#ordered + 1] = m end end
    methods = ordered
  end
  -- data, loaded before anything is written: bad or missing data stops the
  -- run with the loader's message (file, line) and no run directory
  local dopts = {dir = o.data, train_file = o.train_file, valid_file = o.valid_file, test_file = o.test_file,
                 generate = true, seed = o.data_seed}
  for k, v in pairs(cfg.dataset_options and cfg.dataset_options(o) or {}) do dopts[k] = v end
  local ropts = cfg.render_options and cfg.render_options(o) or {}
  for k, v in pairs(ropts) do dopts[k] = v end
  -- under MPI rank 0 loads first (it may generate the files), then the others
  local ds = D.root_first(function() return coconut.plugin.load("dataset", cfg.dataset, dopts) end)
  local function load(split)
    local ok, list = pcall(ds.load, ds, split)
    if not ok then
      coconut.user_error(string.format("%s: the %s split cannot be loaded: %s (the data come from --data %s, or --%s_file)", cfg.name, split,
        (tostring(list):gsub("^[^\n]-%.lua:%d+: ", "")), o.data, split))
    end
    return list
  end
  local data = {train = take(load("train"), o.n_train), valid = take(load("valid"), o.n_valid),
                test = take(load("test"), o.n_test), extra = {}}
  for split, list in pairs(data) do if split ~= "extra" then check_dataset(list, split) end end
  -- Renderings that change every epoch (fresh node ids, reshuffled edges,
  -- ProntoQA's relabelled concepts): the training loop and the pretraining ask
  -- for epoch e's training set; valid and test stay at epoch 0.
  if ropts.node_ids == "permute" or ropts.edge_order == "shuffle" or ropts.concepts == "permute" then
    data.train_epoch = function(epoch)
      local eo = {}
      for k, v in pairs(dopts) do eo[k] = v end
      eo.epoch, eo.generate = epoch, false
      local x = coconut.plugin.load("dataset", cfg.dataset, eo)
      return take(x:load("train"), o.n_train)
    end
  end
  if o.extra_eval ~= "" then
    for _, spec in ipairs(split_list(o.extra_eval)) do
      local name, path = spec:match("^([%w_]+)=(.+)$")
      if not name then name, path = coconut.fs.basename(spec):gsub("%.json$", ""), spec end
      if not coconut.fs.exists(path) then coconut.user_error("--extra_eval: " .. path .. " does not exist") end
      local xo = {valid_file = path, generate = false, dir = o.data}
      for k, v in pairs(ropts) do xo[k] = v end
      local x = coconut.plugin.load("dataset", cfg.dataset, xo)
      data.extra[name] = x:load("valid")
    end
  end
  -- the tokenizer (built from the data, or read from --gpt2_vocab / --gpt2_merges)
  -- is input too: a bad file stops the run before anything is written
  local base_list = {}
  for i, m in ipairs(methods) do base_list[i] = base[m] end
  local tok, special = E.tokenizer(o, data.train, base_list)
  if o.model_path ~= "" then
    -- the weights are input too: a truncated file, a bad header or a NaN weight
    -- is reported before the run directory exists (the methods load it again)
    local m, err = coconut.gpt2.load(o.model_path)
    if not m then coconut.user_error("--model_path: " .. tostring(err)) end
    m:close()
  end
  if on_data then on_data() end
  -- the run directory is rank 0's alone (coco.dist)
  if D.root then
    coconut.check(coconut.fs.mkdir(root))
    E.lock(root) -- one run per run directory (after the data: bad data leave nothing behind)
    -- under the lock no other process writes here: temp files are a killed run's leftovers
    local swept = RL.sweep_temp(root)
    if swept > 0 then P.log("[%s] removed %d temp file(s) an interrupted run left in %s", cfg.name, swept, root) end
    if o.resume and o.tokenizer == "words" then E.check_resume_tokenizer(root, tok, special) end
    coconut.check(coconut.json.write(root .. "/config.json", O.resolved(cfg.spec, o)))
  end
  -- the resumed run's <|pause|> token (E.check_resume_tokenizer) on every rank
  if D.bcast(special.pause ~= nil) and not special.pause then special.pause = tok:add_special("<|pause|>") end
  local info = coconut.info()
  P.log("[%s] coconut %s, %s, BLIS %s (%s), %d threads; results in %s", cfg.name, info.version, info.lua, info.blis,
    info.blis_arch, info.threads, root)
  P.log("[%s] data: %d train, %d valid, %d test examples", cfg.name, #data.train, #data.valid, #data.test)
  if o.tokenizer == "words" and D.root then coconut.check(tok:save(root .. "/tokenizer.json")) end
  P.log("[%s] tokenizer: %s, %d tokens", cfg.name, tok:kind(), tok:size())

  local eot = coconut.plugin.load("eot", o.eot, E.plugin_options(o.eot_options, "eot_options"))
  local init_path
  if o.pretrain_epochs > 0 then
    local pm = PT.run{dir = root .. "/pretrain", opts = o, model = E.model(o, tok, nil, E.base_vocab(tok, special)), examples = data.train,
                      train_epoch = data.train_epoch, layout = Layout.new(tok, special, E.style(o)), special = special}
    init_path = root .. "/pretrain/model.safetensors"
    pm:close()
  end
  local results = {}
  for _, method in ipairs(methods) do
    local dir = root .. "/" .. method
    local t0 = coconut.time()
    local first_stage = 0
    local from = init_path
    if base[method] == "coconut" and o.coconut_from_cot then
      from, first_stage = root .. "/cot/checkpoints/best/model.safetensors", 1
      P.log("[%s] starting from the CoT model (%s), stages 1..", method, from)
    end
    local model = E.model(o, tok, from, E.base_vocab(tok, special))
    if E.USES_PAUSE[base[method]] or (o.pause_tokens and o.pause_tokens > 0) then E.with_pause(o, model, tok, special) end
    if method == methods[1] then P.log("[%s] model: %s", cfg.name, tostring(model)) end
    local probes = {}
    for _, name in ipairs(split_list(o.probes)) do
      probes[#probes + 1] = {name = name, plugin = coconut.plugin.load("probe", name, {})}
    end
    local analysis_probes = {}
    for _, name in ipairs(split_list(o.analysis_probes or "")) do
      analysis_probes[#analysis_probes + 1] = {name = name, plugin = coconut.plugin.load("probe", name, {})}
    end
    local cur = E.curriculum(o, method, cfg.variants)
    if D.root then coconut.check(coconut.fs.mkdir(dir)) end
    local mo = {}
    for k, v in pairs(o) do mo[k] = v end
    mo.method = method
    local mconf = O.resolved(cfg.spec, mo)
    local v = cfg.variants and cfg.variants[method]
    -- a variant's config names its base method and the curriculum options it changes
    if v then mconf.variant = {method = v.method, options = variant_options(v, o)} end
    if D.root then coconut.check(coconut.json.write(dir .. "/config.json", mconf)) end
    local r = R.run{dir = dir, opts = o, model = model, tok = tok, special = special, style = E.style(o), data = data, curriculum = cur,
                    eot = eot, probes = probes, analysis_probes = analysis_probes, method = method, first_stage = first_stage}
    r.method = method
    -- training + scoring time of the method, accumulated over --resume runs
    -- (the time of this invocation alone would hide a resumed run's history)
    r.seconds = r.total_wall or (coconut.time() - t0)
    results[#results + 1] = r
    K.point("method") -- test-only kill point (coco.killpoint)
  end
  -- the table and results.csv are rank 0's (read back from its files)
  if not D.root then return results end

  -- one row per method, in the order asked for
  if o.coconut_from_cot then
    local order = {}
    for i, m in ipairs(o.method == "all" and split_list(cfg.all_methods or "coconut,cot,nocot") or split_list(o.method)) do order[m] = i end
    table.sort(results, function(a, b) return (order[a.method] or 99) < (order[b.method] or 99) end)
  end
  -- <split>_new_tokens / _thoughts: means over that split's rows of the
  -- method's eval.csv (read back, so a resumed run counts its earlier rows too)
  -- <split>_tokens: the paper's "# tokens" (new tokens + thoughts; coco.seeds.eval_means)
  local cols = {"method", "best_epoch", "valid_accuracy", "test_accuracy", "test_new_tokens", "test_thoughts",
                "train_seconds", "wall_seconds", "test_tokens"}
  local extra_names = {}
  -- extra sets, plus their fixed-thought scorings (<set>_k<K>) that some methods have
  local seen = {}
  for _, r in ipairs(results) do
    for name in pairs(r.extra or {}) do
      if not seen[name] then seen[name] = true; extra_names[#extra_names + 1] = name end
    end
  end
  table.sort(extra_names)
  for _, n in ipairs(extra_names) do
    cols[#cols + 1] = n .. "_accuracy"; cols[#cols + 1] = n .. "_new_tokens"; cols[#cols + 1] = n .. "_thoughts"
    cols[#cols + 1] = n .. "_tokens"
  end
  -- A run grown over several invocations (--resume --method X into a run
  -- that holds other methods) keeps the rows of the methods not run this time,
  -- while their directories exist; they come after this invocation's methods
  -- in the experiment's method order (the paper's).
  local kept = {}
  if o.resume and coconut.fs.exists(root .. "/results.csv") then
    local old, old_cols = coconut.check(coconut.csv.read(root .. "/results.csv"))
    local ran = {}
    for _, r in ipairs(results) do ran[r.method] = true end
    local have = {}
    for _, c in ipairs(cols) do have[c] = true end
    for _, r in ipairs(old) do
      if r.method and not ran[r.method] and coconut.fs.exists(root .. "/" .. r.method .. "/summary.csv") then
        kept[#kept + 1] = r
      end
    end
    if #kept > 0 then
      for _, c in ipairs(old_cols or {}) do if not have[c] then have[c] = true; cols[#cols + 1] = c end end
    end
  end
  local rank = {}
  for i, m in ipairs(split_list(cfg.all_methods or "coconut,cot,nocot")) do rank[m] = i end
  for i, m in ipairs(E.PAPER_ORDER) do rank[m] = rank[m] or 100 + i end
  local out_rows = {}
  local w = coconut.check(coconut.csv.open(root .. "/results.csv", cols))
  for _, r in ipairs(results) do
    local ev = S.eval_means(root .. "/" .. r.method .. "/eval.csv")
    local t = ev.test or {}
    local row = {method = r.method, best_epoch = r.best_epoch, valid_accuracy = r.valid, test_accuracy = r.test or "",
                 test_new_tokens = t.new_tokens, test_thoughts = t.thoughts, train_seconds = r.wall, wall_seconds = r.seconds,
                 test_tokens = t.tokens}
    for _, n in ipairs(extra_names) do
      local x = ev[n] or {}
      row[n .. "_accuracy"], row[n .. "_new_tokens"], row[n .. "_thoughts"] = r.extra[n], x.new_tokens, x.thoughts
      row[n .. "_tokens"] = x.tokens
    end
    out_rows[#out_rows + 1] = row
  end
  if #kept > 0 then
    for _, r in ipairs(kept) do out_rows[#out_rows + 1] = r end
    -- stable: this invocation's order among its own methods when not ranked
    for i, r in ipairs(out_rows) do r._i = i end
    table.sort(out_rows, function(a, b)
      local ra, rb = rank[a.method] or 1000, rank[b.method] or 1000
      if ra ~= rb then return ra < rb end
      return a._i < b._i
    end)
    for _, r in ipairs(out_rows) do r._i = nil end
  end
  for _, row in ipairs(out_rows) do w:row(row) end
  coconut.check(w:close())
  local cmp_png
  if #out_rows > 1 then
    local ms = {}
    for _, r in ipairs(out_rows) do ms[#ms + 1] = r.method end
    cmp_png = F.compare(root, ms, cfg.name)
  end

  -- the short table
  print("")
  -- # tokens: the paper's count on test (new tokens + thoughts per question)
  print(string.format("%-20s %10s %10s %9s %12s %s", "method", "valid acc", "test acc", "# tokens", "wall time",
    #extra_names > 0 and table.concat(extra_names, " ") or ""))
  for _, r in ipairs(results) do
    local ex = {}
    for _, n in ipairs(extra_names) do ex[#ex + 1] = r.extra[n] and string.format("%.3f", r.extra[n]) or "-" end
    local t = (S.eval_means(root .. "/" .. r.method .. "/eval.csv").test or {}).tokens
    print(string.format("%-20s %10.3f %10s %9s %12s %s", r.method, r.valid, r.test and string.format("%.3f", r.test) or "-",
      t and string.format("%.1f", t) or "-", P.fmt_time(r.seconds), table.concat(ex, " ")))
  end
  print("")
  print("results:  " .. root .. "/results.csv")
  for _, r in ipairs(results) do
    local d = root .. "/" .. r.method
    print(string.format("%-21s %s/{metrics,eval,summary}.csv, figures: %s, %s", r.method .. ":", d, r.figures[1][1], r.figures[2][1]))
  end
  if cmp_png then print("compare:  " .. cmp_png) end
  print(string.format("total %s", P.fmt_time(coconut.time() - t_all)))
  return results
end

return E
