-- experiments/arith.lua — generated 4x4 multiplication: Coconut (c = 1 and c = 2), CoT, No-CoT and iCoT from scratch.
--
--   coconut run experiments/arith.lua                     -- preset cpu (30:36 measured on 2 cores, docs/arith.md)
--   coconut run experiments/arith.lua --preset quick      -- a smoke run, well under a minute
--   coconut run experiments/arith.lua --digits 3 --method cot,nocot
--   coconut run experiments/arith.lua --help              -- every option with its value
--
-- Data: the arith dataset plugin (plugins/dataset/arith.c) draws d x d
-- products, disjoint across splits, and writes each as GSM8k-style steps: one
-- partial product a * (b_i 10^i) or one running sum per step, 2d - 1 steps
-- (7 for 4x4), then "#### a*b". --numbers reversed (the default here) writes
-- every number as space-separated digits, least significant first, as the iCoT
-- papers do: the word-level tokenizer then has one token per digit, where plain
-- numbers would each be one opaque token (a lookup table that cannot
-- generalise to unseen products).
--
-- Methods: coconut_c1 and coconut_c2 are the coconut curriculum with
-- c_thought 1 and 2 (method variants, coco.experiment), next to cot, nocot
-- and icot. Coconut starts from the CoT run's best checkpoint (its stage 0,
-- the GSM8k recipe) and replaces one more step per stage; the final stage
-- drops the whole chain (7 x c thoughts).
--
-- Presets:
--   cpu    4x4, a 4-layer d=128 GPT-2 from scratch, 8000 training problems,
--          sized to at most an hour for the five methods on 2 cores: 29-31
--          minutes per seed. Seeds 0, 1, 2 (docs/arith.md): CoT 52.9 +- 19.0,
--          No-CoT 0, iCoT 0, Coconut 68.5 +- 6.6 (c = 1) and 79.9 +- 8.7 (c = 2),
--          every Coconut best at stage 1 or 2 of 8: the later latent stages fall
--          to 0-12 % within one epoch each, and CoT has not converged at epoch 6
--          (its validation accuracy jumps by 30 points between epochs).
--   quick  2x2 on a tiny model, for tests.
local E = require "coco.experiment"

local spec = E.spec{
  {"preset", "string", "cpu", "cpu | quick"},
  {"method", "string", "all", "cot | nocot | icot | coconut_c1 (Coconut, c = 1) | coconut_c2 (Coconut, c = 2) | any other method of coco.experiment | all (cot,nocot,icot,coconut_c1,coconut_c2) | comma-separated list"},
  {"data", "string", "datasets/arith", "unused by training (the problems are generated in memory); the arith plugin's prepare() writes text files there"},
  {"data_seed", "int", 20241209, "seed of the arith generator", "[0, inf)"},
  {"digits", "int", 4, "digits of both operands (4: 4x4)", "[1, 9]"},
  {"numbers", "string", "reversed", "how numbers are written: plain (1234, one token per number) | spaced (1 2 3 4) | reversed (4 3 2 1, as iCoT)", {"plain", "spaced", "reversed"}},
  {"arith_train", "int", 8000, "generated training problems", "[1, inf)"},
  {"arith_valid", "int", 200, "generated validation problems", "[1, inf)"},
  {"arith_test", "int", 500, "generated test problems", "[1, inf)"},
}

local presets = {
  default_preset = "cpu",

  -- cpu: 4x4, reversed digits, a 4-layer d=128 GPT-2 from scratch, 8000
  -- training problems (250 optimizer steps of 32 per epoch). CoT and No-CoT
  -- train 6 epochs; Coconut starts from the CoT run's best checkpoint and
  -- trains stages 1..7 (one more step replaced by c thoughts each) for one
  -- epoch each, then 3 epochs at the final stage (all 7 steps replaced: 7 or
  -- 14 thoughts); iCoT trains 6 epochs: 1 on the full chain, then 24 chain
  -- tokens (of ~140) fewer per epoch, the whole chain gone in the last.
  -- Time estimate (issue 14's report): CPU seconds of one thread per
  -- optimizer step, measured as the difference of two small runs of this
  -- preset (--threads 1, 10 vs 30 steps per epoch): CoT 0.61, No-CoT 0.05;
  -- Coconut's stages 1..8 cost CoT's step times their measured time ratio,
  -- from 0.54 down to 0.13 s (c = 1) and from 0.73 down to 0.17 s (c = 2) as
  -- thoughts replace the steps; greedy decoding 0.035 s per CoT valid problem.
  -- That is about 970 + 95 + 640 + 800 + 1010 = 3515 s for cot, nocot, icot,
  -- coconut_c1 and coconut_c2: 59 minutes on one thread, about 40 minutes if
  -- 2 threads give 1.5x.
  cpu = {model = "small", n_layer = 4, n_embd = 128, n_head = 4, n_positions = 256, dropout = 0.0,
         lr = 1e-3, warmup_steps = 100, weight_decay = 0.01, batch_size = 32, micro_batch = 32,
         arith_train = 8000, arith_valid = 200, arith_test = 500,
         baseline_epochs = 6, coconut_from_cot = true, c_thought = 1, max_latent_stage = 7, epochs_per_stage = 1,
         epochs = 11, pad_latent_to_max = true, uniform_prob = 0.0, reset_optimizer = false,
         icot_epochs = 6, icot_remove_per_epoch = 24, icot_smoothing_lambda = 4, icot_remove_all_beyond = 120,
         icot_pretrain_epochs = 0, icot_reset_optimizer = false,
         max_new_tokens = 160, eval_batch = 100, method = "cot,nocot,icot,coconut_c1,coconut_c2"},
  quick = {digits = 2, numbers = "reversed", arith_train = 96, arith_valid = 16, arith_test = 16, model = "tiny",
           n_positions = 128, dropout = 0.0, lr = 3e-3, batch_size = 16, micro_batch = 16, baseline_epochs = 2,
           coconut_from_cot = true, max_latent_stage = 3, epochs_per_stage = 1, epochs = 5, pad_latent_to_max = true,
           icot_epochs = 3, icot_remove_per_epoch = 8, icot_remove_all_beyond = 0, max_new_tokens = 48,
           eval_batch = 16, method = "cot,nocot,icot,coconut_c1,coconut_c2"},
}

E.main{name = "arith", spec = spec, presets = presets, argv = arg, dataset = "arith",
       all_methods = "cot,nocot,icot,coconut_c1,coconut_c2",
       -- Coconut at c = 1 and c = 2 in one run: the coconut curriculum with c_thought changed
       variants = {coconut_c1 = {method = "coconut", options = {c_thought = 1}},
                   coconut_c2 = {method = "coconut", options = {c_thought = 2}}},
       dataset_options = function(o)
         return {digits = o.digits, numbers = o.numbers, n_train = o.arith_train, n_valid = o.arith_valid,
                 n_test = o.arith_test}
       end}
