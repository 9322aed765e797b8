-- experiments/gsm8k.lua — GSM8k (iCoT text format) with Coconut and the baselines of the paper's Table 1.
--
--   coconut run experiments/gsm8k.lua --model_path gpt2/model.safetensors \
--       --gpt2_vocab gpt2/vocab.json --gpt2_merges gpt2/merges.txt --data data/gsm8k   -- preset paper
--   coconut run experiments/gsm8k.lua --train_file my/train.txt --valid_file my/valid.txt --test_file my/test.txt ...
--   coconut run experiments/gsm8k.lua --preset quick --data DIR   -- a smoke run on a few hand-made lines in DIR
--   coconut run experiments/gsm8k.lua --help                      -- every option with its value
--
-- Data: the gsm8k dataset plugin reads <data>/{train,valid,test}.txt, lines
-- "question||<<a*b=c>> <<c+d=e>> #### answer" (da03/Internalize_CoT_Step_by_Step
-- data/gsm8k; the 385k-line train.txt is a Git LFS file the user supplies).
-- --train_file / --valid_file / --test_file name the files directly; the best
-- checkpoint (by validation accuracy) is scored on the test file.
--
-- Presets:
--   paper  the official GSM8k recipe (facebookresearch/coconut args/gsm_cot.yaml
--          and gsm_coconut.yaml; ../shared/research/paper.md §2.2):
--          - stage 0 is a separate CoT run (25 epochs; its best checkpoint by
--            validation accuracy), and Coconut starts from that checkpoint and
--            trains stages 1.. (--coconut_from_cot: the driver runs cot first and
--            loads <run>/cot/checkpoints/best);
--          - c = 2, max_latent_stage 3, 3 epochs per stage: stages 1, 2, 3 replace
--            the first 1, 2, 3 steps by 2, 4, 6 thoughts, then the extra stage
--            (the coconut plugin's stage max_latent_stage + 1) drops every
--            remaining step and keeps 3 x c = 6 thoughts, for the rest of the 25
--            epochs (official num_epochs 25 with resume 3: 9 epochs in stages 1-3
--            and 13 in the extra stage; the paper's text says 50);
--          - latents padded to the maximum (pad_latent_to_max, as the config), no
--            stage mixing, AdamW lr 1e-4, weight decay 0.01, global batch 128,
--            optimizer reset at each stage (the official code resets it every
--            epoch), max_new_tokens 64 (run.py for "gsm");
--          - GPT-2 124M from HF weights and the GPT-2 tokenizer (--model_path,
--            --gpt2_vocab, --gpt2_merges: the user's files; without
--            --model_path the GPT-2 shape would be trained from scratch).
--          Methods: CoT, No-CoT and Coconut; --method all adds the other five
--          Table 1 rows (iCoT, Pause, the three Coconut ablations).
--   quick  a small from-scratch model with the word-level tokenizer on a few
--          hand-made lines (--data DIR holding train/valid/test.txt), the same
--          recipe shape at 1 epoch per stage: for tests, about a minute.
local E = require "coco.experiment"

-- GSM8k's own options; everything else is the shared list of coco.experiment.
local spec = E.spec{
  {"preset", "string", "paper", "paper | quick"},
  {"data", "string", "datasets/gsm8k", "directory of {train,valid,test}.txt in the iCoT format (or name the files with --train_file, --valid_file, --test_file)"},
}

local presets = {
  default_preset = "paper",

  paper = {tokenizer = "gpt2", model = "gpt2", lr = 1e-4, weight_decay = 0.01, batch_size = 128, micro_batch = 16,
           c_thought = 2, max_latent_stage = 3, epochs_per_stage = 3, epochs = 25, baseline_epochs = 25,
           pad_latent_to_max = true, uniform_prob = 0.0, reset_optimizer = true, coconut_from_cot = true,
           dropout = 0.1, max_new_tokens = 64, eval_batch = 32, method = "cot,nocot,coconut"},
  quick = {tokenizer = "words", model = "tiny", n_positions = 256, lr = 3e-3, batch_size = 8, micro_batch = 8,
           c_thought = 2, max_latent_stage = 3, epochs_per_stage = 1, epochs = 5, baseline_epochs = 2,
           pad_latent_to_max = true, uniform_prob = 0.0, coconut_from_cot = true, dropout = 0.0,
           max_new_tokens = 64, eval_batch = 16, method = "cot,nocot,coconut"},
}

local notes = {
  paper = "Preset paper: the official GSM8k runs give CoT 42.9, No-CoT 16.5, Coconut 34.1 (paper Table 1, GPT-2 124M,\n"
       .. "385k training lines). Coconut trains stages 1.. from the CoT run's best checkpoint, as the official recipe.",
}

E.main{name = "gsm8k", spec = spec, presets = presets, notes = notes, argv = arg, dataset = "gsm8k",
       all_methods = "cot,nocot,icot,pause,coconut,coconut_nocur,coconut_nothought,coconut_pausethought"}
