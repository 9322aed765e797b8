-- experiments/prosqa_k6.lua — ProsQA with Coconut (k = 6 stages) and the baselines and ablations of its Table 1.
--
--   coconut run experiments/prosqa_k6.lua                       -- preset small, all three methods
--   coconut run experiments/prosqa_k6.lua --preset quick        -- a ~2 minute smoke run
--   coconut run experiments/prosqa_k6.lua --method coconut --epochs_per_stage 2
--   coconut run experiments/prosqa_k6.lua --preset paper --model_path gpt2/model.safetensors \
--       --gpt2_vocab gpt2/vocab.json --gpt2_merges gpt2/merges.txt --data datasets/prosqa
--   coconut run experiments/prosqa_k6.lua --help                -- every option with its value
--
-- Presets:
--   paper  the official ProsQA Coconut config (args/prosqa_coconut.yaml): GPT-2 124M
--          from HF weights, GPT-2 tokenizer, lr 1e-4, weight decay 0.01, global batch
--          128, 50 epochs, c = 1, max stage 6, 5 epochs per stage, latents padded to
--          the maximum, uniform_prob 0. Needs the weights and tokenizer files.
--   small  (default) finishes on a 2-core machine in about half an hour for all three
--          methods: generated ProsQA data, a word-level tokenizer, a small GPT-2 trained
--          from scratch and a scaled-down schedule.
--   quick  a couple of minutes, for tests.
local E = require "coco.experiment"
local O = require "coco.options"

local spec = O.spec{
  -- what to run
  {"preset", "string", "small", "paper | small | quick"},
  {"method", "string", "all", "cot | nocot | icot | pause | coconut | coconut_nocur | coconut_nothought | coconut_pausethought | all (the eight, in the paper's Table 1 order) | comma-separated list"},
  {"run", "string", "", "run name (default: the preset); results go to <results>/prosqa_k6/<run>/"},
  {"results", "string", "results", "results root"},
  {"resume", "bool", false, "continue an interrupted run from its last checkpoints"},
  {"overwrite", "bool", false, "replace a finished run of the same name"},
  {"seed", "int", 0, "seed of model initialisation, data order and dropout"},
  {"threads", "int", 0, "BLIS/OpenMP threads (0: COCONUT_THREADS or all CPUs)"},
  -- data
  {"data", "string", "datasets/prosqa", "ProsQA directory; generated there when files are missing"},
  {"train_file", "string", "", "explicit train JSON (e.g. the official prosqa_train.json)"},
  {"valid_file", "string", "", "explicit valid JSON"},
  {"test_file", "string", "", "explicit test JSON"},
  {"data_seed", "int", 20241209, "seed of the ProsQA generator"},
  {"graph_nodes", "int", 28, "generator: nodes per graph (28 = the official distribution; fewer = shorter questions)"},
  {"graph_min_hops", "int", 3, "generator: shortest root-to-target distance at least this (official: 3)"},
  -- generator options only shape a fresh --data directory: existing files there are loaded as they are
  {"graph_max_hops", "int", 6, "generator: shortest root-to-target distance at most this (official: 6)"},
  {"graph_min_nodes", "int", 0, "generator filter: fewest nodes per graph after pruning (0: no bound)"},
  {"graph_max_nodes", "int", 0, "generator filter: most nodes per graph after pruning (0: no bound)"},
  {"format", "string", "words", "rendering: words (the official sentences) | symbolic (one token per node, 's t | ... Q a b R root')"},
  {"node_ids", "string", "creation", "symbolic node ids: creation (generator order, a depth cue) | shuffle (one relabelling per graph) | permute (a fresh relabelling per example and epoch)"},
  {"edge_order", "string", "question", "edge order in the question: question (the file's fact order) | file (edges array) | shuffle (reshuffled every epoch)"},
  {"n_train", "int", 0, "use the first n training examples (0: all)"},
  {"n_valid", "int", 0, "use the first n validation examples (0: all)"},
  {"n_test", "int", 0, "use the first n test examples (0: all)"},
  {"extra_eval", "string", "", "extra JSON files scored with the best checkpoint: name=path,... (e.g. official=../shared/data/prosqa/valid.json)"},
  -- tokenizer and model
  {"tokenizer", "string", "words", "words (built from the training text) | gpt2"},
  {"gpt2_vocab", "string", "", "GPT-2 vocab.json / encoder.json (tokenizer gpt2)"},
  {"gpt2_merges", "string", "", "GPT-2 merges.txt / vocab.bpe (tokenizer gpt2)"},
  {"model", "string", "small", "GPT-2 preset trained from scratch: tiny | small | mini | gpt2"},
  {"n_layer", "int", 0, "layers of a from-scratch model (0: the --model preset's)"},
  {"n_embd", "int", 0, "width of a from-scratch model (0: the --model preset's)"},
  {"n_head", "int", 0, "attention heads of a from-scratch model (0: the --model preset's)"},
  {"model_path", "string", "", "HF GPT-2 model.safetensors (config.json beside it); overrides --model"},
  {"init_token", "string", "<<", "existing token whose embedding initialises the new special tokens"},
  {"n_positions", "int", 512, "context length of a model trained from scratch"},
  {"dropout", "number", 0.1, "dropout (HF GPT-2 default 0.1) during training"},
  {"position_init", "string", "gpt2", "position embeddings of a from-scratch model: gpt2 (N(0, 0.02)) | sinusoid"},
  {"pretrain_epochs", "int", 0, "epochs of language-model pretraining on the questions' text before all methods (from-scratch models)"},
  {"pretrain_lr", "number", 0, "learning rate of the pretraining (0: --lr)"},
  {"pretrain_task", "string", "repeat", "pretraining objective on question text: repeat (copy the question) | recall (its edges or sentences again in a random order: content lookup) | lm"},
  {"pretrain_until_loss", "number", 0, "stop the pretraining after the first epoch whose mean loss is <= this (0: off; --pretrain_epochs is then the cap)"},
  -- optimisation
  {"lr", "number", 1e-4, "AdamW learning rate (constant)"},
  {"weight_decay", "number", 0.01, "AdamW decoupled weight decay, on all parameters"},
  {"beta1", "number", 0.9, "AdamW beta1"},
  {"beta2", "number", 0.999, "AdamW beta2"},
  {"clip", "number", 0, "gradient-norm clipping (0: off, as the official code)"},
  {"warmup_steps", "int", 0, "linear learning-rate warm-up over this many optimizer steps (0: constant, as the official code)"},
  {"batch_size", "int", 128, "global batch: examples per optimizer step"},
  {"micro_batch", "int", 32, "examples per forward/backward (gradients accumulate up to batch_size)"},
  -- curriculum (Coconut)
  {"c_thought", "int", 1, "continuous thoughts per replaced step (c)"},
  {"max_latent_stage", "int", 6, "stages that replace steps (k)"},
  {"epochs_per_stage", "int", 5, "epochs per stage"},
  {"epochs", "int", 50, "total epochs of the Coconut run (the last stage gets what remains)"},
  {"baseline_epochs", "int", 0, "epochs of the CoT and No-CoT runs (0: same as --epochs)"},
  {"pad_latent_to_max", "bool", true, "use max_latent_stage thoughts for short chains too (ProsQA config)"},
  {"uniform_prob", "number", 0.0, "probability of training an example at a random stage"},
  {"reset_optimizer", "bool", true, "reset AdamW at each stage switch"},
  {"coconut_markers", "bool", true, "Coconut thoughts between <|start-latent|> and <|end-latent|> (official); false: right after the question (Reasoning-by-Superposition layout)"},
  {"coconut_loss", "string", "official", "Coconut loss: official (kept steps + answer) | frontier (one random shortest-path frontier node after s thoughts) | bfs (-log P(BFS frontier set))"},
  {"reset_every_epoch", "bool", false, "reset AdamW at every epoch instead (what the official run.py does with reset_optimizer)"},
  {"max_epochs", "int", 0, "stop after this many epochs (0: the full schedule)"},
  {"coconut_from_cot", "bool", false, "start Coconut from the CoT model and train stages 1.. (the official GSM8k recipe)"},
  -- evaluation
  {"eot", "string", "fixed", "<eot> policy plugin"},
  {"eval_batch", "int", 64, "prompts generated together"},
  {"max_new_tokens", "int", 128, "greedy tokens after the thoughts"},
  {"eval_fixed_thoughts", "int", 0, "also score test (and extra sets) with this many thoughts for every example (0: off); the main numbers use the curriculum's plan"},
  {"stage_probe", "bool", false, "log stage-matched accuracy: is the token after s thoughts in the shortest-path frontier at depth s+1 (Coconut, frontier data)"},
  {"probes", "string", "", "probe plugins run during evaluation, comma-separated"},
  {"pause_tokens", "int", 0, "add a <|pause|> token to the tokenizer (pause curricula)"},
  -- baselines of the paper's Table 1 (issue 13)
  {"pause_count", "int", 0, "<pause> tokens of the pause method (0: Coconut's final-stage thoughts, max_latent_stage x c_thought)"},
  {"icot_epochs", "int", 0, "epochs of the icot method (0: --epochs)"},
  {"icot_remove_per_epoch", "int", 8, "icot: chain tokens removed per epoch (iCoT reference: 8)"},
  {"icot_smoothing_lambda", "number", 4, "icot: removal smoothing lambda, P(extra offset o) ~ exp(-lambda o) (reference: 4; 0: off)"},
  {"icot_remove_all_beyond", "int", 39, "icot: remove the whole chain once this many tokens are scheduled (reference: 39; 0: never)"},
  {"icot_pretrain_epochs", "int", 0, "icot: epochs on the full chain before removal starts"},
  {"icot_reset_optimizer", "bool", true, "icot: reset AdamW whenever the removed token count changes"},
}

local presets = {
  default_preset = "small",

  paper = {tokenizer = "gpt2", model = "gpt2", lr = 1e-4, weight_decay = 0.01, batch_size = 128, micro_batch = 16,
           epochs = 50, c_thought = 1, max_latent_stage = 6, epochs_per_stage = 5, pad_latent_to_max = true,
           uniform_prob = 0.0, dropout = 0.1, max_new_tokens = 128, eval_batch = 32},
  -- small: 10-node ProsQA graphs with 4-6 hop answers (same generator and rules,
  -- questions ~60 tokens instead of ~280) and a copy pretraining shared by all
  -- methods, because a from-scratch model needs both to leave the "guess a name"
  -- plateau within minutes (see scripts/coco/pretrain.lua). Coconut starts from
  -- the trained CoT model (stage 0), as the official GSM8k recipe does.
  small = {model = "small", n_positions = 512, data = "datasets/prosqa_small", graph_nodes = 10, graph_min_hops = 4,
           n_train = 6000, n_valid = 200, n_test = 500, lr = 1e-3, warmup_steps = 100, batch_size = 16, micro_batch = 16,
           pretrain_epochs = 5, pretrain_task = "repeat", max_latent_stage = 6, epochs_per_stage = 1, epochs = 10,
           baseline_epochs = 10, coconut_from_cot = true, dropout = 0.0, max_new_tokens = 48, eval_batch = 100,
           method = "coconut,cot,nocot"},
  -- cpu: the issue-12 reproduction (docs/reproduction.md). Symbolic ProsQA as in
  -- "Reasoning by Superposition": one token per node, node ids in creation
  -- order, 14-16-node graphs whose target is 3-4 hops away, a 2-layer d=128
  -- GPT-2 from scratch. All methods start from one shared copy pretraining
  -- ("repeat": without it no method learns to look up an edge within this
  -- budget, see the doc). Coconut uses the single-token frontier loss
  -- (uniform_prob 0.1, no optimizer reset) in the marker-less layout (the first
  -- thought is the hidden state over the root, where the copy pretraining's
  -- lookup happens), and is evaluated with the example's own hop count D of
  -- thoughts (and, as a second number, with 4). 8 epochs per stage: with 3 the
  -- later stages were not learned (Coconut 69 %, level with CoT; see the doc).
  -- The shared pretraining is "recall" (the question's edges again in a random
  -- order), 8 epochs: "repeat" can be solved by copying from a fixed distance,
  -- and a seed whose model did so never learned Coconut's first hop.
  -- Its methods are Coconut, CoT and No-CoT (about 35 minutes per seed on 2
  -- cores); --method all adds the other five Table 1 rows, whose iCoT removes
  -- one chain token per epoch (a symbolic chain has 3-4 tokens) after 4 CoT epochs.
  cpu = {format = "symbolic", node_ids = "creation", edge_order = "question", data = "datasets/prosqa_cpu",
         graph_nodes = 17, graph_min_nodes = 14, graph_max_nodes = 16, graph_min_hops = 3, graph_max_hops = 4,
         n_train = 6000, n_valid = 300, n_test = 500, model = "tiny", n_layer = 2, n_embd = 128, n_head = 4,
         n_positions = 256, dropout = 0.0, lr = 1e-3, warmup_steps = 50, weight_decay = 0.01, batch_size = 64,
         micro_batch = 64, pretrain_epochs = 8, pretrain_task = "recall", max_latent_stage = 4,
         epochs_per_stage = 8,
         epochs = 60, baseline_epochs = 20, pad_latent_to_max = false, uniform_prob = 0.1, reset_optimizer = false,
         coconut_markers = false, coconut_loss = "frontier", eval_fixed_thoughts = 4, stage_probe = true, probes = "paths",
         coconut_from_cot = false, max_new_tokens = 16, eval_batch = 100, method = "coconut,cot,nocot",
         icot_epochs = 20, icot_remove_per_epoch = 1, icot_pretrain_epochs = 4},
  quick = {model = "tiny", n_positions = 256, data = "datasets/prosqa_quick", graph_nodes = 9, n_train = 96,
           n_valid = 24, n_test = 24, lr = 3e-3, batch_size = 16, micro_batch = 16, pretrain_epochs = 1,
           max_latent_stage = 2, epochs_per_stage = 1, epochs = 3, baseline_epochs = 2, dropout = 0.0,
           max_new_tokens = 24, eval_batch = 24},
}

-- printed after a run of the preset
local notes = {
  small = "Preset small is a smoke-scale demo (about 21 minutes); its ranking swings by 20-30 points between seeds.\n"
       .. "The CPU reproduction of the paper's ProsQA comparison is --preset cpu: about 35 minutes per seed for\n"
       .. "Coconut, CoT and No-CoT, --seeds 0,1,2 about 1 h 45 (docs/reproduction.md).",
  cpu = "Preset cpu: Coconut 91.0 and 95.8 against CoT 68.4 and 67.0 and No-CoT 65.4 and 61.0 on seeds 0 and 1\n"
     .. "(docs/reproduction.md). Check the run's coconut/figures/stage_accuracy.png: each k should rise in its\n"
     .. "stage. Compare methods over seeds (--seeds 0,1,2), not on one run.",
}

E.main{name = "prosqa_k6", spec = spec, presets = presets, notes = notes, argv = arg, dataset = "prosqa", all_methods = "cot,nocot,icot,pause,coconut,coconut_nocur,coconut_nothought,coconut_pausethought",
       -- rendering options also apply to --extra_eval files (an official file scored in symbolic form)
       render_options = function(o)
         return {format = o.format, node_ids = o.node_ids, edge_order = o.edge_order, render_seed = o.seed}
       end,
       dataset_options = function(o)
         return {nodes = o.graph_nodes, min_hops = o.graph_min_hops, max_hops = o.graph_max_hops,
                 min_nodes = o.graph_min_nodes, max_nodes = o.graph_max_nodes}
       end}
