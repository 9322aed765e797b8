-- parallelism.lua — probe plugin "parallelism": how many frontier nodes a
-- thought keeps alive (paper.md §5, Fig 8). Per example, the frontier values
-- (as the "frontier" probe reads them: coco.prosqa_graph G.frontier_values)
-- sorted from the largest, with their running sum: the cumulative top-1, top-2
-- and top-3 values are the `cumulative` of ranks 1, 2 and 3 (with fewer nodes,
-- the last rank's sum). The figure script sorts each rank's cumulative value
-- over the test set and plots it against its percentile, one panel for the
-- first thought (depth 1) and one for the second (depth 2).
--
-- CSV columns (one row per frontier node and example, ranked; the host
-- prefixes split, epoch, stage):
--   k           thoughts before <|end-latent|>
--   index       the example's 0-based index
--   depth       the frontier's depth (1 = the root's children; see frontier.lua)
--   n_frontier  nodes in that frontier
--   rank        1 = the largest value
--   node        the node as written (symbolic token / words name)
--   value       its value
--   cumulative  the sum of the values of ranks 1..rank
local G = require "coco.prosqa_graph"

local P = {
  kind = "probe",
  name = "parallelism",
  doc = "ProsQA: sorted frontier values per example and their cumulative sums (Fig 8)",
  options = {},
}

function P.create(opts) return {} end

function P.columns(self)
  return { "k", "index", "depth", "n_frontier", "rank", "node", "value", "cumulative" }
end

function P.wants(self) return {} end

-- Sorted values of one frontier: {{node =, value =, cumulative =}, ...} by value
-- descending (ties: ascending node id, so rows are deterministic).
function P.ranked(nodes, g)
  local list = {}
  for i, f in ipairs(nodes) do list[i] = f end
  table.sort(list, function(a, b)
    if a.value ~= b.value then return a.value > b.value end
    return a.id < b.id
  end)
  local out, sum = {}, 0
  for r, f in ipairs(list) do
    sum = sum + f.value
    out[r] = {node = g and g.tokens[f.id] or f.id, value = f.value, cumulative = sum}
  end
  return out
end

function P.on_example(self, ev, emit)
  local g = G.of_event(ev)
  if not g then return end
  local depth, nodes = G.frontier_values(ev, g)
  if not depth then return end
  for r, x in ipairs(P.ranked(nodes, g)) do
    emit({ ev.k, ev.index, depth, #nodes, r, x.node, x.value, x.cumulative })
  end
end

return P
