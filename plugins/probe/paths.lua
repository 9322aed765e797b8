-- paths.lua — probe plugin "paths": the reasoning-path category of every
-- generated output (paper.md §5, Fig 5 right panel), for ProsQA in either
-- rendering (words: "Every X is a Y." / "Tom is a X." sentences; symbolic: node
-- tokens before the answer marker).
--
-- Each output after k thoughts (ev.k; the --analysis_k sweep forces
-- <|end-latent|> after k, the model then continues in language) falls in
-- exactly one of the paper's six categories (coco.prosqa_graph G:classify):
--   correct_label / incorrect_label  no path written, only the answer (right / wrong)
--   hallucination    a statement is not an edge, names an unknown node, the path
--                    is disconnected, nothing from the root can complete it, or
--                    the answer does not name the path's last node
--   wrong_target     a valid path that ends elsewhere than the target
--   correct_path     a valid path to the target whose length, with the shortest
--                    completion from the root, is the shortest distance D
--   longer_path      the same, longer than D
-- Partial paths (k > 0): the paper's rule, "a Correct Path if a valid
-- explanation can complete it": any path from the root may precede the written
-- one (its shortest completion is counted in `length`). With k = 0 (CoT, No-CoT,
-- Coconut's k = 0 pass) the path must start at the root.
--
-- CSV columns (one row per example and pass; the host prefixes split, epoch, stage):
--   k            thoughts before <|end-latent|> (the event's ev.k)
--   index        the example's 0-based index in its split
--   correct      1 if the answer is right (the official exact match), else 0
--   category     one of the six above
--   path_len     statements (edges) written before the answer
--   valid        1 / 0: every statement an edge of a path the root can reach; "" without a path
--   first_bad    1-based statement that breaks the path (0: none); "" without a path
--   ends         target | neg_target | other | none: the last node written
--   completion   edges a completion from the root adds before the written path ("" if invalid)
--   length       completion + path_len ("" if invalid)
--   shortest     D, the shortest root -> target distance
-- P.check(meta, text, marker) is the earlier edge check (symbolic, from the
-- root), kept for its callers: path_len, valid, first_bad, ends.
local G = require "coco.prosqa_graph"

local P = {
  kind = "probe",
  name = "paths",
  doc = "ProsQA: the paper's six reasoning-path categories (Fig 5) of each output, k thoughts, partial paths, both renderings",
  options = {
    { name = "marker", type = "string", default = "A", doc = "symbolic rendering: the answer marker that ends the path" },
  },
}

function P.create(opts) return { marker = opts.marker } end

function P.columns(self)
  return { "k", "index", "correct", "category", "path_len", "valid", "first_bad", "ends", "completion", "length",
           "shortest" }
end

function P.wants(self) return {} end

-- The category row of one output: graph g, generated text, k thoughts, correct.
function P.row(g, text, k, correct, marker)
  local parsed = g:read_output(text, marker)
  local cat, r = g:classify(parsed, k, correct)
  local has = #parsed.statements > 0
  return cat, {correct and 1 or 0, cat, #parsed.statements, has and (r.valid and 1 or 0) or "", has and r.first_bad or "",
               r.ends, r.length and r.completion or "", r.length or "", g.D or ""}
end

-- The earlier check: path_len, valid (nil without a path), first_bad, ends.
function P.check(meta, text, marker)
  local g = G.new(meta, "symbolic")
  local st = g:read_output(text, marker).statements
  if #st == 0 then return 0, nil, 0, "none" end
  local r = g:check_path(st, 0)
  local last = st[#st].dst
  return #st, r.valid, r.first_bad, last == g.target and "target" or last == g.neg and "neg_target" or "other"
end

function P.on_example(self, ev, emit)
  local g = G.of_event(ev)
  if not g then
    emit({ ev.k or "", ev.index, ev.correct and 1 or 0, "", "", "", "", "none", "", "", "" })
    return
  end
  local _, row = P.row(g, ev.output_text, ev.k or 0, ev.correct, self.marker)
  table.insert(row, 1, ev.index)
  table.insert(row, 1, ev.k or "")
  emit(row)
end

return P
