-- ProntoQA: the prontoqa dataset plugin through the host (options the shared
-- driver passes, file resolution, messages), the layout and scoring of
-- True/False answers, and experiments/prontoqa.lua end to end at --preset quick
-- on hand-made data written to a temp dir (always runs) and on the real splits
-- (../shared/data/prontoqa or $COCONUT_SHARED_DATA; skipped when absent).
-- The loader's format corners and malformed-input positions are checked in
-- detail by tests/c/test_prontoqa.c. COCONUT_BIN selects the binary the end-to-
-- end tests run (default build/coconut).
local T = require "tap"
local E = require "coco.experiment"
local Layout = require "coco.layout"
local BIN = os.getenv("COCONUT_BIN") or "build/coconut"

local function write(path, text) assert(coconut.fs.write(path, text)) end

-- n ProntoQA-like examples (deterministic in seed): a 3-hop is-a chain from an
-- entity to a property, a distractor rule, the query "True or false: ...", and
-- the chain as 4 steps (every 7th example has none: the empty-chain corner).
-- Names include non-ASCII letters, which must survive the whole pipeline.
local CONCEPTS = {"wumpus", "yumpus", "zumpus", "dumpus", "rompus", "numpus", "tumpus", "vumpus", "impus", "jompus"}
local PROPS = {"dull", "bright", "hot", "cold", "sweet", "sour"}
local NAMES = {"Max", "Alex", "Stella", "Wren", "Zoë", "Åsa"}
local function hand_examples(n, seed)
  local r = coconut.rng(seed)
  local out = {}
  for i = 1, n do
    local c = {}
    for k = 1, #CONCEPTS do c[k] = CONCEPTS[k] end
    r:shuffle(c)
    local name, prop = NAMES[r:below(#NAMES) + 1], PROPS[r:below(#PROPS) + 1]
    local neg_fact, neg_query = r:below(2) == 1, r:below(2) == 1
    local is = function(neg) return neg and "is not " or "is " end
    local plural = function(x) return x .. "es" end -- every concept ends in "pus", as ProntoQA's
    local cap = function(x) return (x:gsub("^%l", string.upper)) end
    local facts = {"Every " .. c[1] .. " is a " .. c[2] .. ".", cap(plural(c[2])) .. " are " .. plural(c[3]) .. ".",
                   "Every " .. c[3] .. " " .. is(neg_fact) .. prop .. ".", "Every " .. c[4] .. " is a " .. c[5] .. ".",
                   name .. " is a " .. c[1] .. "."}
    r:shuffle(facts)
    local steps = {name .. " is a " .. c[1] .. ". Every " .. c[1] .. " is a " .. c[2] .. ".",
                   name .. " is a " .. c[2] .. ". " .. cap(plural(c[2])) .. " are " .. plural(c[3]) .. ".",
                   name .. " is a " .. c[3] .. ". Every " .. c[3] .. " " .. is(neg_fact) .. prop .. ".",
                   name .. " " .. is(neg_fact) .. prop .. "."}
    if i % 7 == 0 then steps = {} end
    out[i] = {question = table.concat(facts, " ") .. " True or false: " .. name .. " " .. is(neg_query) .. prop .. ".",
              steps = steps, answer = neg_fact == neg_query and "True" or "False"}
  end
  return out
end

-- Writes hand-made train/valid/test splits (sizes nt/nv/ns) to dir; returns the splits.
local function write_splits(dir, nt, nv, ns)
  local sp = {train = hand_examples(nt, 1), valid = hand_examples(nv, 2), test = hand_examples(ns, 3)}
  if not coconut.fs.isdir(dir) then assert(coconut.fs.mkdir(dir)) end
  for name, list in pairs(sp) do write(dir .. "/" .. name .. ".json", coconut.json.encode(list)) end
  return sp
end

T.test("prontoqa plugin: hand-made splits through the host, with the options the shared driver passes", function()
  local d = T.tmpdir("pqa")
  local sp = write_splits(d, 30, 10, 12)
  -- exactly the options E.run_one passes to every dataset (generate, seed included)
  local ds = coconut.plugin.load("dataset", "prontoqa", {dir = d, train_file = "", valid_file = "", test_file = "",
                                                         generate = true, seed = 20241209})
  for name, want in pairs(sp) do
    local got = ds:load(name)
    T.eq(#got, #want, name)
    for i, ex in ipairs(got) do
      T.eq(ex.question, want[i].question, name .. " question " .. i)
      T.eq(ex.answer, want[i].answer, name .. " answer " .. i)
      T.eq(#ex.steps, #want[i].steps, name .. " steps " .. i)
      for k, s in ipairs(ex.steps) do T.eq(s, want[i].steps[k]) end
      T.eq(ex.meta_json, nil)
    end
  end
  local t = ds:load("train")
  T.eq(#t[7].steps, 0, "empty chain kept")
  local uni = 0
  for _, ex in ipairs(t) do if ex.question:find("Zoë", 1, true) or ex.question:find("Åsa", 1, true) then uni = uni + 1 end end
  T.ok(uni > 0, "non-ASCII names pass through")
  -- Coconut's own file names, and explicit files
  local d2 = T.tmpdir("pqa2")
  write(d2 .. "/prontoqa_valid.json", '[{"question": "Q \\"x\\" \\u00e9?", "steps": ["a", ""], "answer": "False"}]')
  local o = coconut.plugin.load("dataset", "prontoqa", {dir = d2, train_file = d .. "/train.json", test_file = d .. "/test.json"})
  local v = o:load("valid")
  T.eq(#v, 1); T.eq(v[1].question, 'Q "x" é?'); T.eq(v[1].steps[2], ""); T.eq(v[1].answer, "False")
  T.eq(#o:load("train"), 30); T.eq(#o:load("test"), 12)
  -- unknown split and options, missing files: messages name what to set
  T.raises(function() ds:load("dev") end, "unknown split 'dev' (expected train, valid or test)")
  T.raises(function() coconut.plugin.load("dataset", "prontoqa", {n_train = 5}) end,
    "unknown option 'n_train'; valid options: dir, train_file, valid_file, test_file, generate, seed, forms, frontiers, concepts, epoch")
  T.raises(function() coconut.plugin.load("dataset", "prontoqa", {dir = d, forms = "plural"}) end,
    "option 'forms' is 'plural' (expected written, singular or compact)")
  -- forms = singular: the same examples with every "…puses" noun singular
  local sg = coconut.plugin.load("dataset", "prontoqa", {dir = d, forms = "singular"}):load("train")
  T.eq(#sg, #t)
  T.ok(sg[1].question ~= t[1].question and sg[1].question:find(" are ", 1, true), sg[1].question)
  T.ok(not sg[1].question:find("puses", 1, true) and not sg[1].steps[2]:find("puses", 1, true), sg[1].steps[2])
  for i, ex in ipairs(sg) do
    local function singular(x) return (x:gsub("(%a)(%a*puses)(%f[%A])", function(a, b) return a:lower() .. b:sub(1, -3) end)) end
    T.eq(ex.question, singular(t[i].question), "singular question " .. i)
    T.eq(ex.answer, t[i].answer, "answer untouched " .. i)
    T.eq(#ex.steps, #t[i].steps)
    for k, st in ipairs(ex.steps) do T.eq(st, singular(t[i].steps[k]), "singular step " .. i .. "." .. k) end
  end
  -- forms = compact: the singular text without each/every/is/are/a/an
  local cp = coconut.plugin.load("dataset", "prontoqa", {dir = d, forms = "compact"}):load("train")
  T.eq(#cp, #t)
  for i, ex in ipairs(cp) do
    local function compact(x)
      local out = {}
      for w in x:gsub("%.", " ."):gsub(":", " :"):gmatch("%S+") do
        local l = w:lower()
        if l ~= "each" and l ~= "every" and l ~= "is" and l ~= "are" and l ~= "a" and l ~= "an" then out[#out + 1] = w end
      end
      return (table.concat(out, " "):gsub(" %.", "."):gsub(" :", ":"))
    end
    T.eq(ex.question, compact(sg[i].question), "compact question " .. i)
    T.eq(ex.answer, t[i].answer, "answer untouched " .. i)
    for k, st in ipairs(ex.steps) do T.eq(st, compact(sg[i].steps[k]), "compact step " .. i .. "." .. k) end
  end
  local empty = T.tmpdir("pqa3")
  local err = T.raises(function() coconut.plugin.load("dataset", "prontoqa", {dir = empty, generate = true}):load("train") end,
    "no train split: neither " .. empty .. "/train.json nor " .. empty .. "/prontoqa_train.json exists")
  T.ok(err:find("ProntoQA cannot be generated here", 1, true) and err:find("option 'dir'", 1, true)
    and err:find("option 'train_file'", 1, true), err)
  T.raises(function() coconut.plugin.load("dataset", "prontoqa", {test_file = empty .. "/x.json"}):load("test") end,
    "test_file '" .. empty .. "/x.json' does not exist")
  T.raises(function() coconut.plugin.load("dataset", "prontoqa", {dir = ""}) end, "option 'dir' is empty")
  -- a malformed file fails as a whole: an error with file:line:column, no list
  write(empty .. "/valid.json", '[{"question": "q", "steps": ["a"], "answer": "True"},\n {"question": "q", "steps": ["a", 7], "answer": "True"}]')
  local bad = coconut.plugin.load("dataset", "prontoqa", {dir = empty})
  local ok, res = pcall(bad.load, bad, "valid")
  T.eq(ok, false)
  T.ok(tostring(res):find(empty .. "/valid.json:2:35: example 1: field 'steps' entry 1 is a number, not a string", 1, true), tostring(res))
  T.rmtree(d); T.rmtree(d2); T.rmtree(empty)
end)

T.test("prontoqa plugin: the real splits (9000 / 200 / 800, answers True or False)", function()
  local dir = T.shared("prontoqa")
  if not dir or not coconut.fs.exists(dir .. "/train.json") then T.skip("../shared/data/prontoqa not present") end
  local ds = coconut.plugin.load("dataset", "prontoqa", {dir = dir})
  local want = {train = 9000, valid = 200, test = 800}
  for name, n in pairs(want) do
    local list = ds:load(name)
    T.eq(#list, n, name)
    for i, ex in ipairs(list) do
      if ex.answer ~= "True" and ex.answer ~= "False" then error(name .. " example " .. i .. ": answer " .. ex.answer) end
      if #ex.question == 0 or not ex.question:find("True or false: ", 1, true) then error(name .. " example " .. i .. ": question") end
      if #ex.steps ~= 6 then error(name .. " example " .. i .. ": " .. #ex.steps .. " steps") end
    end
  end
  -- forms = singular: every rewritten noun is a singular the files themselves
  -- use ("Every zumpus ..."), no plural is left, and each concept has one form
  local written, words = ds:load("train"), {}
  local function each_word(ex, f)
    for w in ex.question:gmatch("%a+") do f(w) end
    for _, st in ipairs(ex.steps) do for w in st:gmatch("%a+") do f(w) end end
  end
  for _, ex in ipairs(written) do each_word(ex, function(w) words[w] = true end) end
  local sg = coconut.plugin.load("dataset", "prontoqa", {dir = dir, forms = "singular"}):load("train")
  local concepts, left = {}, 0
  for i, ex in ipairs(sg) do
    T.eq(ex.answer, written[i].answer)
    each_word(ex, function(w)
      if w:find("puses$") then left = left + 1 end
      if w:find("pus$") then
        if not words[w] then error("example " .. i .. ": '" .. w .. "' is not a word of the written files") end
        concepts[w] = true
      end
    end)
  end
  T.eq(left, 0, "plural forms left")
  local n = 0
  for _ in pairs(concepts) do n = n + 1 end
  T.ok(n >= 10 and n <= 30, n .. " concepts")
end)

T.test("layout and scoring of True/False answers: '### True' in, 'True' out", function()
  local exs = hand_examples(8, 5)
  local tok = coconut.tokenizer.words(E.layout_texts(exs, "words"), {specials = E.SPECIALS, unk = true})
  local special = {start = tok:id(E.SPECIALS[1]), end_ = tok:id(E.SPECIALS[2]), latent = tok:id(E.SPECIALS[3]), eos = tok:eos()}
  local lay = Layout.new(tok, special, "words")
  for _, ex in ipairs(exs) do
    local texts = Layout.texts(ex, "words")
    T.eq(texts[#texts], "### " .. ex.answer)
    -- a CoT training sequence ends with the answer tokens and <eos>; decoding
    -- its visible part and extracting gives the gold answer back exactly
    local tr = lay:train_example(ex, {drop_steps = 0, n_latent = 0, markers = false, n_pause = 0})
    local text = lay:decode_visible(tr.input_ids)
    T.ok(text:find("### " .. ex.answer, 1, true), text)
    T.eq(lay:extract(text), ex.answer)
    -- Coconut's final stage (every step replaced by a thought)
    local tc = lay:train_example(ex, {drop_steps = #ex.steps, n_latent = 6, markers = true, n_pause = 0})
    T.eq(lay:extract(lay:decode_visible(tc.input_ids)), ex.answer)
  end
  T.eq(Layout.extract_answer("Max is not wooden.\n### True"), "True")
  T.eq(Layout.extract_answer("### False"), "False")
  T.eq(Layout.extract_answer("# True ### False"), "False")     -- the last '#' counts
  T.ok(Layout.extract_answer("Max is not wooden. True") ~= "True", "no '#': the whole text, scored wrong")
end)

T.test("prontoqa frontiers: the reasoning graph in meta_json drives the frontier loss", function()
  local d = T.tmpdir("pqfr")
  write_splits(d, 21, 4, 4)
  local plain = coconut.plugin.load("dataset", "prontoqa", {dir = d, forms = "singular"}):load("train")
  local exs = coconut.plugin.load("dataset", "prontoqa", {dir = d, forms = "singular", frontiers = true}):load("train")
  T.eq(#exs, 21)
  local tok = coconut.tokenizer.words(E.layout_texts(exs, "words"), {specials = E.SPECIALS, unk = true})
  local special = {start = tok:id(E.SPECIALS[1]), end_ = tok:id(E.SPECIALS[2]), latent = tok:id(E.SPECIALS[3]), eos = tok:eos()}
  local lay = Layout.new(tok, special, "words")
  local rng = coconut.rng(3)
  for i, ex in ipairs(exs) do
    T.eq(ex.question, plain[i].question, "frontiers change no text")
    local meta = coconut.json.decode(ex.meta_json)
    -- hand_examples: name -> c1 -> c2 -> c3 -> prop (the c4 -> c5 rule is off the way)
    T.eq(meta.hops, 4, ex.question)
    local chain = {}
    for c in ex.question:gmatch("Every (%S+) is a ") do chain[#chain + 1] = c end
    local name = ex.question:match("True or false: (%S+) ")
    T.eq(meta.idx_to_symbol[meta.root + 1], name)
    local first = ex.question:match(name:gsub("%p", "%%%0") .. " is a (%a+)%.")
    T.eq(meta.idx_to_symbol[meta.frontier[1][1] + 1], first, "depth 1: the entity's concept")
    T.eq(#meta.frontier[4], 1)
    T.eq(meta.frontier[4][1], meta.target)
    -- frontier supervision after s thoughts labels exactly the depth-(s+1)
    -- node (while steps remain: an empty chain is trained on its answer)
    for s = 0, #ex.steps > 0 and 3 or -1 do
      local tr = lay:train_example(ex, {drop_steps = s, n_latent = s, markers = false, n_pause = 0, supervision = "frontier"},
        rng)
      local want = tok:id(meta.idx_to_symbol[meta.frontier[s + 1][1] + 1])
      T.ok(want ~= nil)
      T.eq(tr.labels[#tr.labels], want, "stage " .. s)
      for j = 1, #tr.labels - 1 do T.eq(tr.labels[j], -100) end
    end
    T.eq(#chain, 2, "two \"Every X is a Y\" rules")
  end
  T.rmtree(d)
end)

T.test("prontoqa concepts = permute: fresh concept names per epoch, the file at epoch 0", function()
  local d = T.tmpdir("pqperm")
  write_splits(d, 20, 4, 4)
  local function load(o)
    local base = {dir = d, forms = "singular", frontiers = true, seed = 5}
    for k, v in pairs(o) do base[k] = v end
    return coconut.plugin.load("dataset", "prontoqa", base):load("train")
  end
  local file, e0 = load{}, load{concepts = "permute"}
  local e1, e1b, e2, s6 = load{concepts = "permute", epoch = 1}, load{concepts = "permute", epoch = 1},
    load{concepts = "permute", epoch = 2}, load{concepts = "permute", epoch = 1, seed = 6}
  local function stems(text) -- the concept stems in order of appearance
    local out = {}
    for w in text:gmatch("%a+") do
      local st = w:match("^(%a+)puses$") or w:match("^(%a+)pus$")
      if st then out[#out + 1] = st:lower() end
    end
    return out
  end
  local moved, differ_epoch, differ_seed = 0, 0, 0
  for i = 1, #file do
    T.eq(e0[i].question, file[i].question, "epoch 0 is the file")
    T.eq(e1[i].question, e1b[i].question, "same seed and epoch, same names")
    T.eq(e1[i].answer, file[i].answer, "the answer is untouched")
    if e1[i].question ~= file[i].question then moved = moved + 1 end
    if e2[i].question ~= e1[i].question then differ_epoch = differ_epoch + 1 end
    if s6[i].question ~= e1[i].question then differ_seed = differ_seed + 1 end
    -- one map: the relabelled text is the file's with each stem replaced the same way everywhere
    local map = {}
    local a, b = stems(table.concat({file[i].question, table.concat(file[i].steps, " ")}, " ")),
                 stems(table.concat({e1[i].question, table.concat(e1[i].steps, " ")}, " "))
    T.eq(#a, #b)
    for k = 1, #a do
      if map[a[k]] then T.eq(map[a[k]], b[k], "consistent map") else map[a[k]] = b[k] end
    end
    local seen = {}
    for _, v in pairs(map) do T.ok(not seen[v], "a bijection"); seen[v] = true end
    -- the non-concept words stay
    T.eq((e1[i].question:gsub("%a+pus%f[%A]", "C"):gsub("%a+puses%f[%A]", "C")),
         (file[i].question:gsub("%a+pus%f[%A]", "C"):gsub("%a+puses%f[%A]", "C")))
    -- the graph follows the new names: its depth-1 node is the entity's concept in the relabelled text
    local meta = coconut.json.decode(e1[i].meta_json)
    local name = e1[i].question:match("True or false: (%S+) ")
    T.eq(meta.idx_to_symbol[meta.frontier[1][1] + 1], e1[i].question:match(name:gsub("%p", "%%%0") .. " is a (%a+)%."))
  end
  T.ok(moved >= 18, "most examples get new names: " .. moved)
  T.ok(differ_epoch >= 18, "a new epoch, new names: " .. differ_epoch)
  T.ok(differ_seed >= 18, "a new seed, new names: " .. differ_seed)
  T.raises(function() coconut.plugin.load("dataset", "prontoqa", {dir = d, concepts = "shuffle"}) end,
    "option 'concepts' is 'shuffle' (expected fixed or permute)")
  T.raises(function() coconut.plugin.load("dataset", "prontoqa", {dir = d, epoch = -1}) end, "option 'epoch' is -1")
  T.rmtree(d)
end)

-- The rows of one split in a method's eval.csv.
local function eval_rows(path, split)
  local rows = assert(coconut.csv.read(path))
  local out = {}
  for _, r in ipairs(rows) do if r.split == split then out[#out + 1] = r end end
  return out
end

T.test("prontoqa --preset quick on hand-made data: all eight methods, results consistent with eval.csv", function()
  local d = T.tmpdir("pqe2e")
  write_splits(d .. "/data", 60, 16, 16)
  local rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --data %s --results %s",
    BIN, d .. "/data", d .. "/results"))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  T.ok(out:find("data: 48 train, 16 valid, 16 test examples", 1, true), "quick takes the first 48 training examples")
  local root = d .. "/results/prontoqa/quick"
  local res, cols = assert(coconut.csv.read(root .. "/results.csv"))
  T.eq(cols[1], "method"); T.eq(cols[4], "test_accuracy")
  T.eq(#res, 8)
  for i, m in ipairs(E.PAPER_ORDER) do
    local r = res[i]
    T.eq(r.method, m)
    local test = eval_rows(root .. "/" .. m .. "/eval.csv", "test")
    T.eq(#test, 16, m .. " test rows")
    local sum = 0
    for _, e in ipairs(test) do
      T.ok(e.gold == "True" or e.gold == "False", m .. " gold " .. e.gold)
      -- correct is exactly "the extracted prediction equals the gold answer"
      T.eq(tonumber(e.correct), e.prediction == e.gold and 1 or 0, m .. " correct vs prediction " .. e.prediction)
      sum = sum + tonumber(e.correct)
    end
    T.near(tonumber(r.test_accuracy), sum / 16, 1e-6, m .. " test accuracy")
    T.near(tonumber(r.test_tokens), tonumber(r.test_new_tokens) + tonumber(r.test_thoughts), 1e-6, m .. " # tokens")
    T.ok(tonumber(r.valid_accuracy) >= 0 and tonumber(r.valid_accuracy) <= 1)
  end
  -- Coconut thinks at evaluation: stage s plans s thoughts (c = 1, latents padded
  -- to the stage, so the examples without steps get them too)
  local valid = eval_rows(root .. "/coconut/eval.csv", "valid")
  T.eq(#valid, 3 * 16)
  for _, e in ipairs(valid) do T.eq(tonumber(e.thoughts), tonumber(e.stage), "coconut thoughts at stage " .. e.stage) end
  local cfg = assert(coconut.json.read(root .. "/config.json"))
  T.eq(cfg.preset, "quick"); T.eq(cfg.data, d .. "/data")
  T.rmtree(d)
end)

T.test("prontoqa: missing or malformed data stops the run before anything is written", function()
  local d = T.tmpdir("pqerr")
  local rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --data %s --results %s",
    BIN, d .. "/none", d .. "/results"))
  T.eq(rc, 2, out)
  T.ok(out:find("no train split: " .. d .. "/none/train.json does not exist", 1, true), out)
  T.ok(out:find("--data ../shared/data/prontoqa", 1, true) and out:find("--train_file FILE", 1, true), out)
  T.ok(not coconut.fs.exists(d .. "/results"), "no results directory")
  -- the default --data (datasets/prontoqa) is named when it is missing
  if not coconut.fs.exists("datasets/prontoqa/train.json") then
    rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --results %s", BIN, d .. "/results"))
    T.eq(rc, 2, out); T.ok(out:find("datasets/prontoqa/train.json does not exist", 1, true), out)
  end
  -- a malformed test split: the file, line and column, and still nothing written
  write_splits(d .. "/data", 20, 8, 8)
  write(d .. "/data/test.json", '[\n  {"question": "q", "steps": [], "answer": "True"},\n  {"question": "q", "steps": []}\n]')
  rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --data %s --results %s",
    BIN, d .. "/data", d .. "/results"))
  T.eq(rc, 2, out)
  T.ok(out:find("prontoqa: the test split cannot be loaded: ", 1, true), out)
  T.ok(out:find(d .. "/data/test.json:3:3: example 1: no 'answer' field", 1, true), out)
  T.ok(not coconut.fs.exists(d .. "/results"), "no results directory")
  -- an explicit file that is not there names the option
  rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --data %s --valid_file %s --results %s",
    BIN, d .. "/data", d .. "/nope.json", d .. "/results"))
  T.eq(rc, 2, out); T.ok(out:find("--valid_file " .. d .. "/nope.json does not exist", 1, true), out)
  -- the paper preset needs the GPT-2 weights (checked after the data, now valid again)
  write_splits(d .. "/data", 20, 8, 8)
  rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset paper --data %s --results %s",
    BIN, d .. "/data", d .. "/results"))
  T.eq(rc, 2, out); T.ok(out:find("--preset paper fine-tunes pretrained GPT-2: pass --model_path", 1, true), out)
  T.ok(not coconut.fs.exists(d .. "/results"), "no results directory")
  -- presets and help
  rc, out = T.sh(BIN .. " run experiments/prontoqa.lua --preset huge")
  T.eq(rc, 2); T.ok(out:find("unknown preset 'huge'; presets: cpu, cpu_v1, paper, quick", 1, true), out)
  rc, out = T.sh(BIN .. " run experiments/prontoqa.lua --help")
  T.eq(rc, 0); T.ok(out:find("defaults of preset 'cpu'", 1, true), out)
  T.ok(out:find("--data%s+string%s+datasets/prontoqa"), out)
  T.rmtree(d)
end)

T.test("prontoqa --preset quick on the real splits (first 48 / 16 / 16)", function()
  local dir = T.shared("prontoqa")
  if not dir or not coconut.fs.exists(dir .. "/train.json") then T.skip("../shared/data/prontoqa not present") end
  local d = T.tmpdir("pqreal")
  local rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --method nocot,coconut --data %s --results %s",
    BIN, dir, d))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/prontoqa/quick"
  local res = assert(coconut.csv.read(root .. "/results.csv"))
  T.eq(#res, 2); T.eq(res[1].method, "nocot"); T.eq(res[2].method, "coconut")
  for _, r in ipairs(res) do
    local test = eval_rows(root .. "/" .. r.method .. "/eval.csv", "test")
    T.eq(#test, 16)
    local sum = 0
    for _, e in ipairs(test) do
      T.ok(e.gold == "True" or e.gold == "False", e.gold)
      sum = sum + tonumber(e.correct)
    end
    T.near(tonumber(r.test_accuracy), sum / 16, 1e-6, r.method)
  end
  -- Coconut thinks at evaluation: stage s (0, 1, 2 at quick) plans s thoughts (c = 1)
  local valid = eval_rows(root .. "/coconut/eval.csv", "valid")
  T.eq(#valid, 3 * 16)
  for _, e in ipairs(valid) do T.eq(tonumber(e.thoughts), tonumber(e.stage), "thoughts at stage " .. e.stage) end
  T.rmtree(d)
end)

T.test("prontoqa: the cpu preset's recipe at quick size on the real splits (compact, permute, lookup pretraining)", function()
  local dir = T.shared("prontoqa")
  if not dir or not coconut.fs.exists(dir .. "/train.json") then T.skip("../shared/data/prontoqa not present") end
  local d = T.tmpdir("pqcpu")
  local rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --method cot,coconut --forms compact "
    .. "--concepts permute --position_init sinusoid --pretrain_task lookup --pretrain_lookup_units 4,0 --pretrain_epochs 2 "
    .. "--coconut_from_cot true --data %s --results %s", BIN, dir, d))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local root = d .. "/prontoqa/quick"
  -- the pretraining ran both epochs of the lookup task
  local st = assert(coconut.json.read(root .. "/pretrain/state.json"))
  T.eq(st.epochs, 2)
  local res = assert(coconut.csv.read(root .. "/results.csv"))
  T.eq(#res, 2)
  -- both methods scored on the 16 test questions
  for _, m in ipairs{"cot", "coconut"} do
    local rows = eval_rows(root .. "/" .. m .. "/eval.csv", "test")
    T.eq(#rows, 16, m)
    for _, e in ipairs(rows) do T.ok(e.gold == "True" or e.gold == "False", e.gold) end
  end
  local cfg = assert(coconut.json.read(root .. "/config.json"))
  local o = cfg.opts or cfg
  T.eq(o.forms, "compact"); T.eq(o.concepts, "permute"); T.eq(o.pretrain_task, "lookup")
  T.rmtree(d)
end)

T.test("prontoqa --preset quick on the real splits with the frontier loss and the stage probe", function()
  local dir = T.shared("prontoqa")
  if not dir or not coconut.fs.exists(dir .. "/train.json") then T.skip("../shared/data/prontoqa not present") end
  local d = T.tmpdir("pqfront")
  local rc, out = T.sh(string.format("%s run experiments/prontoqa.lua --preset quick --method coconut --forms singular "
    .. "--coconut_loss frontier --coconut_markers false --stage_probe true --data %s --results %s", BIN, dir, d))
  if rc ~= 0 then error("run failed (exit " .. tostring(rc) .. "):\n" .. out) end
  local rows = assert(coconut.csv.read(d .. "/prontoqa/quick/coconut/stage_accuracy.csv"))
  T.ok(#rows > 0, "stage_accuracy.csv has rows")
  for _, r in ipairs(rows) do
    local f = tonumber(r.frontier_acc)
    T.ok(f and f >= 0 and f <= 1, r.frontier_acc)
  end
  T.rmtree(d)
end)
