-- height.lua — probe plugin "height": frontier values against node height
-- (paper.md §5, Fig 9). The paper defines a node's height as the shortest
-- distance to a leaf in its text and as the longest in its caption; both are
-- written, and the figure plots the text's (height_shortest). Nodes are split
-- by whether they can reach the target. Values are those of the "frontier"
-- probe (coco.prosqa_graph G.frontier_values; which depth a pass reads is
-- explained in frontier.lua).
--
-- CSV columns (one row per frontier node; the host prefixes split, epoch, stage):
--   k                thoughts before <|end-latent|>
--   index            the example's 0-based index
--   depth            the frontier's depth (1 = the root's children)
--   node             the node as written (symbolic token / words name)
--   node_id          its index in the dataset's graph
--   value            its value
--   height_shortest  shortest distance to a leaf (a node without children: 0)
--   height_longest   longest distance to a leaf
--   reaches_target   1 if the target is reachable from it (or it is the target), else 0
local G = require "coco.prosqa_graph"

local P = {
  kind = "probe",
  name = "height",
  doc = "ProsQA: frontier node value vs height (shortest and longest distance to a leaf), reaches-target split (Fig 9)",
  options = {},
}

function P.create(opts) return {} end

function P.columns(self)
  return { "k", "index", "depth", "node", "node_id", "value", "height_shortest", "height_longest", "reaches_target" }
end

function P.wants(self) return {} end

function P.on_example(self, ev, emit)
  local g = G.of_event(ev)
  if not g then return end
  local depth, nodes = G.frontier_values(ev, g)
  if not depth then return end
  local short, long = g:heights()
  for _, f in ipairs(nodes) do
    emit({ ev.k, ev.index, depth, g.tokens[f.id], f.id, f.value, short[f.id], long[f.id],
           g:reaches_target(f.id) and 1 or 0 })
  end
end

return P
