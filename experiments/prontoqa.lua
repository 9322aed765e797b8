-- experiments/prontoqa.lua — ProntoQA (5-hop, fictional ontology) with Coconut and the baselines of Table 1.
--
--   coconut run experiments/prontoqa.lua --data ../shared/data/prontoqa                  -- preset cpu: Coconut, CoT, No-CoT
--   coconut run experiments/prontoqa.lua --data ../shared/data/prontoqa --preset quick   -- under a minute, for tests
--   coconut run experiments/prontoqa.lua --data ../shared/data/prontoqa --method all     -- the eight Table 1 methods
--   coconut run experiments/prontoqa.lua --preset paper --data ../shared/data/prontoqa \
--       --model_path gpt2/model.safetensors --gpt2_vocab gpt2/vocab.json --gpt2_merges gpt2/merges.txt
--   coconut run experiments/prontoqa.lua --help                                           -- every option with its value
--
-- Data: ProntoQA is not generated here (its generator is the Python program
-- asaparov/prontoqa). --data names a directory with {train,valid,test}.json in
-- the Coconut JSON format (question, steps, answer; 9000 / 200 / 800 examples),
-- e.g. ../shared/data/prontoqa, or the prontoqa_{train,valid,test}.json that
-- Coconut's preprocessing/prontoqa.py writes; --train_file etc. pick files one
-- by one. A missing or malformed file stops the run before anything is
-- written, naming the file (with line and column for a bad example) and these
-- options. Answers are "True" / "False", scored as the paper
-- does: the text after the last '#' of the generated text ("### True").
--
-- Presets:
--   paper  the official ProntoQA config (the ProntoQA/ProsQA rows of the paper and its
--          repo's args/*.yaml, ../shared/research/paper.md §2.2): GPT-2 124M from HF weights (--model_path, required), the GPT-2
--          tokenizer, lr 1e-4, weight decay 0.01, global batch 128, 50 epochs,
--          c = 1, 6 latent stages of 5 epochs, latents padded to the maximum,
--          uniform_prob 0, optimizer reset at every stage, 128 new tokens.
--   cpu    (default) from scratch on 2 cores (docs/prontoqa.md, session 8): a 2-layer
--          d=128 GPT-2 with sinusoid-initialised positions, the word-level tokenizer
--          on the compact forms ("zumpus gorpus.", 85 tokens), 6000 of the 9000
--          training examples with their concept names relabelled afresh every epoch
--          (--concepts permute: nothing to memorise). A shared "lookup" pretraining
--          (each concept's token after the question, scored against the set of its
--          children) over 12 epochs whose contexts start short (4 sentences, then
--          8, 16, all: without that the lookup never forms). CoT and No-CoT 12
--          epochs; Coconut from the trained CoT model (its stage 0, the official
--          loss) with 3 epochs on each of the 6 latent stages and 3 more at the
--          all-latent stage. Measured over seeds 0, 1, 2 (2 idle cores, docs/prontoqa.md):
--          19-20.5 minutes per seed; test CoT 74.5 +- 24.7 (97.4 / 48.2 / 77.8),
--          Coconut 64.7 +- 3.6 (68.8 / 62.0 / 63.2; best at stages 1-3), No-CoT 50.1 (chance).
--          CoT learns the task on seed 0; on seed 1 it walks the right concepts but
--          copies each rule's "not" at chance. Coconut is not ahead of CoT here.
--   cpu_v1 the cpu preset of sessions 5-7 (written forms, fixed names, 3 epochs of
--          "recall"): every method at chance (seed 0: CoT 49.0, Coconut 50.5,
--          No-CoT 50.4; 22:58). Kept to reproduce that result.
--   quick  a tiny model on the first 48 / 16 / 16 examples, every method of Table 1,
--          well under a minute: for tests.
--
-- Lookup experiments (docs/prontoqa.md, "Session 7"):
--   --forms singular     one word token per concept ("zumpus are gorpus.")
--   --concepts permute   fresh concept names per training example and epoch (and in
--                        the pretraining): nothing to memorise, every step is a lookup
--   --frontiers          the reasoning graph in each example's meta (root, target,
--                        shortest-path and BFS frontiers): implied by
--                        --coconut_loss frontier|bfs and --stage_probe
--   e.g. --forms singular --concepts permute --coconut_loss bfs --coconut_markers false
--        --stage_probe true --coconut_from_cot false --pretrain_epochs 0 --method coconut
--   learns the first lookup in 2 epochs (k=0 BFS frontier 0.96), not yet the second hop.
--   The first lookup is positional, though: the entity's two facts are always the
--   last sentences before the query. Session 8's options test the content lookup:
--   --forms compact        singular, without each/every/is/are/a/an ("zumpus gorpus."):
--                          a rule's object right after its subject
--   --pretrain_task lookup every graph node's token after the question, scored against
--                          the set of its children (turns --frontiers on)
--   --coconut_loss bfs_all every thought's output against its own depth's BFS frontier
--   With relabelled concepts no combination tried (2 layers d=128, 10-12 epochs of the
--   lookup task, sinusoid positions, batch 16 or 64) got the lookup loss below about
--   2.23 (uniform over the question's objects: 2.65; a working lookup: near 0).
local E = require "coco.experiment"
local O = require "coco.options"
local S = require "coco.seeds"

-- ProntoQA's own options; every other option is the shared list of
-- coco.experiment (E.COMMON_OPTIONS).
local spec = E.spec{
  {"preset", "string", "cpu", "paper | cpu | cpu_v1 | quick"},
  {"data", "string", "datasets/prontoqa", "ProntoQA directory with {train,valid,test}.json (Coconut format), e.g. ../shared/data/prontoqa; not generated"},
  {"frontiers", "bool", false, "give examples their reasoning graph (root, target, shortest-path and BFS frontiers) for --coconut_loss frontier|bfs and --stage_probe; on whenever either is asked for"},
  {"concepts", "string", "fixed", "concept names in training: fixed (as in the files) | permute (each training example's concepts relabelled at random, afresh every epoch and in the pretraining, consistently over question and steps; valid and test as in the files)", {"fixed", "permute"}},
  {"forms", "string", "written", "concept nouns: written (as in the files) | singular (\"Zumpuses are gorpuses.\" read as \"zumpus are gorpus.\": one word token per concept) | compact (singular without each/every/is/are/a/an: \"Each zumpus is a gorpus.\" read as \"zumpus gorpus.\")", {"written", "singular", "compact"}},
}

local presets = {
  default_preset = "cpu",

  paper = {tokenizer = "gpt2", model = "gpt2", lr = 1e-4, weight_decay = 0.01, batch_size = 128, micro_batch = 16,
           epochs = 50, c_thought = 1, max_latent_stage = 6, epochs_per_stage = 5, pad_latent_to_max = true,
           uniform_prob = 0.0, reset_optimizer = true, dropout = 0.1, max_new_tokens = 128, eval_batch = 32,
           method = "coconut,cot,nocot"},
  -- cpu: in the compact forms a question is ~83 word tokens and a chain 6 steps
  -- of ~6 (CoT sequences ~125 tokens). The lookup pretraining's first epochs see
  -- 4-16 sentences and cost a few seconds each. Coconut starts from the trained
  -- CoT model (stage 0) and trains stages 1..6 plus 3 epochs at the all-latent
  -- stage 7 (21 epochs).
  cpu = {model = "tiny", n_layer = 2, n_embd = 128, n_head = 4, n_positions = 320, dropout = 0.0,
         n_train = 6000, n_valid = 200, n_test = 800,
         forms = "compact", concepts = "permute", position_init = "sinusoid",
         lr = 1e-3, warmup_steps = 50, weight_decay = 0.01, batch_size = 64, micro_batch = 64,
         pretrain_epochs = 12, pretrain_task = "lookup", pretrain_lookup_units = "4,4,4,4,8,8,16,16,0",
         c_thought = 1, max_latent_stage = 6, epochs_per_stage = 3, epochs = 24, baseline_epochs = 12,
         coconut_from_cot = true, pad_latent_to_max = true, uniform_prob = 0.1, reset_optimizer = false,
         max_new_tokens = 60, eval_batch = 100, method = "coconut,cot,nocot"},
  -- cpu_v1: the cpu preset of sessions 5-7, at chance on every method (docs/prontoqa.md):
  -- written forms, fixed names, 3 epochs of "recall", Coconut from the CoT model.
  cpu_v1 = {model = "tiny", n_layer = 2, n_embd = 128, n_head = 4, n_positions = 320, dropout = 0.0,
         n_train = 6000, n_valid = 200, n_test = 800,
         lr = 1e-3, warmup_steps = 50, weight_decay = 0.01, batch_size = 32, micro_batch = 32,
         pretrain_epochs = 3, pretrain_task = "recall",
         c_thought = 1, max_latent_stage = 6, epochs_per_stage = 2, epochs = 16, baseline_epochs = 12,
         coconut_from_cot = true, pad_latent_to_max = true, uniform_prob = 0.1, reset_optimizer = false,
         max_new_tokens = 80, eval_batch = 100, method = "coconut,cot,nocot"},
  quick = {model = "tiny", n_positions = 320, n_train = 48, n_valid = 16, n_test = 16, lr = 3e-3, batch_size = 16,
           micro_batch = 16, pretrain_epochs = 1, pretrain_task = "recall", max_latent_stage = 2, epochs_per_stage = 1,
           epochs = 3, baseline_epochs = 2, dropout = 0.0, max_new_tokens = 24, eval_batch = 16, icot_remove_per_epoch = 16},
}

-- printed after a run of the preset
local notes = {
  cpu_v1 = "Preset cpu_v1: every method was at chance on seed 0 (CoT 49.0, Coconut 50.5, No-CoT 50.4; docs/prontoqa.md).",
  cpu = "Preset cpu over seeds 0-2 (docs/prontoqa.md): CoT 74.5 +- 24.7 (97.4 / 48.2 / 77.8), Coconut 64.7 +- 3.6,\n"
     .. "No-CoT 50.1 (chance); about 20 minutes per seed. Published from-scratch numbers (CoT2, arXiv 2505.23648):\n"
     .. "Coconut 96.9, CoT 82.5, No-CoT 73.7; the paper (pretrained GPT-2): 99.8, 98.8, 93.8.\n"
     .. "Compare methods over seeds (--seeds 0,1,2), not on one run.",
}

-- Names the command-line options when a split's file is missing (ProntoQA
-- cannot be generated); a malformed file is reported by the shared driver,
-- which loads the data before it writes anything.
local function check_data(o)
  for _, split in ipairs{"train", "valid", "test"} do
    local file = o[split .. "_file"]
    if file ~= "" then
      if not coconut.fs.exists(file) or coconut.fs.isdir(file) then
        coconut.user_error(string.format("prontoqa: --%s_file %s does not exist", split, file))
      end
    elseif not (coconut.fs.exists(o.data .. "/" .. split .. ".json") or coconut.fs.exists(o.data .. "/prontoqa_" .. split .. ".json")) then
      coconut.user_error(string.format("prontoqa: no %s split: %s/%s.json does not exist (nor %s/prontoqa_%s.json). ProntoQA is not "
        .. "generated here: pass --data DIR, a directory with {train,valid,test}.json in the Coconut format "
        .. "(e.g. --data ../shared/data/prontoqa), or --%s_file FILE", split, o.data, split, o.data, split, split))
    end
  end
  if o.preset == "paper" and o.model_path == "" then
    coconut.user_error("prontoqa: --preset paper fine-tunes pretrained GPT-2: pass --model_path (HF model.safetensors, config.json "
      .. "beside it) and --gpt2_vocab / --gpt2_merges")
  end
end

-- The options as E.main will see them (same spec, with --seeds), checked first.
S.add_option(spec)
check_data(O.parse(spec, presets, arg))

E.main{name = "prontoqa", spec = spec, presets = presets, notes = notes, argv = arg, dataset = "prontoqa",
       render_options = function(o) return {concepts = o.concepts} end,
       dataset_options = function(o)
         return {forms = o.forms, frontiers = o.frontiers or o.coconut_loss ~= "official" or o.stage_probe
                                                or (o.pretrain_epochs > 0 and o.pretrain_task == "lookup")}
       end,
       all_methods = "cot,nocot,icot,pause,coconut,coconut_nocur,coconut_nothought,coconut_pausethought"}
