-- coco.layout — token sequences of the official Coconut layout.
--
-- Training example (facebookresearch/coconut dataset.py get_cot_latent_dataset):
--   tok(question .. "\n") [<|start-latent|>] <|latent|> x n [<|end-latent|>] <pause> x p
--   tok(step .. "\n") for the kept steps, tok("### " .. answer), <eos>
-- labels: -100 over the question, markers, latents and pauses; the token ids
-- over the rest (kept steps, answer, eos).
-- Evaluation prompt (get_question_latent_dataset): the same up to the pauses.
-- Each example's pieces are tokenized once and cached on the example.
local L = {}
L.__index = L

-- special = {start=, end_=, latent=, eos=, pause=(optional)}
function L.new(tok, special)
  return setmetatable({tok = tok, sp = special}, L)
end

local function append(dst, src)
  for i = 1, #src do dst[#dst + 1] = src[i] end
end

function L:pieces(ex)
  local c = ex._tok
  if c then return c end
  c = {q = self.tok:encode(ex.question .. "\n"), steps = {}, a = self.tok:encode("### " .. ex.answer)}
  for i, s in ipairs(ex.steps) do c.steps[i] = self.tok:encode(s .. "\n") end
  c.a[#c.a + 1] = self.sp.eos
  ex._tok = c
  return c
end

-- The prefix shared by training and evaluation: question, markers, latents, pauses.
function L:prefix(ex, plan)
  local c = self:pieces(ex)
  local ids = {}
  append(ids, c.q)
  if plan.markers then ids[#ids + 1] = self.sp.start end
  for _ = 1, plan.n_latent do ids[#ids + 1] = self.sp.latent end
  if plan.markers then ids[#ids + 1] = self.sp.end_ end
  if plan.n_pause > 0 then
    assert(self.sp.pause, "the curriculum asks for pause tokens but none was added to the tokenizer")
    for _ = 1, plan.n_pause do ids[#ids + 1] = self.sp.pause end
  end
  return ids
end

function L:train_example(ex, plan)
  local c = self:pieces(ex)
  local ids = self:prefix(ex, plan)
  local labels = {}
  for i = 1, #ids do labels[i] = -100 end
  local rest = {}
  for i = plan.drop_steps + 1, #c.steps do append(rest, c.steps[i]) end
  append(rest, c.a)
  for i = 1, #rest do
    ids[#ids + 1] = rest[i]
    labels[#labels + 1] = rest[i]
  end
  return {input_ids = ids, labels = labels}
end

-- Prompt for generation: up to and including <|start-latent|> when the plan has
-- markers (the thoughts are produced by the model, k = plan.n_latent of them),
-- else the full prefix. Returns ids, planned thoughts.
function L:eval_prompt(ex, plan)
  local c = self:pieces(ex)
  local ids = {}
  append(ids, c.q)
  if plan.markers then
    ids[#ids + 1] = self.sp.start
    return ids, plan.n_latent
  end
  for _ = 1, plan.n_pause do ids[#ids + 1] = self.sp.pause end
  return ids, 0
end

-- Official answer extraction: decode (skipping special tokens), take the text
-- after the last '#', remove commas, strip whitespace.
function L:decode_visible(ids)
  local keep = {}
  for i = 1, #ids do
    if not self.tok:is_special(ids[i]) then keep[#keep + 1] = ids[i] end
  end
  return self.tok:decode(keep)
end

function L.extract_answer(text)
  local last = text:match(".*#(.*)$") or text
  return (last:gsub(",", "")):match("^%s*(.-)%s*$")
end

return L
