-- frontier.lua — probe plugin "frontier": the latent search tree (paper.md §5,
-- Fig 7): after k thoughts and a forced <|end-latent|>, the value of each
-- frontier node = the probability that the continuation names it next.
--
-- Which frontier, and how it is read (coco.prosqa_graph G.reading_depth,
-- G.frontier_values, through the host's ev.continuation_logprob):
--   words     the chain continues "Every [A] is a [B].": A is the source of
--             step k+1, so the frontier at depth k (k = 1: the root's children,
--             k = 2: its grandchildren); value(A) = product of the probabilities
--             of A's tokens after the prompt, <|end-latent|> and "Every". No
--             reading at k = 0 (the chain then starts "Root is a ...").
--   symbolic  the next token is the next path node, at depth k+1; its value is
--             that one token's probability. In the marker-less layout (the
--             cpu preset) the first continuous thought is the hidden state over
--             the question's last token, so the newest hidden state after k
--             latent slots is thought k+1 and its own distribution softmax(W h)
--             is read: the frontier loss trains exactly this token to be a node
--             at depth k+1. So depth d is "after d thoughts" there, read with
--             k = d-1 latent slots: the figures select rows by depth (1: the
--             first thought, 2: the second), never by k.
-- Frontier at depth d: the nodes a walk of exactly d edges from the root
-- reaches (children of the depth d-1 frontier).
--
-- CSV columns (one row per frontier node; the host prefixes split, epoch, stage):
--   k                 thoughts before <|end-latent|> (latent slots)
--   index             the example's 0-based index
--   depth             the frontier's depth (1 = the root's children)
--   node              the node as the rendering writes it (symbolic token / words name)
--   node_id           its index in the dataset's graph
--   value             its probability (product over its tokens in the words rendering)
--   on_shortest_path  1 if it lies on a shortest root -> target path, else 0
--   reaches_target    1 if the target is reachable from it (or it is the target), else 0
--   parents           node_ids of the depth-1 frontier with an edge to it, space-separated (the root at depth 1)
--   correct           1 if the example's answer in this pass is right
local G = require "coco.prosqa_graph"

local P = {
  kind = "probe",
  name = "frontier",
  doc = "ProsQA: value of each frontier node after k thoughts (Fig 7), one row per node",
  options = {},
}

function P.create(opts) return {} end

function P.columns(self)
  return { "k", "index", "depth", "node", "node_id", "value", "on_shortest_path", "reaches_target", "parents", "correct" }
end

function P.wants(self) return {} end

-- Rows of one event (also used by the tests on hand-made events).
function P.rows(ev)
  local g = G.of_event(ev)
  if not g then return {} end
  local depth, nodes = G.frontier_values(ev, g)
  local rows = {}
  for _, f in ipairs(nodes or {}) do
    local parents = {}
    for i, p in ipairs(f.parents) do parents[i] = tostring(p) end
    rows[#rows + 1] = { ev.k, ev.index, depth, g.tokens[f.id], f.id, f.value, g:on_shortest(f.id) and 1 or 0,
                        g:reaches_target(f.id) and 1 or 0, table.concat(parents, " "), ev.correct and 1 or 0 }
  end
  return rows
end

function P.on_example(self, ev, emit)
  for _, r in ipairs(P.rows(ev)) do emit(r) end
end

return P
