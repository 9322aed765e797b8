-- paths.lua — probe plugin "paths": is a generated reasoning path a path of the graph?
--
-- For ProsQA in symbolic form (one token per node; dataset meta with edges,
-- root, target, neg_target and node_tokens). The generated text is read as
-- `n1 n2 ... nk A answer`: the nodes before the last answer marker are the
-- path, which should start at a child of the root and follow edges. This is
-- the check that tells a CoT model that fails by choosing the wrong branch
-- (every edge exists, the path ends elsewhere) from one that is merely
-- under-trained (it writes edges the graph does not have).
--
-- Per example: path length, whether every step is an edge (from the root
-- on), the 1-based index of the first bad step (0 when none), where the path
-- ends (target | neg_target | other | none) and the answer's correctness.
-- After each pass a "summary" row: n, share with a path, share of paths that
-- are valid, share of wrong answers whose path is valid (wrong branch), share
-- of wrong answers with an invalid step. Outputs with no path (Coconut,
-- No-CoT) get path_len 0 and empty validity cells.
-- (Rows are written whole: empty cells are "".)
local P = {
  kind = "probe",
  name = "paths",
  doc = "ProsQA symbolic: validity of the generated node path (edges exist from the root) and how wrong answers fail",
  options = {
    { name = "marker", type = "string", default = "A", doc = "answer marker that ends the path" },
  },
}


function P.columns(self)
  return { "index", "correct", "path_len", "valid", "first_bad", "ends", "summary_n", "has_path", "valid_share",
           "wrong_valid_share", "wrong_invalid_share" }
end

function P.wants(self) return {} end

local function reset(self)
  self.acc = { n = 0, has_path = 0, valid = 0, wrong = 0, wrong_valid = 0, wrong_invalid = 0 }
end

function P.create(opts)
  local self = { marker = opts.marker }
  reset(self)
  return self
end

-- Parses the output against the graph; returns path_len, valid (bool|nil), first_bad, ends.
function P.check(meta, text, marker)
  local words = {}
  for w in (text or ""):gmatch("%S+") do words[#words + 1] = w end
  local last = 0
  for i = #words, 1, -1 do if words[i] == marker then last = i; break end end
  local upto = last > 0 and last - 1 or #words
  if upto == 0 then return 0, nil, 0, "none" end
  local id_of = {}
  for id, name in ipairs(meta.node_tokens) do id_of[name] = id - 1 end
  local edge = {}
  for _, e in ipairs(meta.edges) do edge[e[1] .. ">" .. e[2]] = true end
  local prev, first_bad = meta.root, 0
  local last_id
  for i = 1, upto do
    local id = id_of[words[i]]
    if first_bad == 0 and (id == nil or not edge[prev .. ">" .. id]) then first_bad = i end
    prev, last_id = id or -1, id
  end
  local ends = last_id == meta.target and "target" or last_id == meta.neg_target and "neg_target" or "other"
  return upto, first_bad == 0, first_bad, ends
end

function P.on_example(self, ev, emit)
  local a = self.acc
  a.n = a.n + 1
  if not ev.correct then a.wrong = a.wrong + 1 end
  local meta = ev.meta_json and coconut.json.decode(ev.meta_json)
  if not (meta and meta.edges and meta.node_tokens) then
    emit({ ev.index, ev.correct and 1 or 0, 0, "", "", "none", "", "", "", "", "" })
    return
  end
  local len, valid, first_bad, ends = P.check(meta, ev.output_text, self.marker)
  if len > 0 then
    a.has_path = a.has_path + 1
    if valid then a.valid = a.valid + 1 end
    if not ev.correct then
      if valid then a.wrong_valid = a.wrong_valid + 1 else a.wrong_invalid = a.wrong_invalid + 1 end
    end
  end
  emit({ ev.index, ev.correct and 1 or 0, len, len > 0 and (valid and 1 or 0) or "", len > 0 and first_bad or "", ends,
         "", "", "", "", "" })
end

function P.on_end(self, split, epoch, stage, emit)
  local a = self.acc
  if a.n > 0 then
    local function share(x, n) return n > 0 and x / n or "" end
    emit({ "summary", "", "", "", "", "", a.n, share(a.has_path, a.n), share(a.valid, a.has_path),
           share(a.wrong_valid, a.wrong), share(a.wrong_invalid, a.wrong) })
  end
  reset(self)
end

return P
