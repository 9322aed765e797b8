-- coco.prosqa_graph — the ProsQA graph of one example and the measurements of
-- the paper's analysis (paper.md §5) that the probes of plugins/probe/ share:
-- distances, frontiers, heights, reading a generated reasoning path in either
-- rendering, the six path categories, and frontier values through the host's
-- ev.continuation_logprob (plugins/README.md).
--
--   local G = require "coco.prosqa_graph"
--   local g = G.new(meta)                -- meta: the dataset's meta_json (text or table)
--
-- Node ids are the meta's 0-based indices. A graph g has
--   n, root, target, neg (neg_target), D = dist(root, target), style,
--   names[id]     idx_to_symbol (words: the concept or entity name)
--   tokens[id]    how the rendering writes the node (symbolic: node_tokens; words: the name)
--   children[id], parents[id]   lists of ids, ascending
--   from_root[id] BFS distance from the root (nil: unreachable)
--   to_target[id] BFS distance to the target (nil: cannot reach it)
-- Graphs are DAGs (ProsQA edges go from lower to higher creation index); a
-- cycle is an error where it matters (heights).
local G = {}
G.__index = G

-- The six categories of Fig 5 (paper.md §5), in the paper's order.
G.CATEGORIES = {"correct_path", "longer_path", "hallucination", "wrong_target", "correct_label", "incorrect_label"}
G.CATEGORY_NAMES = {correct_path = "Correct Path", longer_path = "Longer Path", hallucination = "Hallucination",
                    wrong_target = "Wrong Target", correct_label = "Correct Label", incorrect_label = "Incorrect Label"}

local function sorted(t) table.sort(t); return t end

-- Breadth-first distances from the sources over adj (id -> list of ids).
local function bfs(sources, adj)
  local dist, queue, head = {}, {}, 1
  for _, s in ipairs(sources) do
    if dist[s] == nil then dist[s] = 0; queue[#queue + 1] = s end
  end
  while head <= #queue do
    local u = queue[head]; head = head + 1
    for _, v in ipairs(adj[u] or {}) do
      if dist[v] == nil then dist[v] = dist[u] + 1; queue[#queue + 1] = v end
    end
  end
  return dist
end
G.bfs = bfs

-- style (optional): "words" | "symbolic"; default meta.format, else "symbolic"
-- when the meta lists node tokens that differ from the names, else "words".
function G.new(meta, style)
  if type(meta) == "string" then meta = coconut.json.decode(meta) end
  if type(meta) ~= "table" or type(meta.edges) ~= "table" or meta.root == nil or meta.target == nil then
    error("prosqa_graph: the example's meta has no ProsQA graph (edges, root, target); is the dataset prosqa?", 0)
  end
  local g = setmetatable({root = meta.root, target = meta.target, neg = meta.neg_target, children = {}, parents = {},
                          names = {}, tokens = {}}, G)
  local n = 0
  for i, name in ipairs(meta.idx_to_symbol or {}) do g.names[i - 1] = name; n = math.max(n, i) end
  for _, e in ipairs(meta.edges) do
    local a, b = e[1], e[2]
    if math.type(a) ~= "integer" or math.type(b) ~= "integer" then error("prosqa_graph: an edge is not a pair of node ids", 0) end
    n = math.max(n, a + 1, b + 1)
    g.children[a] = g.children[a] or {}; table.insert(g.children[a], b)
    g.parents[b] = g.parents[b] or {}; table.insert(g.parents[b], a)
  end
  g.n = n
  for id = 0, n - 1 do
    g.children[id] = sorted(g.children[id] or {})
    g.parents[id] = sorted(g.parents[id] or {})
    g.names[id] = g.names[id] or tostring(id)
  end
  style = style or meta.format
  if not style then
    style = "words"
    for i, t in ipairs(meta.node_tokens or {}) do if t ~= g.names[i - 1] then style = "symbolic"; break end end
  end
  g.style = style
  for id = 0, n - 1 do
    g.tokens[id] = style == "symbolic" and meta.node_tokens and meta.node_tokens[id + 1] or g.names[id]
  end
  g.id_of = {}
  for id = 0, n - 1 do g.id_of[g.tokens[id]] = id end
  g.from_root = bfs({g.root}, g.children)
  g.to_target = bfs({g.target}, g.parents)
  g.D = g.from_root[g.target]
  return g
end

function G:has_edge(a, b)
  for _, c in ipairs(self.children[a] or {}) do if c == b then return true end end
  return false
end

-- Is v on some shortest root -> target path?
function G:on_shortest(v)
  local a, b = self.from_root[v], self.to_target[v]
  return a ~= nil and b ~= nil and self.D ~= nil and a + b == self.D
end

function G:reaches_target(v) return self.to_target[v] ~= nil end

-- The frontier at depth d (d >= 1): the nodes a walk of exactly d edges from
-- the root reaches (d = 1: the root's children, d = 2: their children, ...,
-- paper.md §5 Fig 7). Returns a list of {id =, parents = {ids}} ascending,
-- parents being the depth d-1 frontier nodes with an edge to it (the root for d = 1).
function G:frontier(d)
  local layer = {[self.root] = true}
  for _ = 1, d - 1 do
    local nxt = {}
    for u in pairs(layer) do for _, v in ipairs(self.children[u]) do nxt[v] = true end end
    layer = nxt
  end
  local out = {}
  local ids = {}
  for u in pairs(layer) do ids[#ids + 1] = u end
  table.sort(ids)
  local seen = {}
  for _, u in ipairs(ids) do
    for _, v in ipairs(self.children[u]) do
      if not seen[v] then seen[v] = {id = v, parents = {}}; out[#out + 1] = seen[v] end
      table.insert(seen[v].parents, u)
    end
  end
  table.sort(out, function(a, b) return a.id < b.id end)
  return out
end

-- Heights (paper.md §5 Fig 9): the shortest distance to a leaf (a node
-- without children; the paper's text) and the longest one (its caption).
-- Returns short[id], long[id]; a cycle is an error.
function G:heights()
  if self._hs then return self._hs, self._hl end
  local leaves = {}
  for id = 0, self.n - 1 do if #self.children[id] == 0 then leaves[#leaves + 1] = id end end
  local short = bfs(leaves, self.parents)
  local long, state = {}, {}
  local function visit(u)
    if state[u] == 2 then return long[u] end
    if state[u] == 1 then error("prosqa_graph: the graph has a cycle through node " .. u .. "; heights need a DAG", 0) end
    state[u] = 1
    local h = 0
    for _, v in ipairs(self.children[u]) do h = math.max(h, visit(v) + 1) end
    long[u], state[u] = h, 2
    return h
  end
  for id = 0, self.n - 1 do visit(id) end
  self._hs, self._hl = short, long
  return short, long
end

-- ------------------------------------------------------------------ reading a generated path

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- Reads the generated text (after the prompt) into statements and an answer:
--   {statements = {{src =, dst =, bad =}, ...}, answer = {subj =, dst =} | false | nil}
-- symbolic: "n1 n2 ... A t": each node word is a statement whose source is
--   implicit (the previous node; for the first one, see G:check_path); the
--   answer is the word after the last marker (nil without a marker).
-- words: the sentences before the first '#', "Every X is a Y." / "Name is a Y."
--   (src X or Name, dst Y); the answer is the sentence after the last '#'
--   (nil without one). An unknown name leaves src/dst nil; a sentence of
--   another form is bad; an answer that is not "Name is a Y." is false.
function G:read_output(text, marker)
  text = text or ""
  local st = {}
  if self.style == "symbolic" then
    local words = {}
    for w in text:gmatch("%S+") do words[#words + 1] = w end
    local last = 0
    for i = #words, 1, -1 do if words[i] == (marker or "A") then last = i; break end end
    local upto = last > 0 and last - 1 or #words
    for i = 1, upto do st[i] = {dst = self.id_of[words[i]], implicit = true, word = words[i]} end
    local answer
    if last > 0 then
      local w = words[last + 1]
      answer = w and self.id_of[w] and {subj = self.root, dst = self.id_of[w]} or false
    end
    return {statements = st, answer = answer}
  end
  local hash = text:find("#", 1, true)
  local chain = hash and text:sub(1, hash - 1) or text
  for sentence in chain:gmatch("[^%.\n]+") do
    local s = trim(sentence)
    if s ~= "" then
      local a, b = s:match("^Every%s+(%S+)%s+is%s+an?%s+(%S+)$")
      if not a then a, b = s:match("^(%S+)%s+is%s+an?%s+(%S+)$") end
      if a then
        st[#st + 1] = {src = self.id_of[a], dst = self.id_of[b], src_name = a, dst_name = b}
      else
        st[#st + 1] = {bad = true, text = s}
      end
    end
  end
  local answer
  if hash then
    local tail = trim(text:match(".*#(.*)$") or "")
    tail = tail:gsub("%.$", "")
    local a, b = tail:match("^(%S+)%s+is%s+an?%s+(%S+)$")
    answer = (a and self.id_of[a] and self.id_of[b]) and {subj = self.id_of[a], dst = self.id_of[b]} or false
  end
  return {statements = st, answer = answer}
end

-- Checks the statements as a path of the graph, k thoughts having been
-- spent before them. With k = 0 the path must start at the root (words: the
-- first sentence is "Root is a X."; symbolic: the first node is a child of
-- the root). With k > 0 it is a partial path (paper.md §5): valid when some
-- path from the root can complete it, i.e. its first source (words) is
-- reachable from the root, or its first node (symbolic) is reachable by at
-- least one edge; the shortest such completion is counted.
-- Returns {valid =, first_bad = (1-based statement, 0 = none), last = (the
-- last node written, or nil), completion = (edges the completion adds),
-- length = (completion + written edges)}; valid is nil with no statements.
function G:check_path(st, k)
  local r = {first_bad = 0}
  if #st == 0 then return r end
  local prev
  for i, s in ipairs(st) do
    local ok
    if s.bad or s.dst == nil or (not s.implicit and s.src == nil) then
      ok = false
    elseif i == 1 then
      if s.implicit then
        local d = self.from_root[s.dst]
        if k == 0 then ok = self:has_edge(self.root, s.dst) else ok = d ~= nil and d >= 1 end
        -- the written first edge u -> s.dst is implicit: root ... u takes d - 1 edges
        if ok then r.completion = d - 1 end
      else
        local d = self.from_root[s.src]
        ok = self:has_edge(s.src, s.dst) and (k == 0 and s.src == self.root or (k > 0 and d ~= nil))
        if ok then r.completion = d end
      end
    else
      local src = s.implicit and prev or s.src
      ok = src == prev and self:has_edge(prev, s.dst)
    end
    if not ok and r.first_bad == 0 then r.first_bad = i end
    prev = s.dst
    r.last = s.dst
  end
  r.valid = r.first_bad == 0
  if r.valid then r.length = r.completion + #st end
  return r
end

-- The category of one output (paper.md §5, Fig 5): mutually exclusive and
-- exhaustive, decided in this order:
--   no statements        correct_label / incorrect_label (by `correct`)
--   not a valid (partial) path, or an answer that does not name the path's
--   last node (for the root)                                 hallucination
--   the path ends elsewhere than the target                  wrong_target
--   it ends at the target: length (with the shortest completion) = D
--                                correct_path, else longer_path
-- Returns the category and the check (G:check_path) with `ends` (target |
-- neg_target | other | none: the last node written).
function G:classify(parsed, k, correct)
  local st = parsed.statements
  local r = self:check_path(st, k)
  r.ends = "none"
  if r.last ~= nil then
    r.ends = r.last == self.target and "target" or r.last == self.neg and "neg_target" or "other"
  elseif #st > 0 then
    r.ends = "other"
  end
  if #st == 0 then return correct and "correct_label" or "incorrect_label", r end
  if not r.valid then return "hallucination", r end
  local a = parsed.answer
  if a ~= nil and (a == false or a.dst ~= r.last or a.subj ~= self.root) then
    r.answer_mismatch = true
    return "hallucination", r
  end
  if r.last ~= self.target then return "wrong_target", r end
  return r.length == self.D and "correct_path" or "longer_path", r
end

-- ------------------------------------------------------------------ frontier values

-- The graph of a probe event (cached on the event, so probes share it), or
-- nil when the example has no ProsQA meta.
function G.of_event(ev)
  if ev._prosqa_graph ~= nil then return ev._prosqa_graph or nil end
  local g = false
  if ev.meta_json then
    local meta = coconut.json.decode(ev.meta_json)
    if meta and meta.edges and meta.root and meta.target then g = G.new(meta, ev.style) end
  end
  ev._prosqa_graph = g
  return g or nil
end

-- The depth of the frontier whose values the continuation after k thoughts
-- reads first, or nil: symbolic: the next token is the next path node, at
-- depth k + 1 (marker-less layout: after k latent slots the newest hidden
-- state is the (k+1)-th continuous thought, whose own distribution softmax(W h)
-- is read; the frontier loss trains exactly this token to lie at depth k + 1);
-- words: "Every [A] is a [B]." continues the chain after <|end-latent|>, and
-- A, the source of step k + 1, is at depth k (k >= 1; with k = 0 the chain
-- starts "Root is a [B]", no frontier reading).
function G.reading_depth(style, k)
  if style == "symbolic" then return k + 1 end
  if k >= 1 then return k end
  return nil
end

-- Frontier values after ev's prompt (paper.md §5, Fig 7): for each node of the
-- frontier at G.reading_depth, the probability that the continuation names it
-- next: symbolic: p(node token); words: the product of the probabilities of
-- the name's tokens after "Every" (the prompt, <|end-latent|>, "Every", then
-- each token given the previous ones). Returns depth, list of {id, value,
-- logp, parents} ascending by id; nil when there is no reading. Cached on ev.
function G.frontier_values(ev, g)
  if ev._frontier == false then return nil end
  if ev._frontier ~= nil then return ev._frontier.depth, ev._frontier.nodes end
  g = g or G.of_event(ev)
  local depth = g and G.reading_depth(g.style, ev.k or 0)
  local nodes = depth and g:frontier(depth) or {}
  if #nodes == 0 then ev._frontier = false; return nil end
  local seqs, skip = {}, 0
  if g.style == "symbolic" then
    for i, f in ipairs(nodes) do
      local ids = ev.encode(g.tokens[f.id])
      if #ids ~= 1 then
        error(string.format("frontier: node %d ('%s') is not one token in the symbolic rendering", f.id, g.tokens[f.id]), 0)
      end
      seqs[i] = ids
    end
  else
    local pre = ev.encode("Every")
    skip = #pre
    for i, f in ipairs(nodes) do
      local ids = ev.encode("Every " .. g.names[f.id])
      for q = 1, skip do
        if ids[q] ~= pre[q] then
          error(string.format("frontier: the tokens of 'Every %s' do not start with those of 'Every'", g.names[f.id]), 0)
        end
      end
      if #ids <= skip then error("frontier: node " .. f.id .. " has an empty name", 0) end
      seqs[i] = ids
    end
  end
  local lps = ev.continuation_logprob(seqs)
  for i, f in ipairs(nodes) do
    local s = 0
    for q = skip + 1, #lps[i] do s = s + lps[i][q] end
    f.logp, f.value = s, math.exp(s)
  end
  ev._frontier = {depth = depth, nodes = nodes}
  return depth, nodes
end

return G
