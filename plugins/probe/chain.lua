-- chain.lua — probe plugin "chain": how the language chain a model writes
-- compares with the example's gold steps, for any dataset in the words layout
-- (one step per line, then "### answer": ProntoQA, GSM8k, arith, ProsQA in
-- words). It tells a model that writes the right form with the wrong content
-- from one that reasons and slips (docs/prontoqa.md).
--
-- The written steps are the lines of the generated text before the first line
-- that starts with the answer prefix ("###"); empty lines are skipped. Steps
-- are compared with all white space removed, so a tokenizer's spacing of
-- "<<4*5=20>>" or "Alex is a cat ." does not matter. The gold steps are the
-- event's steps (coco_probe_event.steps, appended after ABI 1: the dataset's
-- steps before any curriculum replaced some by thoughts), so a Coconut output
-- after k thoughts is expected to continue the gold chain somewhere inside.
--
-- CSV columns (one row per example and pass; the host prefixes split, epoch, stage):
--   k            thoughts before <|end-latent|> (the event's ev.k), "" if unknown
--   index        the example's 0-based index in its split
--   correct      1 if the answer is right (the official exact match), else 0
--   gold_steps   steps of the example
--   written      steps the model wrote
--   in_gold      written steps equal to some gold step (counted with repeats)
--   first_ok     1 if the first written step is a gold step, 0 if not, "" if none was written
--   run          from the first written step's place o in the gold chain, how many
--                written steps in a row follow it (gold[o], gold[o+1], ...); 0 if
--                the first is not a gold step
--   completes    1 if the written steps are exactly the gold chain's last `written`
--                steps (a chain that finishes the gold one), else 0
--   sentences    sentences written (split after ". "), over all written steps
--   in_question  of these, the ones that occur verbatim in the question (a rule
--                copied from ProntoQA's question, as opposed to an invented one)
-- After each pass, one row with index "mean": the means of correct, written,
-- in_gold / written, first_ok, run, completes and in_question / sentences, over
-- the pass's examples (ratios pooled over the pass).
local P = {
  kind = "probe",
  name = "chain",
  doc = "the written chain against the gold steps: steps in gold, first step, run, sentences found in the question",
  options = {
    { name = "answer_prefix", type = "string", default = "###", doc = "a line starting with this ends the chain" },
    { name = "summary", type = "bool", default = true, doc = "write a 'mean' row after each evaluation pass" },
  },
}

local function squash(s) return (s:gsub("%s+", "")) end

local function reset(self)
  self.n, self.correct, self.written, self.in_gold, self.first_n, self.first_ok = 0, 0, 0, 0, 0, 0
  self.run, self.completes, self.sentences, self.in_question = 0, 0, 0, 0
end

function P.create(opts)
  if opts.answer_prefix == "" then error("answer_prefix must not be empty") end
  local self = { prefix = opts.answer_prefix, summary = opts.summary }
  reset(self)
  return self
end

function P.columns(self)
  return { "k", "index", "correct", "gold_steps", "written", "in_gold", "first_ok", "run", "completes", "sentences",
           "in_question" }
end

function P.wants(self) return {} end

-- The written steps of a generated text: lines before the answer line.
function P.written(text, prefix)
  local out = {}
  for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do
    local t = line:match("^%s*(.-)%s*$")
    if t:sub(1, #prefix) == prefix then break end
    if t ~= "" then out[#out + 1] = t end
  end
  return out
end

-- Sentences of a step: split after a "." followed by white space or the end.
function P.sentences(step)
  local out = {}
  for s in (step .. " "):gmatch("(.-%.)%s+") do
    local t = s:match("^%s*(.-)%s*$")
    if t ~= "" then out[#out + 1] = t end
  end
  if #out == 0 and step:match("%S") then out[1] = step:match("^%s*(.-)%s*$") end
  return out
end

-- The row fields after `correct` for written steps w, gold steps g, question q.
function P.compare(w, g, q)
  local gs, where = {}, {}
  for i, s in ipairs(g) do
    gs[i] = squash(s)
    if not where[gs[i]] then where[gs[i]] = i end
  end
  local in_gold, run, sentences, in_question = 0, 0, 0, 0
  local ws = {}
  for i, s in ipairs(w) do
    ws[i] = squash(s)
    if where[ws[i]] then in_gold = in_gold + 1 end
  end
  local first_ok = ""
  if #w > 0 then
    local o = where[ws[1]]
    first_ok = o and 1 or 0
    if o then
      while run < #ws and gs[o + run] == ws[run + 1] do run = run + 1 end
    end
  end
  local completes = (#w > 0 and #w <= #g) and 1 or 0
  for i = 1, #w do
    if ws[i] ~= gs[#g - #w + i] then completes = 0 break end
  end
  local qs = {}
  for _, s in ipairs(P.sentences(q or "")) do qs[squash(s)] = true end
  for _, s in ipairs(w) do
    for _, t in ipairs(P.sentences(s)) do
      sentences = sentences + 1
      if qs[squash(t)] then in_question = in_question + 1 end
    end
  end
  return { #g, #w, in_gold, first_ok, run, completes, sentences, in_question }
end

function P.on_example(self, ev, emit)
  local w = P.written(ev.output_text, self.prefix)
  local r = P.compare(w, ev.steps or {}, ev.question)
  local row = { ev.k or "", ev.index, ev.correct and 1 or 0 }
  for _, v in ipairs(r) do row[#row + 1] = v end
  emit(row)
  self.n = self.n + 1
  self.correct = self.correct + (ev.correct and 1 or 0)
  self.written, self.in_gold = self.written + r[2], self.in_gold + r[3]
  if r[4] ~= "" then self.first_n, self.first_ok = self.first_n + 1, self.first_ok + r[4] end
  self.run, self.completes = self.run + r[5], self.completes + r[6]
  self.sentences, self.in_question = self.sentences + r[7], self.in_question + r[8]
end

function P.on_end(self, split, epoch, stage, emit)
  if self.summary and self.n > 0 then
    local function ratio(a, b) return b > 0 and a / b or "" end
    emit({ "", "mean", self.correct / self.n, "", self.written / self.n, ratio(self.in_gold, self.written),
           ratio(self.first_ok, self.first_n), self.run / self.n, self.completes / self.n, "",
           ratio(self.in_question, self.sentences) })
  end
  reset(self)
end

return P
