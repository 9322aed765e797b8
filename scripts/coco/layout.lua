-- coco.layout — token sequences of the official Coconut layout.
--
-- Training example (facebookresearch/coconut dataset.py get_cot_latent_dataset):
--   tok(question .. "\n") [<|start-latent|>] <|latent|> x n [<|end-latent|>] <pause> x p
--   tok(step .. "\n") for the kept steps, tok("### " .. answer), <eos>
-- labels: -100 over the question, markers, latents and pauses; the token ids
-- over the rest (kept steps, answer, eos).
-- Evaluation prompt (get_question_latent_dataset): the same up to the pauses.
-- Each example's pieces are tokenized once and cached on the example.
--
-- Two plan fields of issue 13 (coco_plan in coconut/plugin.h; absent = 0):
--   drop_tokens       iCoT's token-level removal: the kept steps' tokens
--                     (separators included) form one chain, whose first
--                     drop_tokens tokens are left out (a count beyond the chain
--                     leaves none); the answer and <eos> always stay.
--   pause_as_thought  the n_latent thought slots hold <pause> instead of
--                     <|latent|> (Coconut "pause as thought": a learned
--                     embedding, no latent passes); the eval prompt then holds
--                     them too and plans 0 thoughts.
--
-- Styles: "words" is the official text layout above. "symbolic" (one token per
-- node, issue 12) drops the "\n" separators and the "### " answer prefix: the
-- answer already starts with its own marker ("A target"), and the prediction
-- is that marker and the word after its last occurrence.
--
-- Frontier supervision (plan.supervision "frontier" / "bfs", while steps remain):
--   question [<|start-latent|>] <|latent|> x n_latent  node
-- with only `node` labelled: a random node of the shortest-path frontier at
-- depth drop_steps + 1 ("frontier"), or, for "bfs", label_sets[t] = the whole
-- BFS frontier at that depth (labels[t] = -100; the input token there is the
-- set's first node and never influences the loss: it is the last position).
-- "bfs_all" also puts label_sets on the thought slots: the output after j
-- thoughts (j < n_latent) against the BFS frontier at depth
-- 1 + floor(j * drop_steps / n_latent).
local L = {}
L.__index = L

L.STYLES = {
  words = {sep = "\n", answer_prefix = "### ", marker = "#"},
  symbolic = {sep = "", answer_prefix = "", marker = "A"},
}

-- The strings a style tokenizes for one example (the word vocabulary is built
-- from exactly these).
function L.texts(ex, style)
  local st = L.STYLES[style or "words"] or error("layout: unknown style '" .. tostring(style) .. "'", 0)
  local t = {ex.question .. st.sep}
  for _, s in ipairs(ex.steps) do t[#t + 1] = s .. st.sep end
  t[#t + 1] = st.answer_prefix .. ex.answer
  return t
end

-- special = {start=, end_=, latent=, eos=, pause=(optional)}; style "words" (default) | "symbolic"
function L.new(tok, special, style)
  local st = L.STYLES[style or "words"] or error("layout: unknown style '" .. tostring(style) .. "'", 0)
  return setmetatable({tok = tok, sp = special, style = st, style_name = style or "words"}, L)
end

local function append(dst, src)
  for i = 1, #src do dst[#dst + 1] = src[i] end
end

function L:pieces(ex)
  local c = ex._tok
  if c then return c end
  local st = self.style
  c = {q = self.tok:encode(ex.question .. st.sep), steps = {}, a = self.tok:encode(st.answer_prefix .. ex.answer)}
  for i, s in ipairs(ex.steps) do c.steps[i] = self.tok:encode(s .. st.sep) end
  c.a[#c.a + 1] = self.sp.eos
  ex._tok = c
  return c
end

-- The token of the plan's thought slots: <|latent|>, or <pause> for pause_as_thought.
function L:slot_token(plan)
  if not plan.pause_as_thought then return self.sp.latent end
  if not self.sp.pause then error("layout: the curriculum puts <pause> in its thought slots but the tokenizer has no <|pause|> token", 0) end
  return self.sp.pause
end

-- The prefix shared by training and evaluation: question, markers, latents, pauses.
function L:prefix(ex, plan)
  local c = self:pieces(ex)
  local ids = {}
  append(ids, c.q)
  if plan.markers then ids[#ids + 1] = self.sp.start end
  local slot = plan.n_latent > 0 and self:slot_token(plan)
  for _ = 1, plan.n_latent do ids[#ids + 1] = slot end
  if plan.markers then ids[#ids + 1] = self.sp.end_ end
  if plan.n_pause > 0 then
    if not self.sp.pause then error("layout: the curriculum asks for pause tokens but the tokenizer has no <|pause|> token", 0) end
    for _ = 1, plan.n_pause do ids[#ids + 1] = self.sp.pause end
  end
  return ids
end

-- An example's graph meta and a node id -> token id function (one token per
-- node, else an error naming the node).
function L:graph_meta(ex)
  if not ex.meta_json then error("layout: frontier supervision needs examples with meta (the prosqa dataset)", 0) end
  local meta = coconut.json.decode(ex.meta_json)
  if not (meta.frontier and meta.bfs_frontier and meta.node_tokens) then
    error("layout: frontier supervision needs meta.frontier, bfs_frontier and node_tokens (prosqa format=symbolic, "
      .. "or words with frontiers=true)", 0)
  end
  local cache = {}
  local function node(id)
    local t = cache[id]
    if t then return t end
    local name = meta.node_tokens[id + 1]
    local enc = name and self.tok:encode(name)
    if not enc or #enc ~= 1 then
      error(string.format("layout: node %d ('%s') is not a single token; frontier losses need one token per node",
        id, tostring(name)), 0)
    end
    cache[id] = enc[1]
    return enc[1]
  end
  return meta, node
end

-- The one-hop lookups of an example's graph: a list, in node id order, of
-- {token, {child tokens}} for every node with out-edges (the "lookup"
-- pretraining task asks for the children of a node named by its token).
function L:lookups(ex)
  local meta, node = self:graph_meta(ex)
  local kids, order = {}, {}
  for _, e in ipairs(meta.edges or {}) do
    local s = e[1]
    if not kids[s] then kids[s] = {}; order[#order + 1] = s end
    local k = kids[s]
    k[#k + 1] = node(e[2])
  end
  table.sort(order)
  local out = {}
  for i, s in ipairs(order) do out[i] = {node(s), kids[s]} end
  return out
end

-- Token ids of the frontier sets of a ProsQA example (meta "frontier" and
-- "bfs_frontier", node ids mapped through "node_tokens"): {frontier = {depth ->
-- ids}, bfs = {depth -> ids}}; cached on the example.
function L:frontiers(ex)
  if ex._front then return ex._front end
  local meta, node = self:graph_meta(ex)
  local f = {frontier = {}, bfs = {}}
  for k, kind in pairs{frontier = "frontier", bfs = "bfs_frontier"} do
    for d, set in ipairs(meta[kind]) do
      local ids = {}
      for i, id in ipairs(set) do ids[i] = node(id) end
      f[k][d] = ids
    end
  end
  ex._front = f
  return f
end

-- rng (coconut.rng) draws the frontier node; required for "frontier" supervision.
function L:train_example(ex, plan, rng)
  local c = self:pieces(ex)
  local sup = plan.supervision or "steps"
  local drop_tokens = plan.drop_tokens or 0
  if sup ~= "steps" and drop_tokens > 0 then
    error("layout: drop_tokens (token-level removal) needs 'steps' supervision, not '" .. sup .. "'", 0)
  end
  if sup ~= "steps" and plan.drop_steps < #c.steps then
    local ids = {}
    append(ids, c.q)
    if plan.markers then ids[#ids + 1] = self.sp.start end
    local slot = plan.n_latent > 0 and self:slot_token(plan)
    for _ = 1, plan.n_latent do ids[#ids + 1] = slot end
    local labels = {}
    for i = 1, #ids do labels[i] = -100 end
    local depth = plan.drop_steps + 1
    local f = self:frontiers(ex)
    if sup == "frontier" then
      local set = f.frontier[depth]
      if not set or #set == 0 then error(string.format("layout: example %s has no frontier at depth %d", tostring(ex.id), depth), 0) end
      local pick = set[#set == 1 and 1 or (assert(rng, "frontier supervision needs an rng"):below(#set) + 1)]
      ids[#ids + 1], labels[#labels + 1] = pick, pick
      return {input_ids = ids, labels = labels}
    elseif sup == "bfs" or sup == "bfs_all" then
      local function bfs_set(d)
        local set = f.bfs[d]
        if not set or #set == 0 then error(string.format("layout: example %s has no BFS frontier at depth %d", tostring(ex.id), d), 0) end
        return set
      end
      local set = bfs_set(depth)
      ids[#ids + 1], labels[#labels + 1] = set[1], -100
      local sets = {[#ids] = set}
      if sup == "bfs_all" then
        -- the output after j < n_latent thoughts sits at position #ids - n_latent + j - 1;
        -- label_sets[t] scores the output at t - 1
        local n = plan.n_latent
        for j = 0, n - 1 do
          sets[#ids - n + j] = bfs_set(1 + (j * plan.drop_steps) // n)
        end
      end
      return {input_ids = ids, labels = labels, label_sets = sets}
    end
    error("layout: unknown supervision '" .. tostring(sup) .. "'", 0)
  end
  local ids = self:prefix(ex, plan)
  local labels = {}
  for i = 1, #ids do labels[i] = -100 end
  local rest, skip = {}, drop_tokens
  for i = plan.drop_steps + 1, #c.steps do
    local st = c.steps[i]
    for j = 1, #st do
      if skip > 0 then skip = skip - 1 else rest[#rest + 1] = st[j] end
    end
  end
  append(rest, c.a)
  for i = 1, #rest do
    ids[#ids + 1] = rest[i]
    labels[#labels + 1] = rest[i]
  end
  return {input_ids = ids, labels = labels}
end

-- Prompt for generation: up to and including <|start-latent|> when the plan has
-- markers (the thoughts are produced by the model, k = plan.n_latent of them);
-- without markers, the question alone with k = plan.n_latent (generate's
-- markers = false mode thinks right after it); else the full prefix. With
-- pause_as_thought the slots are input tokens: the full prefix, k = 0.
-- Returns ids, planned thoughts.
function L:eval_prompt(ex, plan)
  if plan.pause_as_thought then return self:prefix(ex, plan), 0 end
  local c = self:pieces(ex)
  local ids = {}
  append(ids, c.q)
  if plan.markers then
    ids[#ids + 1] = self.sp.start
    return ids, plan.n_latent
  end
  -- marker-less thoughts (plan.markers false): generate appends them after the question
  if plan.n_latent > 0 then return ids, plan.n_latent end
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

-- The style's extraction: words as above; symbolic: the last answer marker
-- and the word after it ("A 11"), or "" when the marker never appears.
function L:extract(text)
  if self.style.marker == "#" then return L.extract_answer(text) end
  local words = {}
  for w in text:gmatch("%S+") do words[#words + 1] = w end
  for i = #words, 1, -1 do
    if words[i] == self.style.marker then return words[i + 1] and (words[i] .. " " .. words[i + 1]) or words[i] end
  end
  return ""
end

return L
