-- decode.lua — probe plugin "decode": what each continuous thought says when
-- read through the language-model head (paper.md §5, Fig 4): the top-k tokens
-- of softmax(W h) for every thought h (W the tied token embedding), from the
-- host's ev.decode_thoughts. For ProsQA examples a token that writes a graph
-- node is marked with the node's distance from the root, so one can see a
-- thought spreading its mass over a frontier (in the marker-less layout,
-- thought t's own distribution is the one trained to name a node at depth t).
--
-- CSV columns (one row per thought and rank; the host prefixes split, epoch, stage):
--   k                 thoughts in this pass (ev.k)
--   index             the example's 0-based index
--   thought           1-based thought (1 = the first continuous thought)
--   rank              1 = the most probable token
--   token_id          the token's id
--   token             its text
--   prob              its probability under softmax(W h)
--   node_id           the graph node the token writes ("" if none; words: a
--                     token equal to a node's name, symbolic: a node token)
--   depth             that node's BFS distance from the root ("" if none or unreachable)
--   on_shortest_path  1 / 0 for a node ("" otherwise)
--   reaches_target    1 / 0 for a node ("" otherwise)
local G = require "coco.prosqa_graph"

local P = {
  kind = "probe",
  name = "decode",
  doc = "top-k tokens of softmax(W h) for every continuous thought (Fig 4), with the graph node they name",
  options = {
    { name = "topk", type = "int", default = 5, doc = "tokens kept per thought" },
  },
}

function P.create(opts)
  if opts.topk < 1 then error("decode: topk must be >= 1, got " .. opts.topk) end
  return { topk = opts.topk }
end

function P.columns(self)
  return { "k", "index", "thought", "rank", "token_id", "token", "prob", "node_id", "depth", "on_shortest_path",
           "reaches_target" }
end

function P.wants(self) return { thoughts = true } end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

function P.on_example(self, ev, emit)
  local g = G.of_event(ev)
  for t, tops in ipairs(ev.decode_thoughts(self.topk)) do
    for r, x in ipairs(tops) do
      local id = g and g.id_of[trim(x.token)]
      local row = { ev.k, ev.index, t, r, x.id, x.token, x.prob, "", "", "", "" }
      if id then
        row[8], row[9] = id, g.from_root[id] or ""
        row[10], row[11] = g:on_shortest(id) and 1 or 0, g:reaches_target(id) and 1 or 0
      end
      emit(row)
    end
  end
end

return P
