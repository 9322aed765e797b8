-- experiments/prosqa_k6.lua — ProsQA with Coconut (k = 6 stages) and the baselines and ablations of its Table 1.
--
--   coconut run experiments/prosqa_k6.lua                       -- preset cpu: Coconut, CoT, No-CoT (~35 min)
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
--   cpu    (default) the CPU reproduction (docs/reproduction.md): symbolic ProsQA, a
--          2-layer d=128 GPT-2 from scratch; Coconut, CoT and No-CoT in about 35 minutes
--          on 2 cores, Coconut ahead of both by 18-35 points on each of 3 seeds.
--   small  a smoke-scale demo in words (about 21 minutes for the three methods):
--          generated 10-node ProsQA, a word-level tokenizer, a small GPT-2 from scratch
--          and a scaled-down schedule; its ranking swings between seeds.
--   quick  a couple of minutes, for tests.
local E = require "coco.experiment"

-- ProsQA's own options; every other option (run control, model, optimisation,
-- curriculum, evaluation, baselines) is the shared list of coco.experiment.
-- The generator options only shape a fresh --data directory: existing files
-- there are loaded as they are.
local spec = E.spec{
  {"preset", "string", "cpu", "cpu | paper | small | quick"},
  {"data", "string", "datasets/prosqa", "ProsQA directory; generated there when files are missing"},
  {"data_seed", "int", 20241209, "seed of the ProsQA generator", "[0, inf)"},
  {"graph_nodes", "int", 28, "generator: nodes per graph (28 = the official distribution; fewer = shorter questions)", "[6, inf)"},
  {"graph_min_hops", "int", 3, "generator: shortest root-to-target distance at least this (official: 3)", "[1, inf)"},
  {"graph_max_hops", "int", 6, "generator: shortest root-to-target distance at most this (official: 6)", "[1, inf)"},
  {"graph_min_nodes", "int", 0, "generator filter: fewest nodes per graph after pruning (0: no bound)", "[0, inf)"},
  {"graph_max_nodes", "int", 0, "generator filter: most nodes per graph after pruning (0: no bound)", "[0, inf)"},
  {"format", "string", "words", "rendering: words (the official sentences) | symbolic (one token per node, 's t | ... Q a b R root')", {"words", "symbolic"}},
  {"node_ids", "string", "creation", "symbolic node ids: creation (generator order, a depth cue) | shuffle (one relabelling per graph) | permute (a fresh relabelling per example and epoch)", {"creation", "shuffle", "permute"}},
  {"edge_order", "string", "question", "edge order in the question: question (the file's fact order) | file (edges array) | shuffle (reshuffled every epoch)", {"question", "file", "shuffle"}},
}

local presets = {
  default_preset = "cpu",

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
  -- one chain token per epoch (a symbolic chain has 3-4 tokens) after 4 CoT
  -- epochs and the whole chain from epoch 9 on (remove_all_beyond 4: the
  -- reference's 39 would never trigger on a 4-token chain, and its optimizer
  -- resets would fire every epoch); the best checkpoint is picked among
  -- epochs 9-20 only, where iCoT answers directly.
  cpu = {format = "symbolic", node_ids = "creation", edge_order = "question", data = "datasets/prosqa_cpu",
         graph_nodes = 17, graph_min_nodes = 14, graph_max_nodes = 16, graph_min_hops = 3, graph_max_hops = 4,
         n_train = 6000, n_valid = 300, n_test = 500, model = "tiny", n_layer = 2, n_embd = 128, n_head = 4,
         n_positions = 256, dropout = 0.0, lr = 1e-3, warmup_steps = 50, weight_decay = 0.01, batch_size = 64,
         micro_batch = 64, pretrain_epochs = 8, pretrain_task = "recall", max_latent_stage = 4,
         epochs_per_stage = 8,
         epochs = 60, baseline_epochs = 20, pad_latent_to_max = false, uniform_prob = 0.1, reset_optimizer = false,
         coconut_markers = false, coconut_loss = "frontier", eval_fixed_thoughts = 4, stage_probe = true, probes = "paths",
         coconut_from_cot = false, max_new_tokens = 16, eval_batch = 100, method = "coconut,cot,nocot",
         icot_epochs = 20, icot_remove_per_epoch = 1, icot_pretrain_epochs = 4, icot_remove_all_beyond = 4},
  quick = {model = "tiny", n_positions = 256, data = "datasets/prosqa_quick", graph_nodes = 9, n_train = 96,
           n_valid = 24, n_test = 24, lr = 3e-3, batch_size = 16, micro_batch = 16, pretrain_epochs = 1,
           max_latent_stage = 2, epochs_per_stage = 1, epochs = 3, baseline_epochs = 2, dropout = 0.0,
           max_new_tokens = 24, eval_batch = 24},
}

-- printed after a run of the preset
local notes = {
  small = "Preset small is a smoke-scale demo (about 21 minutes); its ranking swings by 20-30 points between seeds.\n"
       .. "The CPU reproduction of the paper's ProsQA comparison is --preset cpu (the default): about 35 minutes per\n"
       .. "seed for Coconut, CoT and No-CoT, --seeds 0,1,2 about 1 h 45 (docs/reproduction.md).",
  cpu = "Preset cpu: Coconut 91.0 / 95.8 / 84.6 against CoT 68.4 / 67.0 / 62.8 and No-CoT 65.4 / 61.0 / 67.0 on seeds 0 / 1 / 2\n"
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
