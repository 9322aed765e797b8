-- tests/bad_inputs/cases.lua — the bad-input table (issue 17, part 3), run by
-- tests/bad_inputs/run.lua (`make test`). Each case is one bad input, the
-- command that meets it, the fragment of the message that must name the
-- file, line or option, and the exit status (2, a user error, unless said).
--
-- Fields of a case:
--   name, category    what is wrong, and its kind (options, plugins, data, tokenizer,
--                     model, checkpoint, run directory, environment)
--   files             {relative path = content | function(ctx) -> content}: the inputs,
--                     written into the case directory {dir} (binary ones are built by
--                     functions; small text ones live in tests/bad_inputs/inputs/)
--   from_base         start from a copy of a finished small run at {base} (= {dir}/results);
--                     its files must be unchanged afterwards (resumes: config.json aside)
--   setup, teardown   function(ctx) around the command; setup may return a reason to skip
--   skip              function(ctx) -> reason to skip, or nil
--   cmd               the command; placeholders: {bin} {quick} (a one-epoch prosqa_k6 run
--                     on the shared data) {res} (--results {dir}/results) {dir} {data}
--                     {build} {inputs} {run} (the run directory of {quick} {res})
--   expect            a fragment (or a list) the output must contain
--   rc                the exit status (default 2; "nonzero" for any non-signal failure)
--   absent            paths that must not exist after (default: {dir}/results, unless from_base)
--   check             function(ctx, output) for anything more
local C = {}
local function add(t) C[#C + 1] = t end

local function readf(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- A safetensors file whose first data float is NaN (or +Inf): the bytes of
-- src with its first tensor element replaced.
local function poison(src, value)
  local b = readf(src)
  local n = string.unpack("<I8", b)
  local at = 8 + n
  return b:sub(1, at) .. string.pack("<f", value) .. b:sub(at + 5)
end

local function is_root() return io.popen("id -u"):read("l") == "0" end

-- mounts a small tmpfs at dir (opts: mount options); returns a skip reason on failure
local function mount_tmpfs(dir, opts)
  if not is_root() then return "not root: cannot mount a tmpfs for this case" end
  assert(coconut.fs.mkdir(dir))
  local ok = os.execute("mount -t tmpfs -o " .. opts .. " tmpfs '" .. dir .. "' 2>/dev/null")
  if not ok then return "cannot mount a tmpfs here (mount -t tmpfs failed; no CAP_SYS_ADMIN in this sandbox?)" end
  return nil
end
local function umount(dir) os.execute("umount '" .. dir .. "' 2>/dev/null") end

local function test_plugin(name)
  return function(ctx)
    if not coconut.fs.exists(ctx.build .. "/tests/plugins/" .. name .. ".so") then
      return "test plugins not built (" .. ctx.build .. "/tests/plugins/" .. name .. ".so; `make test` builds them)"
    end
  end
end

-- ------------------------------------------------------------------ options
add{category = "options", name = "unknown option, close to a valid one",
    cmd = "{quick} {res} --epoch 3", expect = "unknown option --epoch (did you mean --epochs?)"}
add{category = "options", name = "unknown option, nothing close",
    cmd = "{quick} {res} --frobnicate 1", expect = "unknown option --frobnicate; --help lists the options"}
add{category = "options", name = "unknown preset",
    cmd = "{bin} run experiments/prosqa_k6.lua --preset smal {res}",
    expect = "unknown preset 'smal' (did you mean 'small'?); presets: cpu, paper, quick, small"}
add{category = "options", name = "integer option given a word",
    cmd = "{quick} {res} --epochs three", expect = "option --epochs: 'three' is not an integer"}
add{category = "options", name = "integer option given a fraction",
    cmd = "{quick} {res} --batch_size 2.5", expect = "option --batch_size: '2.5' is not an integer"}
add{category = "options", name = "number option given a word",
    cmd = "{quick} {res} --lr fast", expect = "option --lr: 'fast' is not a number"}
add{category = "options", name = "bool option given a word",
    cmd = "{quick} {res} --resume maybe", expect = "option --resume: 'maybe' is not a boolean"}
add{category = "options", name = "negative batch size",
    cmd = "{quick} {res} --batch_size -4", expect = "option --batch_size: -4 is outside its range [1, inf)"}
add{category = "options", name = "zero micro-batch (was a division by zero)",
    cmd = "{quick} {res} --micro_batch 0", expect = "option --micro_batch: 0 is outside its range [1, inf)"}
add{category = "options", name = "negative learning rate",
    cmd = "{quick} {res} --lr -1", expect = "option --lr: -1 is outside its range (0, inf)"}
add{category = "options", name = "probability above 1",
    cmd = "{quick} {res} --uniform_prob 1.5", expect = "option --uniform_prob: 1.5 is outside its range [0, 1]"}
add{category = "options", name = "dropout of 1",
    cmd = "{quick} {res} --dropout 1", expect = "option --dropout: 1 is outside its range [0, 1)"}
add{category = "options", name = "thread count above the pool's limit",
    cmd = "{quick} {res} --threads 5000", expect = "option --threads: 5000 is outside its range [0, 1024]"}
add{category = "options", name = "word outside a closed set",
    cmd = "{quick} {res} --format symbolc", expect = "option --format: 'symbolc' is not one of words, symbolic (did you mean 'symbolic'?)"}
add{category = "options", name = "unknown tokenizer",
    cmd = "{quick} {res} --tokenizer gtp2", expect = "option --tokenizer: 'gtp2' is not one of words, gpt2 (did you mean 'gpt2'?)"}
add{category = "options", name = "a preset value out of range (checked like the command line)",
    cmd = "{bin} run experiments/arith.lua --preset quick --digits 12 {res}",
    expect = "option --digits: 12 is outside its range [1, 9]"}
add{category = "options", name = "option without its value",
    cmd = "{quick} {res} --lr", expect = "option --lr needs a value"}
add{category = "options", name = "a stray argument",
    cmd = "{quick} {res} quick", expect = "unexpected argument 'quick' (options look like --name value"}
add{category = "options", name = "unknown method",
    cmd = "{quick} {res} --method cot,cocnut",
    expect = "--method: unknown method 'cocnut' (did you mean 'coconut'?)"}
add{category = "options", name = "a seed list with a word",
    cmd = "{quick} {res} --seeds 0,x", expect = "option 'seeds': 'x' is not an integer seed"}
add{category = "options", name = "a thought-count list with a word",
    cmd = "{quick} {res} --analysis_k 0,a",
    expect = "--analysis_k: 'a' is not a thought count"}
add{category = "options", name = "generator options that contradict each other (the plugin's check)",
    cmd = "{quick} {res} --graph_min_hops 5 --graph_max_hops 4 --data {dir}/gen",
    expect = "min_hops = 5 <= max_hops = 4", absent = {"{dir}/results", "{dir}/gen/train.json"}}

-- ------------------------------------------------------------------ plugins
add{category = "plugins", name = "unknown eot plugin", cmd = "{quick} {res} --eot fixd",
    expect = "--eot: no eot plugin 'fixd'; did you mean 'fixed'?"}
add{category = "options", name = "--eot_options item without '='", cmd = "{quick} {res} --eot fixed --eot_options k",
    expect = "--eot_options: 'k' is not name=value"}
add{category = "options", name = "--eot_options: an option the eot plugin does not have",
    cmd = "{quick} {res} --eot fixed --eot_options kk=2", expect = {"--eot / --eot_options", "kk"}}
add{category = "options", name = "--eot learned without its weights file", cmd = "{quick} {res} --eot learned",
    expect = {"--eot / --eot_options", "weights"}}
add{category = "options", name = "--eot learned with an unreadable weights file",
    cmd = "{quick} {res} --eot learned --eot_options weights={dir}/nope.safetensors", expect = "nope.safetensors"}
add{category = "plugins", name = "unknown probe plugin", cmd = "{quick} {res} --probes paths,pathz",
    expect = "--probes: no probe plugin 'pathz'; did you mean 'paths'?"}
add{category = "plugins", name = "plugin of the wrong ABI", skip = test_plugin("abi999"),
    cmd = "{quick} {res} --eot {build}/tests/plugins/abi999.so", expect = "abi999.so: plugin built for ABI 999"}
add{category = "plugins", name = "plugin without coco_plugin_init", skip = test_plugin("no_init"),
    cmd = "{quick} {res} --eot {build}/tests/plugins/no_init.so", expect = "no_init.so: not a coconut plugin (it declares coco_plugin_abi but exports no coco_plugin_init)"}
add{category = "plugins", name = "a shared object that is no plugin", skip = test_plugin("not_a_plugin"),
    cmd = "{quick} {res} --eot {build}/tests/plugins/not_a_plugin.so", expect = "not_a_plugin.so: not a coconut plugin (it does not export coco_plugin_abi"}
add{category = "plugins", name = "plugin whose init fails", skip = test_plugin("init_fails"),
    cmd = "{quick} {res} --eot {build}/tests/plugins/init_fails.so", expect = "init_fails.so: plugin init failed: init_fails: the frobnicator is missing (42)"}
add{category = "plugins", name = "plugin with an invalid descriptor", skip = test_plugin("bad_desc"),
    cmd = "COCO_TEST_BAD=vtable {quick} {res} --eot {build}/tests/plugins/bad_desc.so", expect = "bad_desc.so: "}
add{category = "plugins", name = "plugin of another kind", skip = test_plugin("good_probe"),
    cmd = "{quick} {res} --eot {build}/tests/plugins/good_probe.so", expect = "good_probe.so: this is a probe plugin, not a eot plugin"}
add{category = "plugins", name = "Lua plugin that does not parse",
    files = {["probe_syntax.lua"] = readf("tests/bad_inputs/inputs/probe_syntax.lua")},
    cmd = "{quick} {res} --probes {dir}/probe_syntax.lua", expect = {"--probes: ", "probe_syntax.lua:3: '}' expected"}}
add{category = "plugins", name = "Lua plugin of another kind",
    files = {["wrong_kind.lua"] = readf("tests/bad_inputs/inputs/wrong_kind.lua")},
    cmd = "{quick} {res} --probes {dir}/wrong_kind.lua", expect = "wrong_kind.lua: kind is 'eot', expected 'probe'"}

-- ------------------------------------------------------------------ data files
local function prosqa_file(input, expect, what)
  add{category = "data", name = "ProsQA: " .. what,
      files = {["train.json"] = readf("tests/bad_inputs/inputs/" .. input)},
      cmd = "{quick} {res} --train_file {dir}/train.json",
      expect = {"the train split cannot be loaded", expect}}
end
prosqa_file("prosqa_syntax.json", "{dir}/train.json:4:18: '}' expected", "malformed JSON (a missing comma), file:line:column")
prosqa_file("prosqa_truncated.json", "{dir}/train.json:1:", "a truncated file")
prosqa_file("prosqa_question_number.json", "{dir}/train.json: example 0: field 'question' is not a string", "a field of the wrong type")
prosqa_file("prosqa_steps_string.json", "{dir}/train.json: example 0: field 'steps' is not an array of strings", "steps as a string")
prosqa_file("prosqa_not_array.json", "{dir}/train.json: the top level is not a JSON array of examples", "an object at the top level")
prosqa_file("prosqa_edge_out_of_range.json", "{dir}/train.json: example 0: field 'edges' entry 1 refers to node 99", "a graph edge to a node that does not exist")
prosqa_file("prosqa_root_string.json", "{dir}/train.json: example 0: field 'root' is not an integer", "a graph root that is not a node index")
add{category = "data", name = "ProsQA: bytes that are not UTF-8",
    files = {["train.json"] = '[{"question": "Alex is a \xff\xfe wumpus.", "steps": [], "answer": "x"}]\n'},
    cmd = "{quick} {res} --train_file {dir}/train.json", expect = "{dir}/train.json:1:"}
add{category = "data", name = "ProsQA: an empty file",
    files = {["train.json"] = ""},
    cmd = "{quick} {res} --train_file {dir}/train.json", expect = "{dir}/train.json"}
add{category = "data", name = "ProsQA: a file that does not exist",
    cmd = "{quick} {res} --valid_file {dir}/nope.json", expect = "valid_file '{dir}/nope.json' does not exist"}
add{category = "data", name = "ProsQA: a directory given as the file (unreadable as a file)",
    files = {["adir/x"] = "x"},
    cmd = "{quick} {res} --test_file {dir}/adir", expect = "test_file '{dir}/adir'"}
add{category = "data", name = "ProsQA: a path through a regular file (not a directory)",
    files = {["afile"] = "x"},
    cmd = "{quick} {res} --train_file {dir}/afile/train.json", expect = "train_file '{dir}/afile/train.json' does not exist"}
add{category = "data", name = "ProsQA: an unreadable file (mode 000, as a non-root user)",
    skip = function() if is_root() then return "root reads a mode-000 file; this case needs a normal user" end end,
    files = {["train.json"] = readf("tests/bad_inputs/inputs/prosqa_truncated.json")},
    setup = function(ctx) os.execute("chmod 000 '" .. ctx.dir .. "/train.json'") end,
    cmd = "{quick} {res} --train_file {dir}/train.json", expect = "{dir}/train.json"}
add{category = "data", name = "ProntoQA: an example without an answer",
    files = {["pq/train.json"] = readf("tests/bad_inputs/inputs/prontoqa_no_answer.json"),
             ["pq/valid.json"] = readf("tests/bad_inputs/inputs/prontoqa_no_answer.json"),
             ["pq/test.json"] = readf("tests/bad_inputs/inputs/prontoqa_no_answer.json")},
    cmd = "{bin} run experiments/prontoqa.lua --preset quick --data {dir}/pq {res}",
    expect = "{dir}/pq/train.json:3:3: example 1: no 'answer' field"}
add{category = "data", name = "ProntoQA with frontiers: a question whose graph cannot be read",
    files = {["pqg/train.json"] = '[{"question": "Rex is a a. a is cold. True or false: Rex is cold.", "steps": ["s"], "answer": "True"},\n'
               .. ' {"question": "Rex is a a. a seems cold. True or false: Rex is cold.", "steps": ["s"], "answer": "True"}]\n',
             ["pqg/valid.json"] = readf("tests/bad_inputs/inputs/prontoqa_no_answer.json"),
             ["pqg/test.json"] = readf("tests/bad_inputs/inputs/prontoqa_no_answer.json")},
    cmd = "{bin} run experiments/prontoqa.lua --preset quick --forms singular --coconut_loss frontier --data {dir}/pqg {res}",
    expect = "{dir}/pqg/train.json:2:15: example 1: field 'question': frontiers = true: sentence 2 (\" a seems cold\")"}
add{category = "data", name = "GSM8k: a line without '||'",
    files = {["g/train.txt"] = readf("tests/bad_inputs/inputs/gsm8k_no_separator.txt"),
             ["g/valid.txt"] = "What is 1*1?||<<1*1=1>> #### 1\n", ["g/test.txt"] = "What is 1*1?||<<1*1=1>> #### 1\n"},
    cmd = "{bin} run experiments/gsm8k.lua --preset quick --data {dir}/g {res}",
    expect = "{dir}/g/train.txt:3:1: no '||' between the question and the chain"}
add{category = "data", name = "GSM8k: an unclosed <<",
    files = {["g/train.txt"] = readf("tests/bad_inputs/inputs/gsm8k_unclosed.txt"),
             ["g/valid.txt"] = "What is 1*1?||<<1*1=1>> #### 1\n", ["g/test.txt"] = "What is 1*1?||<<1*1=1>> #### 1\n"},
    cmd = "{bin} run experiments/gsm8k.lua --preset quick --data {dir}/g {res}",
    expect = "{dir}/g/train.txt:1:"}
add{category = "data", name = "an --extra_eval file that does not exist",
    cmd = "{quick} {res} --extra_eval x={dir}/nope.json", expect = "--extra_eval: {dir}/nope.json does not exist"}

-- ------------------------------------------------------------------ tokenizer files
add{category = "tokenizer", name = "GPT-2 tokenizer without --gpt2_vocab",
    cmd = "{quick} {res} --tokenizer gpt2", expect = "--tokenizer gpt2 needs --gpt2_vocab"}
add{category = "tokenizer", name = "GPT-2 vocab.json truncated",
    files = {["vocab.json"] = readf("tests/bad_inputs/inputs/gpt2_vocab_truncated.json"),
             ["merges.txt"] = "#version: 0.2\n"},
    cmd = "{quick} {res} --tokenizer gpt2 --gpt2_vocab {dir}/vocab.json --gpt2_merges {dir}/merges.txt",
    expect = "--gpt2_vocab / --gpt2_merges: {dir}/vocab.json:1:"}
add{category = "tokenizer", name = "GPT-2 merges.txt with a line that is not a pair",
    skip = function() if not coconut.fs.exists("tests/fixtures/tok/hf/vocab.json") then return "no tests/fixtures/tok/hf/vocab.json" end end,
    files = {["merges.txt"] = readf("tests/bad_inputs/inputs/gpt2_merges_bad.txt")},
    cmd = "{quick} {res} --tokenizer gpt2 --gpt2_vocab tests/fixtures/tok/hf/vocab.json --gpt2_merges {dir}/merges.txt",
    expect = "{dir}/merges.txt:2"}

-- ------------------------------------------------------------------ model files (--model_path)
local GPT2 = "tests/fixtures/gpt2"
local function model_case(name, content, expect)
  add{category = "model", name = name,
      files = {["m/model.safetensors"] = content, ["m/config.json"] = function() return readf(GPT2 .. "/config.json") end},
      cmd = "{quick} {res} --model_path {dir}/m/model.safetensors", expect = expect}
end
model_case("safetensors shorter than its header length field", "abcd",
  "--model_path: {dir}/m/model.safetensors: file is 4 bytes, too short for a safetensors header")
model_case("safetensors with an oversized header length", string.pack("<I8", 1 << 40) .. "{}",
  "{dir}/m/model.safetensors: header length 1099511627776 does not fit the 10-byte file")
model_case("safetensors header that is not JSON", string.pack("<I8", 5) .. "{abc}",
  "{dir}/m/model.safetensors: header is not valid JSON")
model_case("safetensors cut in the middle of its data", function() local b = readf(GPT2 .. "/model.safetensors"); return b:sub(1, #b // 2) end,
  "{dir}/m/model.safetensors")
model_case("a NaN weight", function() return poison(GPT2 .. "/model.safetensors", 0 / 0) end,
  "holds a non-finite value (NaN) at element 0")
model_case("an infinite weight", function() return poison(GPT2 .. "/model.safetensors", math.huge) end,
  "holds a non-finite value (Inf) at element 0")
add{category = "model", name = "a model without config.json or metadata config",
    files = {["m/model.safetensors"] = function() return readf(GPT2 .. "/hf_style/model.safetensors") end},
    cmd = "{quick} {res} --model_path {dir}/m/model.safetensors",
    expect = "no config.json beside the file"}
add{category = "model", name = "a config.json beside the model that is not JSON",
    files = {["m/model.safetensors"] = function() return readf(GPT2 .. "/model.safetensors") end,
             ["m/config.json"] = "{\"n_layer\": 2,"},
    cmd = "{quick} {res} --model_path {dir}/m/model.safetensors",
    expect = "{dir}/m/config.json"}
add{category = "model", name = "a model whose context is shorter than the data",
    files = {["m/model.safetensors"] = function() return readf(GPT2 .. "/model.safetensors") end,
             ["m/config.json"] = function() return readf(GPT2 .. "/config.json") end},
    cmd = "{quick} {res} --model_path {dir}/m/model.safetensors",
    expect = "more than the model's context of 48 positions", absent = {}}

-- ------------------------------------------------------------------ checkpoints (--resume)
local NOCOT = "{base}/prosqa_k6/quick/nocot/checkpoints/last/"
local function ckpt_case(name, file, content, expect)
  add{category = "checkpoint", name = name, from_base = true, resumes = true,
      setup = function(ctx)
        local path = ctx.base .. "/prosqa_k6/quick/nocot/checkpoints/last/" .. file
        assert(coconut.fs.write(path, type(content) == "function" and content(path) or content))
      end,
      cmd = "{quick} {res} --resume", expect = expect}
end
ckpt_case("resume: a truncated checkpoint", "model.safetensors", function(p) return readf(p):sub(1, 100) end,
  NOCOT .. "model.safetensors")
ckpt_case("resume: NaN weights in the checkpoint", "model.safetensors", function(p) return poison(p, 0 / 0) end,
  NOCOT .. "model.safetensors: tensor")
ckpt_case("resume: a malformed state.json", "state.json", "{\"epoch_done\": 1,", NOCOT .. "state.json:")
ckpt_case("resume: an optimizer file that is not AdamW state", "optimizer.safetensors",
  function(p) return readf(p:gsub("optimizer", "model")) end, "not an AdamW state file")
add{category = "checkpoint", name = "resume: the checkpoint's vocabulary differs from the tokenizer (the data changed)",
    from_base = true, resumes = false,
    cmd = "{quick} {res} --resume --n_train 4",
    expect = {"{run}/tokenizer.json: the run's vocabulary (", ") differs from the one built from this data"}}
add{category = "checkpoint", name = "resume: metrics.csv whose header was changed",
    from_base = true, resumes = true,
    setup = function(ctx)
      local p = ctx.run .. "/nocot/metrics.csv"
      local s = readf(p)
      assert(coconut.fs.write(p, (s:gsub("^step,", "stepp,"))))
    end,
    cmd = "{quick} {res} --resume", expect = "{run}/nocot/metrics.csv"}

-- ------------------------------------------------------------------ the run directory
add{category = "run directory", name = "a finished run without --resume or --overwrite",
    from_base = true, cmd = "{quick} {res}",
    expect = "{run} already holds a finished run; pass --resume to continue it, --overwrite to replace it, or --run NAME"}
add{category = "run directory", name = "results under a regular file",
    files = {["afile"] = "x"},
    cmd = "{quick} --results {dir}/afile/results", expect = "{dir}/afile/results/prosqa_k6/quick: cannot create directory: Not a directory"}
add{category = "run directory", name = "results on a read-only file system",
    setup = function(ctx) return mount_tmpfs(ctx.dir .. "/ro", "ro,size=64k") end,
    teardown = function(ctx) umount(ctx.dir .. "/ro") end,
    cmd = "{quick} --results {dir}/ro/results", expect = "{dir}/ro/results/prosqa_k6/quick: cannot create directory: Read-only file system"}
add{category = "run directory", name = "a full disk (a 96 KiB tmpfs): the write fails, no partial file",
    setup = function(ctx) return mount_tmpfs(ctx.dir .. "/full", "size=96k") end,
    teardown = function(ctx) umount(ctx.dir .. "/full") end,
    cmd = "{quick} --results {dir}/full/results", expect = "No space left on device",
    absent = {"{dir}/full/results/prosqa_k6/quick/pretrain/model.safetensors",
              "{dir}/full/results/prosqa_k6/quick/results.csv"}}
add{category = "run directory", name = "a second run into a run directory in use (the run lock)",
    from_base = true, resumes = false,
    setup = function(ctx)
      os.execute(string.format("%s run tests/bad_inputs/hold_lock.lua '%s' >/dev/null 2>&1 &", ctx.bin, ctx.run))
      for _ = 1, 100 do
        if coconut.fs.exists(ctx.run .. "/.holding") then return nil end
        os.execute("sleep 0.1")
      end
      return "the lock holder did not start"
    end,
    teardown = function(ctx)
      coconut.fs.write(ctx.run .. "/.stop_holding", "stop\n")
      for _ = 1, 100 do
        if not coconut.fs.exists(ctx.run .. "/.holding") then break end
        os.execute("sleep 0.1")
      end
    end,
    cmd = "{quick} {res} --resume", expect = {"{run} is in use by another run (pid ", "wait for it to end, or pass --run NAME"},
    check = function(ctx, out)
      local holder = readf(ctx.run .. "/.lock"):match("^pid (%d+)")
      assert(holder and out:find("(pid " .. holder .. " on ", 1, true), "the message names the holder's pid " .. tostring(holder) .. ":\n" .. out)
    end}

-- ------------------------------------------------------------------ training and environment
add{category = "training", name = "a learning rate that makes the loss NaN",
    cmd = "{quick} {res} --lr 1e30", expect = {"[nocot] loss is ", "nan at epoch 1 step 1 (stage 0); stopping (try a smaller --lr)"},
    absent = {"{run}/nocot/checkpoints/last", "{run}/results.csv"}}
add{category = "environment", name = "COCONUT_THREADS that is not a number",
    cmd = "COCONUT_THREADS=zero {quick} {res}", expect = "COCONUT_THREADS='zero' is not a thread count (1..1024)"}
add{category = "environment", name = "an experiment script that does not exist",
    cmd = "{bin} run experiments/prosqa_k7.lua", expect = "cannot open experiments/prosqa_k7.lua"}

return C
